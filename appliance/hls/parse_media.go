package hls

// Why this package parses playlists itself instead of using
// github.com/grafov/m3u8 (v0.12.1, already in go.mod):
//
//   - It has no Low-Latency HLS: EXT-X-PART, EXT-X-PART-INF,
//     EXT-X-PRELOAD-HINT, EXT-X-SERVER-CONTROL, EXT-X-SKIP and
//     EXT-X-RENDITION-REPORT fall into its "comments are ignored" branch.
//     Parts and preload hints are exactly what live prefetch must fetch, and
//     segment sequence numbers of a delta update (EXT-X-SKIP) come out wrong.
//   - It drops EXT-X-GAP and EXT-X-DATERANGE (no field, no error).
//   - It raises TargetDuration to the longest EXTINF (4 becomes 5 for
//     Apple's 4.00008 s segments), which would skew the polling interval.
//   - Strict mode rejects EXTINF without a comma (common in the wild);
//     lenient mode then carries the previous segment's title over.
//   - It mixes EXT-X-I-FRAME-STREAM-INF entries into MasterPlaylist.Variants,
//     so a variant's index is no longer its EXT-X-STREAM-INF ordinal, and it
//     has no list of EXT-X-MEDIA renditions: it hangs them off variants,
//     including variants of other groups, repeatedly.
//   - Re-encoding (its only way back to bytes) drops every tag it does not
//     model and, for a live playlist of more than 8 segments, the live edge
//     itself; so it cannot rewrite URIs for the edge. Rewrite is line based.
//
// TestGrafovM3U8Gaps runs grafov on the same testdata and fails when one of
// these gaps closes, so the choice gets revisited.

import (
	"fmt"
	"strings"
	"time"
)

// ParseMedia parses a Media Playlist. It fails with ErrNotPlaylist without
// an #EXTM3U header, ErrWrongKind for a Multivariant Playlist, and a
// *SyntaxError (wrapping ErrMalformed) naming the line of the first problem.
func ParseMedia(data []byte) (*Media, error) {
	s := string(data)
	kind, err := detect(s)
	if err != nil {
		return nil, wrapParse("media", err)
	}
	if kind != KindMedia {
		return nil, fmt.Errorf("hls: parse media playlist: got a %s playlist: %w", kind, ErrWrongKind)
	}
	r, err := openPlaylist(s)
	if err != nil {
		return nil, wrapParse("media", err)
	}
	var p mediaParser
	for {
		start, end, ok := r.next()
		if !ok {
			break
		}
		if err := p.line(r.num, trimLine(s[start:end])); err != nil {
			return nil, err
		}
	}
	return p.finish()
}

// wrapParse names the operation unless the error already names a line.
func wrapParse(what string, err error) error {
	if _, ok := err.(*SyntaxError); ok {
		return err
	}
	return fmt.Errorf("hls: parse %s playlist: %w", what, err)
}

// mediaParser holds the state between the tags of a segment and its URI.
type mediaParser struct {
	m      Media
	seg    Segment // the segment being described
	inf    int     // line of its EXTINF; 0 when none yet
	parts  []Part  // EXT-X-PART tags since the last segment
	keyURI string  // EXT-X-KEY in force
	mapURI string  // EXT-X-MAP in force
	target bool    // EXT-X-TARGETDURATION seen
	seqAt  int     // line of EXT-X-MEDIA-SEQUENCE, for overflow errors
}

func (p *mediaParser) line(num int, line string) error {
	switch {
	case line == "":
		return nil
	case isTag(line):
		return p.tag(num, line)
	case line[0] == '#':
		return nil // comment
	}
	if p.inf == 0 {
		return syntaxErr(num, "URI without EXTINF")
	}
	p.seg.URI = line
	p.seg.KeyURI, p.seg.MapURI = p.keyURI, p.mapURI
	p.seg.Parts, p.parts = p.parts, nil
	p.m.Segments = append(p.m.Segments, p.seg)
	p.seg, p.inf = Segment{}, 0
	return nil
}

func (p *mediaParser) tag(num int, line string) error {
	name, value, _, _ := splitTag(line)
	m := &p.m
	var ok bool
	switch name {
	case "EXT-X-VERSION":
		m.Version, ok = parseVersion(value)
	case "EXT-X-TARGETDURATION":
		m.TargetDuration, ok = parseSeconds(value)
		m.TargetDuration = ceilSecond(m.TargetDuration)
		p.target = true
	case "EXT-X-MEDIA-SEQUENCE":
		m.MediaSequence, ok = parseUint(value)
		p.seqAt = num
	case "EXT-X-DISCONTINUITY-SEQUENCE":
		m.DiscontinuitySequence, ok = parseUint(value)
	case "EXT-X-PLAYLIST-TYPE":
		m.Type = strings.ToUpper(trimLine(value))
		ok = m.Type == "EVENT" || m.Type == "VOD"
	case "EXT-X-ENDLIST":
		m.Ended, ok = true, true
	case "EXTINF":
		if p.inf != 0 {
			return syntaxErr(p.inf, "EXTINF without URI")
		}
		p.seg.Duration, p.seg.Title, ok = parseExtinf(value)
		p.inf = num
	case "EXT-X-BYTERANGE":
		p.seg.ByteRange, ok = parseByteRange(value)
	case "EXT-X-DISCONTINUITY":
		p.seg.Discontinuity, ok = true, true
	case "EXT-X-GAP":
		p.seg.Gap, ok = true, true
	case "EXT-X-PROGRAM-DATE-TIME":
		p.seg.ProgramDateTime, ok = parseDateTime(value)
	default:
		return p.attrTag(num, name, value)
	}
	if !ok {
		return syntaxErr(num, "bad %s", name)
	}
	return nil
}

