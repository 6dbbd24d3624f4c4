package hls

import "strings"

// maxAttrs bounds the attribute list of one tag. Real tags carry fewer than
// 30 attributes; more is hostile.
const maxAttrs = 256

// attr is one AttributeName=AttributeValue pair of an attribute list.
type attr struct {
	name   string
	value  string // without the double quotes of a quoted-string
	start  int    // offset of value within the parsed text
	end    int
	quoted bool
}

// parseAttrs parses an attribute list such as
// `URI="a,b.mp4",DURATION=0.333`. It tolerates blanks around names, values
// and commas, a trailing comma, lowercase names and commas inside quoted
// strings. The reason it returns on failure is for a SyntaxError.
func parseAttrs(s string) ([]attr, string) {
	var out []attr
	i := 0
	for {
		i = skipBlanks(s, i)
		if i >= len(s) {
			return out, ""
		}
		if len(out) == maxAttrs {
			return nil, "too many attributes"
		}
		nameStart := i
		for i < len(s) && isAttrNameByte(s[i]) {
			i++
		}
		name := s[nameStart:i]
		if name == "" {
			return nil, "bad attribute name"
		}
		i = skipBlanks(s, i)
		if i >= len(s) || s[i] != '=' {
			return nil, "attribute " + clip(name) + " without value"
		}
		i = skipBlanks(s, i+1)
		a := attr{name: name}
		if i < len(s) && s[i] == '"' {
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, "unterminated quoted string in " + clip(name)
			}
			a.start, a.end, a.quoted = i+1, i+1+j, true
			i = a.end + 1
		} else {
			j := strings.IndexByte(s[i:], ',')
			if j < 0 {
				j = len(s) - i
			}
			a.start = i
			a.end = i + len(strings.TrimRight(s[i:i+j], " \t\r"))
			i += j
		}
		a.value = s[a.start:a.end]
		out = append(out, a)
		i = skipBlanks(s, i)
		if i >= len(s) {
			return out, ""
		}
		if s[i] != ',' {
			return nil, "junk after attribute " + clip(name)
		}
		i++
	}
}

// lookup returns the value of the last attribute called name.
func lookup(attrs []attr, name string) (string, bool) {
	for i := len(attrs) - 1; i >= 0; i-- {
		if attrs[i].name == name {
			return attrs[i].value, true
		}
	}
	return "", false
}

// yes reports whether the enumerated-string attribute name is YES.
func yes(attrs []attr, name string) bool {
	v, _ := lookup(attrs, name)
	return strings.EqualFold(v, "YES")
}

// attrMap keeps every raw attribute; a repeated name keeps its last value.
func attrMap(attrs []attr) map[string]string {
	m := make(map[string]string, len(attrs))
	for _, a := range attrs {
		m[a.name] = a.value
	}
	return m
}

func skipBlanks(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
		i++
	}
	return i
}

func isAttrNameByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// clip keeps hostile names from blowing up error messages.
func clip(s string) string {
	const max = 32
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
