package hls

import (
	"errors"
	"fmt"
)

var (
	// ErrNotPlaylist means the input does not start with #EXTM3U (after an
	// optional UTF-8 byte order mark and blank lines).
	ErrNotPlaylist = errors.New("not an HLS playlist: no #EXTM3U header")

	// ErrMalformed means the input is a playlist that breaks the syntax this
	// package accepts. Errors wrapping it are usually a *SyntaxError that
	// names the line.
	ErrMalformed = errors.New("malformed playlist")

	// ErrWrongKind means a Media Playlist was given to ParseMultivariant or a
	// Multivariant Playlist to ParseMedia.
	ErrWrongKind = errors.New("wrong playlist kind")

	// ErrBadURI means a Rewrite function returned a URI that cannot be written
	// back into the playlist (a line break, or a double quote inside a quoted
	// attribute, or an empty URI line).
	ErrBadURI = errors.New("rewritten URI cannot be written into a playlist")
)

// SyntaxError reports where a playlist is malformed. It wraps ErrMalformed.
type SyntaxError struct {
	Line   int    // 1-based line number; 0 when the problem is not on one line
	Reason string // short description, such as "EXTINF without URI"
}

func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return "hls: " + e.Reason
	}
	return fmt.Sprintf("hls: line %d: %s", e.Line, e.Reason)
}

// Unwrap makes errors.Is(err, ErrMalformed) true.
func (e *SyntaxError) Unwrap() error { return ErrMalformed }

func syntaxErr(line int, format string, args ...any) error {
	return &SyntaxError{Line: line, Reason: fmt.Sprintf(format, args...)}
}
