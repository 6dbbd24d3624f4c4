package hls

// Multivariant is a Multivariant (master) Playlist: the variant streams of
// one presentation and their alternative renditions.
type Multivariant struct {
	Version int // EXT-X-VERSION; 0 when absent
	// Variants are the EXT-X-STREAM-INF entries in order of appearance; a
	// variant's index is its ordinal position in the playlist.
	Variants            []Variant
	Renditions          []Rendition // EXT-X-MEDIA, in order
	IFrameVariants      []Variant   // EXT-X-I-FRAME-STREAM-INF, URI from its attribute
	IndependentSegments bool        // EXT-X-INDEPENDENT-SEGMENTS
}

// Variant is one variant stream (EXT-X-STREAM-INF or
// EXT-X-I-FRAME-STREAM-INF).
type Variant struct {
	URI              string
	Bandwidth        int64 // BANDWIDTH in bits per second; 0 when absent
	AverageBandwidth int64 // AVERAGE-BANDWIDTH; 0 when absent
	Codecs           string
	Resolution       string // as written, e.g. "1920x1080"
	FrameRate        string // as written, e.g. "29.970"
	Audio            string // AUDIO group id
	Video            string // VIDEO group id
	Subtitles        string // SUBTITLES group id
	ClosedCaptions   string // CLOSED-CAPTIONS group id or NONE
	// Attrs holds every attribute as written, quoted strings without their
	// quotes; a repeated name keeps its last value.
	Attrs map[string]string
}

// Rendition is one alternative rendition (EXT-X-MEDIA).
type Rendition struct {
	Type       string // AUDIO, VIDEO, SUBTITLES or CLOSED-CAPTIONS
	GroupID    string
	Name       string
	Language   string
	URI        string // empty when the rendition is muxed into the variant
	Default    bool   // DEFAULT=YES
	Autoselect bool   // AUTOSELECT=YES
	Attrs      map[string]string
}
