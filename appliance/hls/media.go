package hls

import "time"

// Media is a Media Playlist: the segments of one rendition.
type Media struct {
	Version        int           // EXT-X-VERSION; 0 when absent
	TargetDuration time.Duration // EXT-X-TARGETDURATION, rounded up to whole seconds
	// MediaSequence is EXT-X-MEDIA-SEQUENCE: the sequence number of the first
	// segment of the full playlist (0 when absent).
	MediaSequence         uint64
	DiscontinuitySequence uint64 // EXT-X-DISCONTINUITY-SEQUENCE
	Type                  string // EXT-X-PLAYLIST-TYPE: "", "EVENT" or "VOD"
	Ended                 bool   // EXT-X-ENDLIST
	// Segments in order; Segments[i].Sequence is MediaSequence+Skipped+i.
	Segments []Segment

	// Low-Latency HLS.
	PartTarget     time.Duration // EXT-X-PART-INF PART-TARGET
	CanBlockReload bool          // EXT-X-SERVER-CONTROL CAN-BLOCK-RELOAD=YES
	HoldBack       time.Duration // EXT-X-SERVER-CONTROL HOLD-BACK
	PartHoldBack   time.Duration // EXT-X-SERVER-CONTROL PART-HOLD-BACK
	// Skipped is EXT-X-SKIP SKIPPED-SEGMENTS: in a delta update the first
	// Skipped segments are left out, so Segments[0] is MediaSequence+Skipped.
	Skipped       uint64
	PreloadHints  []string // EXT-X-PRELOAD-HINT URIs (TYPE=PART or MAP)
	TrailingParts []Part   // EXT-X-PART tags after the last full segment
}

// Segment is one media segment (EXTINF plus its URI line).
type Segment struct {
	URI             string
	Sequence        uint64 // media sequence number
	Duration        time.Duration
	Title           string    // EXTINF title after the comma, verbatim
	Discontinuity   bool      // EXT-X-DISCONTINUITY before this segment
	ProgramDateTime time.Time // EXT-X-PROGRAM-DATE-TIME of this segment; zero when none
	ByteRange       string    // EXT-X-BYTERANGE as written, "<n>[@<o>]"
	// KeyURI is the URI of the EXT-X-KEY in force: the last one before the
	// segment. It is empty with no key or METHOD=NONE.
	KeyURI string
	MapURI string // URI of the EXT-X-MAP in force; empty when none
	Parts  []Part // EXT-X-PART tags that make up this segment
	Gap    bool   // EXT-X-GAP: the segment is missing at the origin
}

// Part is one Low-Latency HLS partial segment (EXT-X-PART).
type Part struct {
	URI         string
	Duration    time.Duration
	Independent bool   // INDEPENDENT=YES
	ByteRange   string // BYTERANGE as written, "<n>[@<o>]"
}

// Live reports whether the playlist may still grow: no EXT-X-ENDLIST and
// not a VOD playlist.
func (m *Media) Live() bool { return !m.Ended && m.Type != "VOD" }

// LiveEdge returns the last full segment, if any.
func (m *Media) LiveEdge() (Segment, bool) {
	if len(m.Segments) == 0 {
		return Segment{}, false
	}
	return m.Segments[len(m.Segments)-1], true
}

// URIs returns every URI the playlist references: per segment its key, map,
// parts and own URI, then the trailing parts and the preload hints. Each URI
// appears once, at its first place. Rendition reports, which name other
// playlists, are not included.
func (m *Media) URIs() []string {
	seen := make(map[string]bool)
	var out []string
	add := func(u string) {
		if u != "" && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	for _, s := range m.Segments {
		add(s.KeyURI)
		add(s.MapURI)
		for _, p := range s.Parts {
			add(p.URI)
		}
		add(s.URI)
	}
	for _, p := range m.TrailingParts {
		add(p.URI)
	}
	for _, h := range m.PreloadHints {
		add(h)
	}
	return out
}
