package viewerload

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

// TestRunSynthetic drives whole runs in a synctest bubble: in-memory origin and edge,
// fake time, so every figure is exact and repeatable.
func TestRunSynthetic(t *testing.T) {
	const (
		segDur  = 2 * time.Second
		segSize = 10_000
		window  = 6
	)
	tests := []struct {
		name        string
		url         string
		viewers     int
		duration    time.Duration
		fillDelay   time.Duration // the fake edge's time to fetch a new segment
		serveDelay  time.Duration // the fake edge's time to serve any segment
		probe       bool
		prewarm     bool // the edge holds the current window from an earlier run
		wantStalled bool
	}{
		{name: "media playlist", url: "http://edge/o/demo/live/360p/index.m3u8", viewers: 5, duration: 20 * time.Second},
		{name: "multivariant", url: "http://edge/o/demo/live/master.m3u8", viewers: 5, duration: 20 * time.Second, probe: true},
		{name: "edge warm from an earlier run", url: "http://edge/o/demo/live/360p/index.m3u8", viewers: 4, duration: 10 * time.Second, probe: true, prewarm: true},
		{name: "slow fills", url: "http://edge/o/demo/live/360p/index.m3u8", viewers: 8, duration: 30 * time.Second, fillDelay: 50 * time.Millisecond, probe: true},
		{name: "edge slower than real time", url: "http://edge/o/demo/live/360p/index.m3u8", viewers: 3, duration: 30 * time.Second, serveDelay: 5 * time.Second, wantStalled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				origin := newLiveOrigin(segDur, window, segSize)
				edge := newFakeEdge(origin, tt.fillDelay, tt.serveDelay)
				if tt.prewarm {
					pl, err := ParsePlaylist([]byte(origin.media(time.Now())))
					if err != nil {
						t.Fatal(err)
					}
					for _, s := range pl.Segments {
						edge.get(t.Context(), "/live/360p/"+s.URI, false)
					}
				}
				cfg := Config{
					URL:         tt.url,
					Viewers:     tt.viewers,
					Duration:    tt.duration,
					JoinJitter:  time.Second,
					Seed:        7,
					OriginStats: "http://origin/stats",
					Client:      &http.Client{Transport: handlerTransport{"origin": origin, "edge": edge}},
				}
				if tt.probe {
					cfg.OriginPlaylist = "http://origin/live/360p/index.m3u8"
				}
				rep, err := Run(t.Context(), cfg)
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				// Without probe or delays, no segment is ever in flight when the run ends.
				exact := !tt.probe && tt.fillDelay == 0 && tt.serveDelay == 0
				checkSynthetic(t, rep, origin, edge, cfg, segSize, exact)
				if o := rep.Origin; tt.prewarm && o.SegmentRequests >= int64(rep.DistinctSegments) {
					t.Errorf("origin segment requests = %d for %d distinct segments: the warm edge should have served some", o.SegmentRequests, rep.DistinctSegments)
				}
				if got := rep.StalledViewers == tt.viewers; got != tt.wantStalled {
					t.Errorf("stalled viewers = %d of %d (stalls %d), want all stalled: %v", rep.StalledViewers, tt.viewers, rep.Stalls, tt.wantStalled)
				}
				if tt.wantStalled && rep.Stalls < rep.Segments-int64(tt.viewers) {
					// Every segment takes longer than it plays: each one after the first stalls.
					t.Errorf("stalls = %d for %d segments of %d viewers, want every late segment counted", rep.Stalls, rep.Segments, tt.viewers)
				}
				if !tt.wantStalled {
					// Fetching is instant in fake time: a viewer waits at most one reload
					// interval (target duration +10 %) for a new segment, plus the fill.
					maxDelay := time.Duration(1.1*float64(segDur)) + tt.fillDelay
					if d := rep.PublishDelay; d.Count == 0 || d.P50 < 0 || d.Max > maxDelay {
						t.Errorf("publish delay = %+v, want within [0, %v]", d, maxDelay)
					}
					if rep.Latency.Max != tt.fillDelay {
						t.Errorf("max segment latency = %v, want the fill delay %v", rep.Latency.Max, tt.fillDelay)
					}
				}
				if tt.probe {
					p := rep.Probe
					if p == nil || p.Probes == 0 {
						t.Fatalf("probe report = %+v, want probes", p)
					}
					if p.Errors != 0 || p.Fast+p.Slow != p.Probes {
						t.Errorf("probe = %+v, want no errors", p)
					}
					// A probe is slow exactly when it triggered the fill itself.
					if tt.fillDelay == 0 && p.Slow != 0 {
						t.Errorf("probe slow = %d with instant fills", p.Slow)
					}
					if tt.fillDelay > 0 && (p.Latency.Max != tt.fillDelay || p.Slow == 0) {
						t.Errorf("probe = %+v, want slow fetches of %v", p, tt.fillDelay)
					}
				}
			})
		})
	}
}

