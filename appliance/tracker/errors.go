package tracker

import "errors"

var (
	// ErrBadMessage wraps every reason a message was rejected by the parser.
	ErrBadMessage = errors.New("tracker: bad message")
	// ErrClosed is returned by a connection or client after Close.
	ErrClosed = errors.New("tracker: closed")
	// ErrNotBinaryString means a JSON string held a code point above 255.
	ErrNotBinaryString = errors.New("tracker: not a binary string")
	// ErrRefused means the peer is not of this site (or its group is off).
	ErrRefused = errors.New("tracker: peer not of this site")
	// ErrSlowConsumer means a peer did not read its messages and was dropped.
	ErrSlowConsumer = errors.New("tracker: peer too slow to read")
	// ErrFailure is a {"failure reason": ...} answer from the tracker (client side).
	ErrFailure = errors.New("tracker: failure")
)
