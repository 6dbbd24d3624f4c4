package discovery

import "errors"

// Reasons a sibling record is ignored; Stats counts each by its text.
var (
	// ErrMalformed: the TXT strings do not form a record.
	ErrMalformed = errors.New("malformed")
	// ErrUnsigned: the record has no certificate or no signature.
	ErrUnsigned = errors.New("unsigned")
	// ErrForeignSite: the certificate is not signed by this site's key or names
	// another site.
	ErrForeignSite = errors.New("foreign_site")
	// ErrBadSignature: the box key's signature over the record does not verify, or
	// the record's ids differ from its certificate's.
	ErrBadSignature = errors.New("bad_signature")
	// ErrExpired: the certificate is expired or not yet valid.
	ErrExpired = errors.New("expired")
	// ErrStale: the record's timestamp is outside the window around now.
	ErrStale = errors.New("stale")
	// ErrReplayed: the record's timestamp is not newer than the last one seen from
	// that box.
	ErrReplayed = errors.New("replayed")
)

// ErrNoInterfaces: no usable multicast interface was found or configured.
var ErrNoInterfaces = errors.New("no multicast LAN interface")
