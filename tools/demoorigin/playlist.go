package demoorigin

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
)

// pdtLayout is the EXT-X-PROGRAM-DATE-TIME format (ISO 8601, millisecond
// precision, UTC).
const pdtLayout = "2006-01-02T15:04:05.000Z"

// multivariant renders a multivariant playlist whose variant URIs are
// prefix + name + "/index.m3u8".
func multivariant(ms []*media, prefix string) []byte {
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	for _, m := range ms {
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,RESOLUTION=%dx%d,CODECS=\"%s\",FRAME-RATE=%d.000\n",
			m.peakBPS, m.avgBPS, m.Width, m.Height, m.codecs, FPS)
		b.WriteString(prefix + m.Name + "/index.m3u8\n")
	}
	return b.Bytes()
}

// vodPlaylist renders m's complete clip as an ended VOD playlist.
func vodPlaylist(m *media, targetDuration int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n", targetDuration)
	for i, s := range m.segs {
		fmt.Fprintf(&b, "#EXTINF:%s,\nseg-%d.ts\n", extinf(s.duration), i)
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	return b.Bytes()
}

// livePlaylist renders m's sliding window as published at now, with
// segment URIs prefix + "seg-{seq}.ts".
func (s *Server) livePlaylist(m *media, now time.Time, prefix string) []byte {
	clip := uint64(len(m.segs))
	var b bytes.Buffer
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n", s.targetDuration)
	if s.cfg.BlockingReload {
		b.WriteString("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES\n")
	}
	b.WriteString("#EXT-X-INDEPENDENT-SEGMENTS\n")
	latest, ok := s.latest(now)
	if !ok {
		b.WriteString("#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n")
		return b.Bytes()
	}
	first := latest + 1 - min(latest+1, uint64(s.cfg.Window))
	// Each pass over the clip starts a new discontinuity sequence, so
	// segment seq has discontinuity sequence number seq/clip. The tag on
	// the playlist's first segment is left out: DISCONTINUITY-SEQUENCE
	// already numbers it (RFC 8216 section 6.2.2).
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n#EXT-X-DISCONTINUITY-SEQUENCE:%d\n", first, first/clip)
	for seq := first; seq <= latest; seq++ {
		if seq != first && seq%clip == 0 {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:%s,\n%sseg-%d.ts\n",
			s.segmentStart(seq).UTC().Format(pdtLayout), extinf(m.segs[seq%clip].duration), prefix, seq)
	}
	return b.Bytes()
}

func extinf(seconds float64) string { return strconv.FormatFloat(seconds, 'f', 3, 64) }

// parseSegmentName returns n for a canonical "seg-{n}.ts" (decimal, no
// sign, no leading zeros), so each segment has exactly one URI.
func parseSegmentName(name string) (uint64, bool) {
	const prefix, suffix = "seg-", ".ts"
	if len(name) < len(prefix)+1+len(suffix) || name[:len(prefix)] != prefix || name[len(name)-len(suffix):] != suffix {
		return 0, false
	}
	digits := name[len(prefix) : len(name)-len(suffix)]
	if len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}