// attrTag handles the tags whose value is an attribute list.
func (p *mediaParser) attrTag(num int, name, value string) error {
	if !mediaAttrTags[name] && !uriTags[name] {
		return nil // unknown or irrelevant tag
	}
	attrs, err := tagAttrs(num, name, value)
	if err != nil {
		return err
	}
	m := &p.m
	switch name {
	case "EXT-X-KEY":
		method, _ := lookup(attrs, "METHOD")
		if strings.EqualFold(method, "NONE") {
			p.keyURI = ""
			return nil
		}
		p.keyURI, err = needURI(num, name, attrs)
	case "EXT-X-MAP":
		p.mapURI, err = needURI(num, name, attrs)
	case "EXT-X-PART":
		part, err := parsePart(num, attrs)
		if err != nil {
			return err
		}
		p.parts = append(p.parts, part)
	case "EXT-X-PRELOAD-HINT":
		uri, err := needURI(num, name, attrs)
		if err != nil {
			return err
		}
		m.PreloadHints = append(m.PreloadHints, uri)
	case "EXT-X-PART-INF":
		m.PartTarget, err = secondsAttr(num, attrs, "PART-TARGET")
	case "EXT-X-SERVER-CONTROL":
		m.CanBlockReload = yes(attrs, "CAN-BLOCK-RELOAD")
		if m.HoldBack, err = secondsAttr(num, attrs, "HOLD-BACK"); err == nil {
			m.PartHoldBack, err = secondsAttr(num, attrs, "PART-HOLD-BACK")
		}
	case "EXT-X-SKIP":
		v, _ := lookup(attrs, "SKIPPED-SEGMENTS")
		var ok bool
		if m.Skipped, ok = parseUint(v); !ok {
			err = syntaxErr(num, "bad SKIPPED-SEGMENTS")
		}
	}
	return err
}

func (p *mediaParser) finish() (*Media, error) {
	if p.inf != 0 {
		return nil, syntaxErr(p.inf, "EXTINF without URI")
	}
	if !p.target {
		return nil, syntaxErr(0, "missing EXT-X-TARGETDURATION")
	}
	m := &p.m
	m.TrailingParts = p.parts
	first := m.MediaSequence + m.Skipped
	n := uint64(len(m.Segments))
	if first < m.MediaSequence || (n > 0 && first+n-1 < first) {
		return nil, syntaxErr(p.seqAt, "media sequence numbers overflow")
	}
	for i := range m.Segments {
		m.Segments[i].Sequence = first + uint64(i)
	}
	return m, nil
}

// mediaAttrTags are the attribute-list tags the media parser reads.
var mediaAttrTags = map[string]bool{
	"EXT-X-KEY":            true,
	"EXT-X-MAP":            true,
	"EXT-X-PART":           true,
	"EXT-X-PRELOAD-HINT":   true,
	"EXT-X-PART-INF":       true,
	"EXT-X-SERVER-CONTROL": true,
	"EXT-X-SKIP":           true,
}

// parseExtinf parses "<duration>,[<title>]". The comma may be missing, and
// anything after a blank in the duration (IPTV-style attributes) is ignored.
func parseExtinf(value string) (d time.Duration, title string, ok bool) {
	dur, title, _ := strings.Cut(value, ",")
	dur = trimLine(dur)
	if i := strings.IndexAny(dur, " \t"); i >= 0 {
		dur = dur[:i]
	}
	d, ok = parseSeconds(dur)
	return d, title, ok
}

func parsePart(num int, attrs []attr) (Part, error) {
	uri, err := needURI(num, "EXT-X-PART", attrs)
	if err != nil {
		return Part{}, err
	}
	d, err := secondsAttr(num, attrs, "DURATION")
	if err != nil {
		return Part{}, err
	}
	part := Part{URI: uri, Duration: d, Independent: yes(attrs, "INDEPENDENT")}
	if v, ok := lookup(attrs, "BYTERANGE"); ok {
		if part.ByteRange, ok = parseByteRange(v); !ok {
			return Part{}, syntaxErr(num, "bad BYTERANGE")
		}
	}
	return part, nil
}
