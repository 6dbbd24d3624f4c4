package edge

import "errors"

var (
	// ErrBadPlaylist: the origin answered a playlist request with something that is
	// not a valid playlist. Nothing is cached; viewers get 502.
	ErrBadPlaylist = errors.New("edge: origin sent an invalid playlist")
	// ErrPlaylistTooLarge: the origin's playlist exceeds PlaylistMaxBytes.
	ErrPlaylistTooLarge = errors.New("edge: origin playlist too large")
)
