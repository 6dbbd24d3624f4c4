package origin

import (
	"errors"
	"fmt"
	"net/http"
)

var (
	// ErrUnknownOrigin means the origin name is not in the Set (the edge answers 404).
	ErrUnknownOrigin = errors.New("unknown origin")
	// ErrBadPath means a LAN request path or query cannot be mapped to an upstream URL
	// safely: traversal, encoded separators, control bytes, absolute URLs (400).
	ErrBadPath = errors.New("bad path")
	// ErrInvalidOrigin means an origin of the site config fails validation in NewSet.
	ErrInvalidOrigin = errors.New("invalid origin")
	// ErrNotAllowed means an outbound request's URL is not under any configured origin.
	ErrNotAllowed = errors.New("url not under a configured origin")
	// ErrTimeout means the origin did not send response headers, or stalled in the
	// body, for longer than the configured timeout (or the caller's deadline passed).
	ErrTimeout = errors.New("origin timeout")
	// ErrTooLarge means the object is larger than Client.MaxObjectBytes.
	ErrTooLarge = errors.New("object too large")
)

// StatusError is the error for a non-2xx origin response. Match it with errors.As.
type StatusError struct {
	Code   int    // HTTP status code sent by the origin
	Origin string // origin name
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("origin %s: status %d %s", e.Origin, e.Code, http.StatusText(e.Code))
}

// Causes of an attempt's cancellation; both match ErrTimeout.
var (
	errHeaderTimeout = fmt.Errorf("waiting for response headers: %w", ErrTimeout)
	errIdleTimeout   = fmt.Errorf("response body stalled: %w", ErrTimeout)
)
