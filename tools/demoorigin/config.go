package demoorigin

import (
	"fmt"
	"log/slog"
	"regexp"
	"time"
)

// FPS is the frame rate of every encoded rendition. Segment durations must
// be whole multiples of one frame (40 ms).
const FPS = 25

// Rendition is one encoded variant of the test clip.
type Rendition struct {
	// Name is the path element of the rendition ("360p"); letters, digits,
	// '-' and '_' only.
	Name string
	// Width and Height are the picture size in pixels; both must be even.
	Width, Height int
	// VideoKbps is the constant video bit rate in kbit/s (x264 CBR with
	// filler, so segment sizes are predictable).
	VideoKbps int
	// AudioKbps is the AAC bit rate in kbit/s; zero means 64.
	AudioKbps int
}

// Config describes the media and the behaviour of a demo origin. The zero
// value of every field except MediaDir means a usable default.
type Config struct {
	// MediaDir is where encoded media is cached between runs; it is created
	// if missing. Required.
	MediaDir string
	// SegmentDuration is the duration of every segment; zero means 2 s.
	// It must be a whole number of frames (multiple of 40 ms), 200 ms to 10 s.
	SegmentDuration time.Duration
	// ClipSegments is the length of the encoded clip in segments; zero
	// means 15 (30 s at the default segment duration).
	ClipSegments int
	// Window is the number of segments in a live playlist; zero means 6.
	Window int
	// Renditions are the live renditions; zero means 240p, 360p and 540p at
	// modest bit rates (DefaultRenditions).
	Renditions []Rendition
	// VODRenditions are the renditions under /vod/; zero means Renditions
	// plus "1080p" at 4 Mbit/s, whose segments are about 1 MB each at the
	// default segment duration. A name used in both lists must describe the
	// same encode.
	VODRenditions []Rendition
	// RateBitsPerSecond caps all response body bytes together (WAN
	// emulation); zero means unlimited.
	RateBitsPerSecond float64
	// Latency is added before the response headers of every media and fault
	// request (WAN emulation); zero means none.
	Latency time.Duration
	// BlockingReload advertises EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES
	// on live playlists and holds requests carrying _HLS_msn until that
	// media sequence number is published.
	BlockingReload bool
	// Epoch is when live segment 0 starts; live segment seq covers
	// [Epoch+seq*SegmentDuration, Epoch+(seq+1)*SegmentDuration) and is
	// published at its end. Zero means one window before New was called,
	// so the first live playlist is already full.
	Epoch time.Time
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
}

// DefaultRenditions are the live renditions used when Config.Renditions is
// empty. They encode in a few seconds on two cores.
var DefaultRenditions = []Rendition{
	{Name: "240p", Width: 426, Height: 240, VideoKbps: 300, AudioKbps: 64},
	{Name: "360p", Width: 640, Height: 360, VideoKbps: 600, AudioKbps: 64},
	{Name: "540p", Width: 960, Height: 540, VideoKbps: 1200, AudioKbps: 96},
}

// BigVODRendition is added to the default VOD set: at the default 2 s
// segment duration each of its segments is about 1 MB, for cache-hit
// throughput benchmarks (/vod/1080p/seg-0.ts).
var BigVODRendition = Rendition{Name: "1080p", Width: 1920, Height: 1080, VideoKbps: 4000, AudioKbps: 96}

const (
	defaultSegmentDuration = 2 * time.Second
	defaultClipSegments    = 15
	defaultWindow          = 6
	defaultAudioKbps       = 64
	frameDuration          = time.Second / FPS
)

