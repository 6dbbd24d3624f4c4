package hls

import (
	"fmt"
	"strings"
)

// Rewrite returns data with every URI passed through fn: each URI line and
// each URI="..." attribute of any tag, known or not (EXT-X-KEY, EXT-X-MAP,
// EXT-X-MEDIA, EXT-X-I-FRAME-STREAM-INF, EXT-X-SESSION-DATA,
// EXT-X-SESSION-KEY, EXT-X-PART, EXT-X-PRELOAD-HINT,
// EXT-X-RENDITION-REPORT, ...). When fn returns ok=false the URI is kept.
// Every other byte (tags, comments, blanks, a byte order mark, LF or CRLF
// line endings) is copied unchanged, so an fn that changes nothing returns
// the input byte for byte.
//
// Rewrite fails with ErrNotPlaylist without an #EXTM3U header, with a
// *SyntaxError when the attribute list of a URI-carrying tag does not
// parse, and with ErrBadURI when fn returns a URI that cannot be written
// back: a line break anywhere, a double quote in an attribute, a comma in an
// unquoted attribute, or an empty or "#..." URI line. A playlist that
// ParseMedia or ParseMultivariant accepts never fails for the first two
// reasons. Attributes with other names (X-ASSET-URI of interstitials,
// SERVER-URI of content steering) are not rewritten, nor are URIs inside
// EXT-X-DEFINE variables.
func Rewrite(data []byte, fn func(uri string) (string, bool)) ([]byte, error) {
	s := string(data)
	r, err := openPlaylist(s)
	if err != nil {
		return nil, fmt.Errorf("hls: rewrite playlist: %w", err)
	}
	w := splicer{src: s}
	for {
		start, end, ok := r.next()
		if !ok {
			break
		}
		if err := w.line(r.num, start, end, fn); err != nil {
			return nil, err
		}
	}
	return w.bytes(), nil
}

// splicer copies src while replacing spans of it.
type splicer struct {
	src    string
	out    []byte
	copied int // src[:copied] is in out already
}

func (w *splicer) replace(start, end int, with string) {
	if w.out == nil {
		w.out = make([]byte, 0, len(w.src)+len(w.src)/4)
	}
	w.out = append(w.out, w.src[w.copied:start]...)
	w.out = append(w.out, with...)
	w.copied = end
}

func (w *splicer) bytes() []byte {
	return append(w.out, w.src[w.copied:]...)
}

// line rewrites the URIs on the line src[start:end].
func (w *splicer) line(num, start, end int, fn func(string) (string, bool)) error {
	raw := w.src[start:end]
	line := trimLine(raw)
	if line == "" {
		return nil
	}
	lineStart := start + len(raw) - len(strings.TrimLeft(raw, " \t\r"))
	if line[0] != '#' {
		return w.uri(num, lineStart, lineStart+len(line), fn, uriLine)
	}
	if !isTag(line) {
		return nil // comment
	}
	name, value, valueOff, hasValue := splitTag(line)
	if !hasValue || plainTags[name] {
		return nil
	}
	attrs, reason := parseAttrs(value)
	if reason != "" {
		if uriTags[name] {
			return syntaxErr(num, "%s: %s", name, reason)
		}
		return nil // an unknown tag whose value is not an attribute list
	}
	base := lineStart + valueOff
	for _, a := range attrs {
		if a.name != "URI" {
			continue
		}
		where := unquotedAttr
		if a.quoted {
			where = quotedAttr
		}
		if err := w.uri(num, base+a.start, base+a.end, fn, where); err != nil {
			return err
		}
	}
	return nil
}

// uriPlace is where a URI sits, which decides what it may not contain.
type uriPlace int

const (
	uriLine      uriPlace = iota // a line of its own
	quotedAttr                   // URI="..."
	unquotedAttr                 // URI=... (tolerated, not in the spec)
)

// fits reports whether uri can be written at place p without changing the
// structure of the playlist.
func (p uriPlace) fits(uri string) bool {
	switch p {
	case uriLine:
		return uri != "" && uri[0] != '#' && !strings.ContainsAny(uri, "\r\n")
	case quotedAttr:
		return !strings.ContainsAny(uri, "\r\n\"")
	}
	return !strings.ContainsAny(uri, "\r\n\",") // unquotedAttr
}

// uri passes src[start:end] through fn and splices the result in.
func (w *splicer) uri(num, start, end int, fn func(string) (string, bool), where uriPlace) error {
	old := w.src[start:end]
	uri, ok := fn(old)
	if !ok || uri == old {
		return nil
	}
	if !where.fits(uri) {
		return fmt.Errorf("hls: line %d: rewrite %q to %q: %w", num, clip(old), clip(uri), ErrBadURI)
	}
	w.replace(start, end, uri)
	return nil
}