// checkSynthetic checks the figures every synthetic run must satisfy.
func checkSynthetic(t *testing.T, rep *Report, origin *liveOrigin, edge *fakeEdge, cfg Config, segSize int64, exact bool) {
	t.Helper()
	if rep.Errors != 0 {
		t.Errorf("errors = %d: %q", rep.Errors, rep.ErrorSamples)
	}
	if rep.Viewers != cfg.Viewers || rep.Duration != cfg.Duration {
		t.Errorf("viewers, duration = %d, %v; want %d, %v", rep.Viewers, rep.Duration, cfg.Viewers, cfg.Duration)
	}
	if min := int64(cfg.Viewers * 3); rep.Segments < min {
		t.Errorf("segments = %d, want at least the %d start-up segments", rep.Segments, min)
	}
	if rep.Latency.Count != int(rep.Segments) {
		t.Errorf("latency samples = %d, want one per segment (%d)", rep.Latency.Count, rep.Segments)
	}
	// Delays leave out the StartBack segments each viewer starts with.
	if got, want := rep.PublishDelay.Count, int(rep.Segments)-3*cfg.Viewers; got != want {
		t.Errorf("delay samples = %d, want one per segment after the first 3 of each viewer (%d)", got, want)
	}
	if rep.Startup.Count != cfg.Viewers {
		t.Errorf("startup samples = %d, want one per viewer", rep.Startup.Count)
	}
	if want := int64(rep.DistinctSegments) * segSize; rep.OneCopyBytes != want {
		t.Errorf("one-copy bytes = %d, want %d distinct x %d", rep.OneCopyBytes, rep.DistinctSegments, segSize)
	}
	var probeBytes int64
	if rep.Probe != nil {
		probeBytes = int64(rep.Probe.Fast+rep.Probe.Slow) * segSize
	}
	if want := edge.servedBytes() - probeBytes; rep.LANBytes != want {
		t.Errorf("LAN bytes = %d, want what the edge served to viewers, %d", rep.LANBytes, want)
	}
	o := rep.Origin
	if o == nil {
		t.Fatal("no origin report")
	}
	if want := origin.bytesVia("edge"); o.WANBytes != want {
		t.Errorf("WAN bytes = %d, want what the origin sent the edge, %d", o.WANBytes, want)
	}
	// The fake edge fills each segment once, so the ratios are exactly 1 unless the
	// probe fetched a segment that no viewer got to, or a viewer's last fetch was cut.
	if o.FreshSegments > 0 && (o.RequestsPerSegment != 1 || o.WANPerOneCopy != 1) {
		// Segments published during the run were each filled exactly once.
		t.Errorf("over %d fresh segments: requests per segment, WAN per one copy = %v, %v; want 1, 1", o.FreshSegments, o.RequestsPerSegment, o.WANPerOneCopy)
	}
	if (o.FreshSegments > 0) != (rep.Probe != nil) {
		t.Errorf("fresh segments = %d, want some exactly when the run maps edge URLs to the origin (probe %v)", o.FreshSegments, rep.Probe != nil)
	}
	if exact && (o.RequestsPerSegment != 1 || o.WANPerOneCopy != 1) {
		t.Errorf("requests per segment, WAN per one copy = %v, %v; want 1, 1", o.RequestsPerSegment, o.WANPerOneCopy)
	}
	if want := 1 - float64(o.WANBytes)/float64(rep.LANBytes); o.Offload != want || o.Offload <= 0 {
		t.Errorf("offload = %v, want %v > 0", o.Offload, want)
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr error
	}{
		{name: "no URL", cfg: Config{Viewers: 1, Duration: time.Second}, wantErr: ErrConfig},
		{name: "no viewers", cfg: Config{URL: "http://edge/x.m3u8", Duration: time.Second}, wantErr: ErrConfig},
		{name: "too many viewers", cfg: Config{URL: "http://edge/x.m3u8", Viewers: MaxViewers + 1, Duration: time.Second}, wantErr: ErrConfig},
		{name: "too long", cfg: Config{URL: "http://edge/x.m3u8", Viewers: 1, Duration: MaxDuration + 1}, wantErr: ErrConfig},
		{name: "jitter longer than run", cfg: Config{URL: "http://edge/x.m3u8", Viewers: 1, Duration: time.Second, JoinJitter: time.Second}, wantErr: ErrConfig},
		{name: "missing variant", cfg: Config{URL: "http://edge/o/demo/live/master.m3u8", Variant: 2, Viewers: 1, Duration: time.Second}, wantErr: ErrNoVariant},
		{name: "not a playlist", cfg: Config{URL: "http://edge/o/demo/stats", Viewers: 1, Duration: time.Second}, wantErr: ErrNotPlaylist},
		{name: "not found", cfg: Config{URL: "http://edge/o/demo/live/none.m3u8", Viewers: 1, Duration: time.Second}, wantErr: ErrStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				origin := newLiveOrigin(2*time.Second, 6, 100)
				tt.cfg.Client = &http.Client{Transport: handlerTransport{"edge": newFakeEdge(origin, 0, 0)}}
				_, err := Run(t.Context(), tt.cfg)
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Run: %v, want %v", err, tt.wantErr)
				}
			})
		})
	}
}

