package hls

// See parse_media.go for why this parser is hand-written.

import (
	"fmt"
	"strings"
)

// ParseMultivariant parses a Multivariant Playlist. It fails with
// ErrNotPlaylist without an #EXTM3U header, ErrWrongKind for a Media
// Playlist, and a *SyntaxError (wrapping ErrMalformed) naming the line of the
// first problem.
func ParseMultivariant(data []byte) (*Multivariant, error) {
	s := string(data)
	kind, err := detect(s)
	if err != nil {
		return nil, wrapParse("multivariant", err)
	}
	if kind != KindMultivariant {
		return nil, fmt.Errorf("hls: parse multivariant playlist: got a %s playlist: %w", kind, ErrWrongKind)
	}
	r, err := openPlaylist(s)
	if err != nil {
		return nil, wrapParse("multivariant", err)
	}
	var (
		mv        Multivariant
		pending   *Variant // EXT-X-STREAM-INF waiting for its URI line
		pendingAt int
	)
	for {
		start, end, ok := r.next()
		if !ok {
			break
		}
		line := trimLine(s[start:end])
		switch {
		case line == "":
			continue
		case isTag(line):
		case line[0] == '#':
			continue // comment
		default:
			if pending == nil {
				return nil, syntaxErr(r.num, "URI without EXT-X-STREAM-INF")
			}
			pending.URI = line
			mv.Variants = append(mv.Variants, *pending)
			pending = nil
			continue
		}
		name, value, _, _ := splitTag(line)
		switch name {
		case "EXT-X-VERSION":
			if mv.Version, ok = parseVersion(value); !ok {
				return nil, syntaxErr(r.num, "bad %s", name)
			}
			continue
		case "EXT-X-INDEPENDENT-SEGMENTS":
			mv.IndependentSegments = true
			continue
		}
		if !uriTags[name] {
			continue // unknown or irrelevant tag
		}
		attrs, err := tagAttrs(r.num, name, value)
		if err != nil {
			return nil, err
		}
		switch name {
		case "EXT-X-STREAM-INF":
			if pending != nil {
				return nil, syntaxErr(pendingAt, "EXT-X-STREAM-INF without URI")
			}
			v, err := newVariant(r.num, attrs)
			if err != nil {
				return nil, err
			}
			pending, pendingAt = &v, r.num
		case "EXT-X-I-FRAME-STREAM-INF":
			v, err := newVariant(r.num, attrs)
			if err == nil {
				v.URI, err = needURI(r.num, name, attrs)
			}
			if err != nil {
				return nil, err
			}
			mv.IFrameVariants = append(mv.IFrameVariants, v)
		case "EXT-X-MEDIA":
			mv.Renditions = append(mv.Renditions, newRendition(attrs))
		}
	}
	if pending != nil {
		return nil, syntaxErr(pendingAt, "EXT-X-STREAM-INF without URI")
	}
	return &mv, nil
}

func newVariant(num int, attrs []attr) (Variant, error) {
	bw, err := intAttr(num, attrs, "BANDWIDTH")
	if err != nil {
		return Variant{}, err
	}
	avg, err := intAttr(num, attrs, "AVERAGE-BANDWIDTH")
	if err != nil {
		return Variant{}, err
	}
	get := func(name string) string { v, _ := lookup(attrs, name); return v }
	return Variant{
		Bandwidth:        bw,
		AverageBandwidth: avg,
		Codecs:           get("CODECS"),
		Resolution:       get("RESOLUTION"),
		FrameRate:        get("FRAME-RATE"),
		Audio:            get("AUDIO"),
		Video:            get("VIDEO"),
		Subtitles:        get("SUBTITLES"),
		ClosedCaptions:   get("CLOSED-CAPTIONS"),
		Attrs:            attrMap(attrs),
	}, nil
}

func newRendition(attrs []attr) Rendition {
	get := func(name string) string { v, _ := lookup(attrs, name); return v }
	return Rendition{
		Type:       strings.ToUpper(get("TYPE")),
		GroupID:    get("GROUP-ID"),
		Name:       get("NAME"),
		Language:   get("LANGUAGE"),
		URI:        get("URI"),
		Default:    yes(attrs, "DEFAULT"),
		Autoselect: yes(attrs, "AUTOSELECT"),
		Attrs:      attrMap(attrs),
	}
}
