package viewerload

import "errors"

var (
	// ErrConfig reports a Config that cannot run (no URL, too many viewers, too long).
	ErrConfig = errors.New("viewerload: invalid config")
	// ErrNotPlaylist reports a body that does not start with #EXTM3U.
	ErrNotPlaylist = errors.New("viewerload: not an HLS playlist")
	// ErrMalformed reports a playlist line that cannot be parsed.
	ErrMalformed = errors.New("viewerload: malformed playlist")
	// ErrNoVariant reports a variant index that the multivariant playlist does not have.
	ErrNoVariant = errors.New("viewerload: no such variant")
	// ErrStatus reports an HTTP response whose status is not 200 OK.
	ErrStatus = errors.New("viewerload: unexpected HTTP status")
	// ErrOutsideOrigin reports an origin segment URL that the probe cannot map to the edge.
	ErrOutsideOrigin = errors.New("viewerload: segment outside the origin playlist directory")
)
