package hls

import "strings"

const bom = "\xef\xbb\xbf"

// lineReader walks a playlist line by line, keeping byte offsets so that
// Rewrite can splice. A line ends at "\n"; the "\r" of a CRLF ending is
// stripped from a line's text by trimLine, never from the bytes.
type lineReader struct {
	s   string
	pos int // offset of the next unread line
	num int // 1-based number of the line last returned
}

// newLineReader starts after a UTF-8 byte order mark, if any.
func newLineReader(s string) *lineReader {
	r := &lineReader{s: s}
	if strings.HasPrefix(s, bom) {
		r.pos = len(bom)
	}
	return r
}

// next returns the offsets [start, end) of the next line without its "\n".
func (r *lineReader) next() (start, end int, ok bool) {
	if r.pos >= len(r.s) {
		return 0, 0, false
	}
	start = r.pos
	if i := strings.IndexByte(r.s[start:], '\n'); i >= 0 {
		end = start + i
		r.pos = end + 1
	} else {
		end = len(r.s)
		r.pos = end
	}
	r.num++
	return start, end, true
}

// trimLine drops the blanks and the carriage return around a line or value.
func trimLine(s string) string { return strings.Trim(s, " \t\r") }

// openPlaylist checks the #EXTM3U header and returns a reader positioned
// after it. Blank lines may come before the header; nothing else may.
func openPlaylist(s string) (*lineReader, error) {
	r := newLineReader(s)
	for {
		start, end, ok := r.next()
		if !ok {
			return nil, ErrNotPlaylist
		}
		t := trimLine(s[start:end])
		if t == "" {
			continue
		}
		if !strings.HasPrefix(t, "#EXTM3U") {
			return nil, ErrNotPlaylist
		}
		if rest := t[len("#EXTM3U"):]; rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			return nil, ErrNotPlaylist // e.g. #EXTM3Ux
		}
		return r, nil
	}
}

// splitTag splits a trimmed "#EXT..." line into the tag name without "#"
// and the text after the first colon. valueOff is the offset of that text
// within line.
func splitTag(line string) (name, value string, valueOff int, hasValue bool) {
	body := line[1:]
	i := strings.IndexByte(body, ':')
	if i < 0 {
		return body, "", len(line), false
	}
	return body[:i], body[i+1:], i + 2, true
}

// isTag reports whether a trimmed line is a tag rather than a comment or URI.
func isTag(line string) bool { return strings.HasPrefix(line, "#EXT") }