var renditionName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// withDefaults returns a copy of c with zero fields filled in and
// validates it.
func (c Config) withDefaults() (Config, error) {
	if c.MediaDir == "" {
		return c, fmt.Errorf("%w: MediaDir is required", ErrInvalidConfig)
	}
	if c.SegmentDuration == 0 {
		c.SegmentDuration = defaultSegmentDuration
	}
	if c.SegmentDuration < 200*time.Millisecond || c.SegmentDuration > 10*time.Second ||
		c.SegmentDuration%frameDuration != 0 {
		return c, fmt.Errorf("%w: SegmentDuration %v must be a multiple of %v between 200ms and 10s",
			ErrInvalidConfig, c.SegmentDuration, frameDuration)
	}
	if c.ClipSegments == 0 {
		c.ClipSegments = defaultClipSegments
	}
	if c.ClipSegments < 1 || c.ClipSegments > 1000 {
		return c, fmt.Errorf("%w: ClipSegments %d out of 1..1000", ErrInvalidConfig, c.ClipSegments)
	}
	if c.Window == 0 {
		c.Window = defaultWindow
	}
	if c.Window < 1 || c.Window > 1000 {
		return c, fmt.Errorf("%w: Window %d out of 1..1000", ErrInvalidConfig, c.Window)
	}
	if len(c.Renditions) == 0 {
		c.Renditions = DefaultRenditions
	}
	if len(c.VODRenditions) == 0 {
		c.VODRenditions = append(append([]Rendition(nil), c.Renditions...), BigVODRendition)
	}
	var err error
	if c.Renditions, err = normalizeRenditions(c.Renditions); err != nil {
		return c, fmt.Errorf("live renditions: %w", err)
	}
	if c.VODRenditions, err = normalizeRenditions(c.VODRenditions); err != nil {
		return c, fmt.Errorf("vod renditions: %w", err)
	}
	if _, err := c.encodes(); err != nil {
		return c, err
	}
	if c.RateBitsPerSecond < 0 {
		return c, fmt.Errorf("%w: negative RateBitsPerSecond", ErrInvalidConfig)
	}
	if c.Latency < 0 {
		return c, fmt.Errorf("%w: negative Latency", ErrInvalidConfig)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// normalizeRenditions copies rs with defaults applied and checks them.
func normalizeRenditions(rs []Rendition) ([]Rendition, error) {
	out := make([]Rendition, len(rs))
	seen := make(map[string]bool, len(rs))
	for i, r := range rs {
		if r.AudioKbps == 0 {
			r.AudioKbps = defaultAudioKbps
		}
		switch {
		case !renditionName.MatchString(r.Name):
			return nil, fmt.Errorf("%w: rendition name %q", ErrInvalidConfig, r.Name)
		case seen[r.Name]:
			return nil, fmt.Errorf("%w: duplicate rendition %q", ErrInvalidConfig, r.Name)
		case r.Width < 16 || r.Height < 16 || r.Width > 4096 || r.Height > 2304 || r.Width%2 != 0 || r.Height%2 != 0:
			return nil, fmt.Errorf("%w: rendition %q size %dx%d", ErrInvalidConfig, r.Name, r.Width, r.Height)
		case r.VideoKbps < 16 || r.VideoKbps > 50000 || r.AudioKbps < 16 || r.AudioKbps > 320:
			return nil, fmt.Errorf("%w: rendition %q bit rates %d/%d kbit/s", ErrInvalidConfig, r.Name, r.VideoKbps, r.AudioKbps)
		}
		seen[r.Name] = true
		out[i] = r
	}
	return out, nil
}

// encodes returns the distinct renditions to encode (live first, then the
// VOD-only ones), rejecting a name that means two different encodes.
func (c Config) encodes() ([]Rendition, error) {
	byName := make(map[string]Rendition)
	var out []Rendition
	for _, r := range append(append([]Rendition(nil), c.Renditions...), c.VODRenditions...) {
		if prev, ok := byName[r.Name]; ok {
			if prev != r {
				return nil, fmt.Errorf("%w: rendition %q differs between live and VOD", ErrInvalidConfig, r.Name)
			}
			continue
		}
		byName[r.Name] = r
		out = append(out, r)
	}
	return out, nil
}
