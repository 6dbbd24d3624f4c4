package origin

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

const (
	maxPathLen  = 4096
	maxQueryLen = 4096
	// maxDecodes bounds how many rounds of percent-decoding checkPath tries to
	// find traversal hidden by multiple encoding (%252e%252e).
	maxDecodes = 4
)

// checkPath reports whether raw, a percent-encoded path relative to an origin
// base, is safe to append to the base. It refuses anything an upstream server,
// proxy or file system might turn into a step outside the base.
func checkPath(raw string) error {
	switch {
	case raw == "":
		return fmt.Errorf("empty: %w", ErrBadPath)
	case len(raw) > maxPathLen:
		return fmt.Errorf("too long: %w", ErrBadPath)
	case raw[0] == '/':
		return fmt.Errorf("absolute path: %w", ErrBadPath)
	case hasScheme(raw):
		return fmt.Errorf("absolute url: %w", ErrBadPath)
	}
	for i := 0; i < len(raw); i++ {
		if !isPathByte(raw[i]) {
			return fmt.Errorf("byte %#02x: %w", raw[i], ErrBadPath)
		}
	}
	segs := strings.Split(raw, "/")
	for i, seg := range segs {
		if seg == "" && i != len(segs)-1 { // "//"; a trailing "/" is fine
			return fmt.Errorf("empty segment: %w", ErrBadPath)
		}
		if err := checkSegment(seg); err != nil {
			return err
		}
	}
	return nil
}

// checkSegment checks seg and up to maxDecodes rounds of decoding it, so that
// traversal hidden by multiple encoding (%252e%252e) is found too. The first round
// must be valid percent-encoding; later rounds decode leniently, as a sloppy
// upstream might.
func checkSegment(seg string) error {
	if err := checkDecoded(seg); err != nil {
		return err
	}
	s, err := url.PathUnescape(seg)
	if err != nil {
		return fmt.Errorf("percent-encoding: %w", ErrBadPath)
	}
	for range maxDecodes {
		if err := checkDecoded(s); err != nil {
			return err
		}
		d, changed := unescapeLenient(s)
		if !changed {
			return nil
		}
		s = d
	}
	return fmt.Errorf("nested percent-encoding: %w", ErrBadPath)
}

// unescapeLenient decodes every valid %XX in s and keeps any other "%" as is.
func unescapeLenient(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, false
	}
	var b strings.Builder
	changed := false
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			changed = true
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String(), changed
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// checkDecoded checks one round of a decoded segment.
func checkDecoded(s string) error {
	if !utf8.ValidString(s) { // also refuses overlong forms such as %c0%ae
		return fmt.Errorf("invalid utf-8: %w", ErrBadPath)
	}
	var folded strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return fmt.Errorf("control character: %w", ErrBadPath)
		case r == '/' || r == '\\' || isSlashLike(r):
			return fmt.Errorf("encoded separator: %w", ErrBadPath)
		}
		folded.WriteString(foldDot(r))
	}
	// ".", "..", "...", ".. " (Windows drops trailing dots and spaces) and their
	// Unicode look-alikes that NFKC or best-fit mappings turn into dots.
	if f := strings.TrimRight(folded.String(), " "); f != "" && strings.Trim(f, ".") == "" {
		return fmt.Errorf("dot segment: %w", ErrBadPath)
	}
	return nil
}

func foldDot(r rune) string {
	switch r {
	case '\u2024', '\uFE52', '\uFF0E', '\u3002', '\uFF61': // one dot leader, small, fullwidth, ideographic full stops
		return "."
	case '\u2025': // two dot leader
		return ".."
	case '\u2026': // horizontal ellipsis
		return "..."
	}
	return string(r)
}

func isSlashLike(r rune) bool {
	switch r {
	case '\u2044', '\u2215', '\u2216', '\u29F5', '\u29F8', '\u29F9', '\uFE68', '\uFF0F', '\uFF3C':
		return true
	}
	return false
}

// isPathByte reports whether b may appear raw in a path: RFC 3986 pchar and "/".
func isPathByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@%/", b) >= 0
}

// hasScheme reports whether raw starts like an absolute URL ("http:", "javascript:").
func hasScheme(raw string) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case ('0' <= c && c <= '9') || c == '+' || c == '-' || c == '.':
			if i == 0 {
				return false
			}
		case c == ':':
			return i > 0
		default:
			return false
		}
	}
	return false
}

// checkQuery refuses raw queries that could split or smuggle the request line.
func checkQuery(q string) error {
	if len(q) > maxQueryLen {
		return fmt.Errorf("too long: %w", ErrBadPath)
	}
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c == 0x7f || c >= 0x80 || c == '#' {
			return fmt.Errorf("byte %#02x: %w", c, ErrBadPath)
		}
	}
	return nil
}
