package capture

import (
	"errors"
	"fmt"
)

var (
	// ErrFilterSyntax means the filter expression does not parse. The error is a
	// *SyntaxError that names the position.
	ErrFilterSyntax = errors.New("bad filter syntax")
	// ErrFilterTooComplex means the filter compiles to more instructions than the
	// kernel accepts (4096).
	ErrFilterTooComplex = errors.New("filter too complex")
	// ErrBounds means a capture bound (duration, packets, bytes, snaplen) is negative
	// or above its hard maximum.
	ErrBounds = errors.New("capture bound out of range")
	// ErrPermission means the process may not open a packet socket (needs root or
	// CAP_NET_RAW).
	ErrPermission = errors.New("capture needs root (CAP_NET_RAW)")
	// ErrNoInterface means the named interface does not exist.
	ErrNoInterface = errors.New("no such interface")
	// ErrInterfaceNotAllowed means the handler's configuration does not list the
	// interface.
	ErrInterfaceNotAllowed = errors.New("interface not allowed")
	// ErrBusy means the handler already runs as many captures as it allows.
	ErrBusy = errors.New("too many captures in progress")
	// ErrUnsupported means packet capture is not implemented on this OS (Linux only).
	ErrUnsupported = errors.New("packet capture is only supported on Linux")
)

// SyntaxError is a filter parse error. Pos is the byte offset (0-based) of the
// offending token in Filter; Error reports it 1-based as a column.
type SyntaxError struct {
	Filter string
	Pos    int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("bad filter at column %d: %s", e.Pos+1, e.Msg)
}

// Unwrap makes a SyntaxError match ErrFilterSyntax.
func (e *SyntaxError) Unwrap() error { return ErrFilterSyntax }
