package hls

import (
	"strconv"
	"time"
)

// uriTags are the tags whose attribute list may carry a URI attribute. Both
// parsers insist that their attribute lists parse, and so does Rewrite, so a
// playlist that parses can always be rewritten.
var uriTags = map[string]bool{
	"EXT-X-KEY":                true,
	"EXT-X-MAP":                true,
	"EXT-X-PART":               true,
	"EXT-X-PRELOAD-HINT":       true,
	"EXT-X-RENDITION-REPORT":   true,
	"EXT-X-MEDIA":              true,
	"EXT-X-STREAM-INF":         true,
	"EXT-X-I-FRAME-STREAM-INF": true,
	"EXT-X-SESSION-DATA":       true,
	"EXT-X-SESSION-KEY":        true,
}

// plainTags have a value that is not an attribute list; Rewrite leaves them
// alone even when the value looks like one (an EXTINF title may say URI="x").
var plainTags = map[string]bool{
	"EXTM3U":                       true,
	"EXTINF":                       true,
	"EXT-X-VERSION":                true,
	"EXT-X-TARGETDURATION":         true,
	"EXT-X-MEDIA-SEQUENCE":         true,
	"EXT-X-DISCONTINUITY-SEQUENCE": true,
	"EXT-X-PLAYLIST-TYPE":          true,
	"EXT-X-BYTERANGE":              true,
	"EXT-X-PROGRAM-DATE-TIME":      true,
	"EXT-X-BITRATE":                true,
}

// tagAttrs parses the attribute list of tag name on line num.
func tagAttrs(num int, name, value string) ([]attr, error) {
	attrs, reason := parseAttrs(value)
	if reason != "" {
		return nil, syntaxErr(num, "%s: %s", name, reason)
	}
	return attrs, nil
}

// needURI returns the URI attribute that tag name requires.
func needURI(num int, name string, attrs []attr) (string, error) {
	uri, _ := lookup(attrs, "URI")
	if uri == "" {
		return "", syntaxErr(num, "%s without URI", name)
	}
	return uri, nil
}

// secondsAttr parses an optional decimal-floating-point attribute; absent
// means 0.
func secondsAttr(num int, attrs []attr, name string) (time.Duration, error) {
	v, ok := lookup(attrs, name)
	if !ok {
		return 0, nil
	}
	d, ok := parseSeconds(v)
	if !ok {
		return 0, syntaxErr(num, "bad %s", name)
	}
	return d, nil
}

// intAttr parses an optional non-negative decimal-integer attribute.
func intAttr(num int, attrs []attr, name string) (int64, error) {
	v, ok := lookup(attrs, name)
	if !ok {
		return 0, nil
	}
	n, ok := parseInt64(v)
	if !ok {
		return 0, syntaxErr(num, "bad %s", name)
	}
	return n, nil
}

// parseVersion parses EXT-X-VERSION; versions are small (12 in 2024).
func parseVersion(s string) (int, bool) {
	v, err := strconv.ParseUint(trimLine(s), 10, 16)
	return int(v), err == nil
}
