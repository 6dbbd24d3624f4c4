package cache

import "errors"

var (
	// ErrIncomplete is returned by [Handle.Open] when the object is not (yet)
	// fully stored and verified.
	ErrIncomplete = errors.New("cache: object incomplete")
	// ErrFillFailed wraps every failure of a fill: the FillFunc's error, a
	// body that broke off or did not match its declared size, a write error.
	// The FillFunc's own error stays in the chain for errors.Is and errors.As.
	ErrFillFailed = errors.New("cache: fill failed")
	// ErrClosed is returned by a closed Cache, and wrapped by fills that the
	// Close cancelled.
	ErrClosed = errors.New("cache: closed")
	// ErrTooLarge is wrapped when a fill of unknown size grows beyond
	// MaxBytes, and by [Handle.Open] for an object that was streamed to its
	// waiters but was too large to keep.
	ErrTooLarge = errors.New("cache: object larger than the cache")
)