// TestRunCountsErrors checks that failing requests during a run are counted, sampled and
// do not stop the viewers.
func TestRunCountsErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		origin := newLiveOrigin(2*time.Second, 6, 100)
		edge := newFakeEdge(origin, 0, 0)
		var calls int
		flaky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls++ // one viewer: requests come one at a time
			if calls > 1 && calls%3 == 0 {
				http.Error(w, "boom", http.StatusBadGateway)
				return
			}
			edge.ServeHTTP(w, r)
		})
		rep, err := Run(t.Context(), Config{
			URL: "http://edge/o/demo/live/360p/index.m3u8", Viewers: 1, Duration: 20 * time.Second,
			Client: &http.Client{Transport: handlerTransport{"edge": flaky}},
		})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if want := int64(calls-1) / 3; rep.Errors != want {
			t.Errorf("errors = %d, want %d of %d requests", rep.Errors, want, calls)
		}
		if len(rep.ErrorSamples) == 0 || rep.Segments == 0 {
			t.Errorf("report = %+v, want error samples and segments", rep)
		}
	})
}

func TestRunCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		origin := newLiveOrigin(2*time.Second, 6, 100)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(5*time.Second, cancel)
		rep, err := Run(ctx, Config{
			URL: "http://edge/o/demo/live/360p/index.m3u8", Viewers: 2, Duration: time.Minute,
			Client: &http.Client{Transport: handlerTransport{"edge": newFakeEdge(origin, 0, 0)}},
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v, want context.Canceled", err)
		}
		if rep == nil || rep.Duration != 5*time.Second || rep.Errors != 0 {
			t.Errorf("report = %+v, want 5 s without errors", rep)
		}
	})
}
