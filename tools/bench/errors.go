package bench

import "errors"

var (
	// ErrConfig reports a parameter that cannot go into a config or command line.
	ErrConfig = errors.New("bench: invalid config")
	// ErrNotLoopback reports a listen address outside 127.0.0.1 and ::1.
	ErrNotLoopback = errors.New("bench: address is not loopback")
	// ErrWrkOutput reports wrk output that lacks the figures the comparison needs.
	ErrWrkOutput = errors.New("bench: unexpected wrk output")
	// ErrNotReady reports a service that did not answer within its start-up time.
	ErrNotReady = errors.New("bench: service not ready")
	// ErrExited reports a child process that exited while it should be serving.
	ErrExited = errors.New("bench: process exited")
)
