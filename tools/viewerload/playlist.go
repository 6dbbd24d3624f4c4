package viewerload

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxSegmentDuration bounds EXTINF and EXT-X-TARGETDURATION values the parser accepts.
const maxSegmentDuration = 24 * time.Hour

// Playlist is the part of an HLS playlist a player needs: the variants of a multivariant
// playlist, or the segments of a media playlist.
type Playlist struct {
	// Variants lists the EXT-X-STREAM-INF entries; non-empty only for a multivariant playlist.
	Variants []Variant
	// TargetDuration is EXT-X-TARGETDURATION; zero when absent.
	TargetDuration time.Duration
	// MediaSequence is the sequence number of the first segment (EXT-X-MEDIA-SEQUENCE).
	MediaSequence int64
	// Segments are the media segments in playlist order.
	Segments []Segment
	// Ended reports EXT-X-ENDLIST: no segment will be added.
	Ended bool
}

// Variant is one rendition of a multivariant playlist.
type Variant struct {
	URI       string
	Bandwidth int64
}

// Segment is one media segment of a media playlist.
type Segment struct {
	URI      string
	Sequence int64
	Duration time.Duration
	// ProgramDateTime is the wall-clock time of the segment's first sample; zero when the
	// playlist carries no EXT-X-PROGRAM-DATE-TIME before it.
	ProgramDateTime time.Time
}

// PublishTime is when the origin could have had the whole segment: ProgramDateTime plus
// Duration. It is zero when the segment has no ProgramDateTime.
func (s Segment) PublishTime() time.Time {
	if s.ProgramDateTime.IsZero() {
		return time.Time{}
	}
	return s.ProgramDateTime.Add(s.Duration)
}

// IsMultivariant reports whether p lists variants rather than segments.
func (p *Playlist) IsMultivariant() bool { return len(p.Variants) > 0 }

// ParsePlaylist reads a multivariant or media playlist. It keeps only the tags a player
// needs to pick a variant, follow the live edge and time segments; unknown tags are skipped.
func ParsePlaylist(data []byte) (*Playlist, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), len(data)+1)
	if !sc.Scan() || strings.TrimSpace(sc.Text()) != "#EXTM3U" {
		return nil, ErrNotPlaylist
	}
	var (
		p          Playlist
		lineNo     = 1
		seq        int64
		inf        time.Duration
		haveInf    bool
		pdt        time.Time
		streamInf  bool
		bandwidth  int64
		firstSegIn = true
	)
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		bad := func(err error) error {
			return fmt.Errorf("parse playlist line %d: %w: %v", lineNo, ErrMalformed, err)
		}
		switch {
		case line == "":
		case strings.HasPrefix(line, "#EXT-X-TARGETDURATION:"):
			d, err := parseSeconds(line[len("#EXT-X-TARGETDURATION:"):])
			if err != nil {
				return nil, bad(err)
			}
			p.TargetDuration = d
		case strings.HasPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"):
			n, err := strconv.ParseInt(line[len("#EXT-X-MEDIA-SEQUENCE:"):], 10, 63)
			if err != nil || n < 0 {
				return nil, bad(fmt.Errorf("media sequence %q", line))
			}
			if !firstSegIn {
				return nil, bad(fmt.Errorf("media sequence after first segment"))
			}
			p.MediaSequence, seq = n, n
		case strings.HasPrefix(line, "#EXTINF:"):
			v, _, _ := strings.Cut(line[len("#EXTINF:"):], ",")
			d, err := parseSeconds(v)
			if err != nil {
				return nil, bad(err)
			}
			inf, haveInf = d, true
		case strings.HasPrefix(line, "#EXT-X-PROGRAM-DATE-TIME:"):
			t, err := parseDateTime(line[len("#EXT-X-PROGRAM-DATE-TIME:"):])
			if err != nil {
				return nil, bad(err)
			}
			pdt = t
		case strings.HasPrefix(line, "#EXT-X-STREAM-INF:"):
			streamInf = true
			bandwidth = attrInt(line[len("#EXT-X-STREAM-INF:"):], "BANDWIDTH")
		case line == "#EXT-X-ENDLIST":
			p.Ended = true
		case strings.HasPrefix(line, "#"):
			// Comments and tags a load generator does not need.
		case streamInf:
			p.Variants = append(p.Variants, Variant{URI: line, Bandwidth: bandwidth})
			streamInf, bandwidth = false, 0
		default:
			if !haveInf {
				return nil, bad(fmt.Errorf("segment %q without EXTINF", line))
			}
			firstSegIn = false
			p.Segments = append(p.Segments, Segment{URI: line, Sequence: seq, Duration: inf, ProgramDateTime: pdt})
			if !pdt.IsZero() {
				pdt = pdt.Add(inf)
			}
			if seq == math.MaxInt64 {
				return nil, bad(fmt.Errorf("media sequence overflow"))
			}
			seq++
			haveInf = false
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scan playlist: %w", err)
	}
	return &p, nil
}

// parseSeconds reads a non-negative decimal number of seconds.
func parseSeconds(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxSegmentDuration.Seconds() {
		return 0, fmt.Errorf("duration %q", s)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// parseDateTime reads an ISO 8601 date-time as HLS writes it (RFC 3339, with or without
// a colon in the zone offset).
func parseDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("program date time %q", s)
}

// attrInt returns the integer attribute name of an attribute list, or 0.
func attrInt(list, name string) int64 {
	for _, kv := range strings.Split(list, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.TrimSpace(k) == name {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return 0
}
