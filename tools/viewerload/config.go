package viewerload

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Limits on one run, so a mistyped flag cannot flood the box or run forever.
const (
	MaxViewers  = 5000
	MaxDuration = 10 * time.Minute
)

// Config describes one load run. Field comments say what the zero value means.
type Config struct {
	// URL is the media or multivariant playlist on the edge under test (required).
	URL string
	// Variant picks the variant of a multivariant URL by index; 0 means the first.
	Variant int
	// Viewers is the number of simulated players, 1..MaxViewers (required).
	Viewers int
	// Duration is how long the run lasts, up to MaxDuration (required).
	Duration time.Duration
	// JoinJitter spreads the viewers' joins uniformly over [0, JoinJitter); 0 means all
	// join at once.
	JoinJitter time.Duration
	// PollJitter is the relative jitter of each playlist reload interval around the
	// target duration; 0 means 0.1 (±10 %).
	PollJitter float64
	// StartBack is how many segments behind the live edge a viewer starts; 0 means 3.
	StartBack int
	// Timeout bounds each HTTP request; 0 means 10 s.
	Timeout time.Duration

	// OriginStats is the demo origin's /stats URL; empty means no WAN figures. It is
	// reset (POST {OriginStats}/reset) before the run and read after it.
	OriginStats string
	// OriginPlaylist is the media playlist at the origin that the availability probe
	// polls; empty means no probe.
	OriginPlaylist string
	// ProbeInterval is how often the probe polls OriginPlaylist; 0 means 50 ms.
	ProbeInterval time.Duration
	// ProbeDelay is how long after a segment appears at the origin the probe asks the
	// edge for it; 0 means 100 ms.
	ProbeDelay time.Duration
	// ProbeFast is the latency under which a probe fetch counts as served from the edge's
	// cache; 0 means 20 ms.
	ProbeFast time.Duration

	// Seed seeds the viewers' jitter; 0 means a fixed default, so runs are repeatable.
	Seed uint64
	// Client sends every request; nil means a client over one shared http.Transport
	// with an idle connection per viewer.
	Client *http.Client
	// Logger receives progress and errors; nil means discard.
	Logger *slog.Logger
}

// withDefaults validates c and fills in the zero values.
func (c Config) withDefaults() (Config, error) {
	if c.URL == "" {
		return c, fmt.Errorf("%w: no URL", ErrConfig)
	}
	if _, err := url.Parse(c.URL); err != nil {
		return c, fmt.Errorf("%w: URL: %v", ErrConfig, err)
	}
	if c.Viewers < 1 || c.Viewers > MaxViewers {
		return c, fmt.Errorf("%w: viewers %d not in 1..%d", ErrConfig, c.Viewers, MaxViewers)
	}
	if c.Duration <= 0 || c.Duration > MaxDuration {
		return c, fmt.Errorf("%w: duration %v not in (0, %v]", ErrConfig, c.Duration, MaxDuration)
	}
	if c.JoinJitter < 0 || c.JoinJitter >= c.Duration {
		return c, fmt.Errorf("%w: join jitter %v not in [0, duration)", ErrConfig, c.JoinJitter)
	}
	if c.Variant < 0 {
		return c, fmt.Errorf("%w: variant %d", ErrConfig, c.Variant)
	}
	if c.PollJitter < 0 || c.PollJitter >= 1 {
		return c, fmt.Errorf("%w: poll jitter %v not in [0, 1)", ErrConfig, c.PollJitter)
	}
	if c.PollJitter == 0 {
		c.PollJitter = 0.1
	}
	if c.StartBack <= 0 {
		c.StartBack = 3
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = 50 * time.Millisecond
	}
	if c.ProbeDelay <= 0 {
		c.ProbeDelay = 100 * time.Millisecond
	}
	if c.ProbeFast <= 0 {
		c.ProbeFast = 20 * time.Millisecond
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Client == nil {
		c.Client = &http.Client{Transport: NewTransport(c.Viewers + 2)}
	}
	return c, nil
}

// NewTransport returns the transport all viewers share: plain HTTP/1.1 without
// compression, keeping up to conns idle connections per host.
func NewTransport(conns int) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          2 * conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: 30 * time.Second,
	}
}
