package identity

import "errors"

var (
	// ErrCorruptKey: a key file exists but does not hold an ed25519 private key.
	// The box never replaces it with a new identity by itself.
	ErrCorruptKey = errors.New("corrupt key file")
	// ErrBadPublicKey: text that should name an ed25519 public key does not.
	ErrBadPublicKey = errors.New("not an ed25519 public key")
	// ErrMalformed: certificate bytes that do not decode.
	ErrMalformed = errors.New("malformed box certificate")
	// ErrBadSignature: the certificate was not signed by the given site key.
	ErrBadSignature = errors.New("box certificate not signed by the site key")
	// ErrWrongSite: the certificate names another site id.
	ErrWrongSite = errors.New("box certificate is for another site")
	// ErrExpired: the certificate's validity ended.
	ErrExpired = errors.New("box certificate expired")
	// ErrNotYetValid: the certificate's validity has not begun.
	ErrNotYetValid = errors.New("box certificate not yet valid")
	// ErrBadID: a box or site id outside [A-Za-z0-9._-]{1,63}.
	ErrBadID = errors.New("bad id")
)
