package sibling

import "errors"

var (
	// ErrOwnerStatus: the owner answered with a status other than 200.
	ErrOwnerStatus = errors.New("owner sibling answered with an error status")
	// ErrUnknownPeer: a TLS peer's key is not the expected one, or belongs to no
	// verified sibling.
	ErrUnknownPeer = errors.New("peer key is not a verified sibling's")
)
