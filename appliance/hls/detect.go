package hls

import "fmt"

// Kind tells a Media Playlist from a Multivariant Playlist.
type Kind int

const (
	// KindMedia is a Media Playlist: a list of media segments.
	KindMedia Kind = iota + 1
	// KindMultivariant is a Multivariant (master) Playlist: a list of
	// variant streams and renditions.
	KindMultivariant
)

func (k Kind) String() string {
	switch k {
	case KindMedia:
		return "media"
	case KindMultivariant:
		return "multivariant"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Tags that only one kind of playlist carries. Weaker hints (EXT-X-KEY,
// EXT-X-SESSION-DATA, ...) are not used, so that a stray tag does not make a
// valid playlist ambiguous.
var (
	mediaOnlyTags = map[string]bool{
		"EXTINF":                 true,
		"EXT-X-TARGETDURATION":   true,
		"EXT-X-PART":             true,
		"EXT-X-MEDIA-SEQUENCE":   true,
		"EXT-X-ENDLIST":          true,
		"EXT-X-PLAYLIST-TYPE":    true,
		"EXT-X-PART-INF":         true,
		"EXT-X-I-FRAMES-ONLY":    true,
		"EXT-X-SERVER-CONTROL":   true,
		"EXT-X-PRELOAD-HINT":     true,
		"EXT-X-SKIP":             true,
		"EXT-X-RENDITION-REPORT": true,
	}
	multivariantOnlyTags = map[string]bool{
		"EXT-X-STREAM-INF":         true,
		"EXT-X-I-FRAME-STREAM-INF": true,
		"EXT-X-MEDIA":              true,
	}
)

// Detect tells which kind of playlist data holds. It fails with
// ErrNotPlaylist when data does not start with #EXTM3U (a UTF-8 byte order
// mark and blank lines may come first), and with ErrMalformed when data has
// tags of both kinds or of neither.
func Detect(data []byte) (Kind, error) {
	k, err := detect(string(data))
	if err != nil {
		return 0, wrapDetect(err)
	}
	return k, nil
}

func wrapDetect(err error) error {
	if _, ok := err.(*SyntaxError); ok {
		return err // already says "hls: line N: ..."
	}
	return fmt.Errorf("hls: detect playlist kind: %w", err)
}

func detect(s string) (Kind, error) {
	r, err := openPlaylist(s)
	if err != nil {
		return 0, err
	}
	var kind Kind
	for {
		start, end, ok := r.next()
		if !ok {
			break
		}
		line := trimLine(s[start:end])
		if !isTag(line) {
			continue
		}
		name, _, _, _ := splitTag(line)
		var k Kind
		switch {
		case mediaOnlyTags[name]:
			k = KindMedia
		case multivariantOnlyTags[name]:
			k = KindMultivariant
		default:
			continue
		}
		if kind != 0 && k != kind {
			return 0, syntaxErr(r.num, "%s in a %s playlist", name, kind)
		}
		kind = k
	}
	if kind == 0 {
		return 0, syntaxErr(0, "neither media nor multivariant playlist tags")
	}
	return kind, nil
}
