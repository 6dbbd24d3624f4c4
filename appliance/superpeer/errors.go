package superpeer

import "errors"

var (
	// ErrProtocol wraps every malformed data-channel message.
	ErrProtocol = errors.New("superpeer: protocol error")
	// ErrNoSegment means the requested segment is not in the stream's window.
	ErrNoSegment = errors.New("superpeer: no such segment")
	// ErrTooManyPeers means the box refused an offer at its peer limit.
	ErrTooManyPeers = errors.New("superpeer: too many peers")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("superpeer: closed")
	// ErrNotPlaylist means a stream's URL did not give a multivariant playlist.
	ErrNotPlaylist = errors.New("superpeer: not a multivariant playlist")
)
