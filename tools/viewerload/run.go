package viewerload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// progressEvery is how often Run logs how many segments the viewers fetched so far.
const progressEvery = 10 * time.Second

// run is the state the viewers of one Run share.
type run struct {
	cfg          Config
	f            fetcher
	mediaURL     *url.URL // the media playlist at the edge
	multivariant bool     // cfg.URL is a multivariant playlist
	segs         segmentSet
	progress     atomic.Int64 // segments fetched so far, for the log
}

// Run simulates cfg.Viewers players for cfg.Duration, or until every viewer reached the
// end of a VOD playlist, and reports what they saw. It returns early, with the report so
// far and ctx's error, when ctx is done.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	ownClient := cfg.Client == nil
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if ownClient {
		defer cfg.Client.CloseIdleConnections()
	}
	r := &run{cfg: cfg, f: fetcher{client: cfg.Client, timeout: cfg.Timeout}}
	if err := r.resolve(ctx); err != nil {
		return nil, err
	}
	var pr *probe
	if cfg.OriginPlaylist != "" {
		if pr, err = newProbe(r); err != nil {
			return nil, err
		}
	}
	if cfg.OriginStats != "" {
		if err := ResetOriginStats(ctx, cfg.Client, cfg.OriginStats); err != nil {
			return nil, err
		}
	}
	cfg.Logger.Info("viewers: start", "url", r.mediaURL.String(), "viewers", cfg.Viewers, "duration", cfg.Duration)

	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	started := time.Now()
	viewers := make([]*viewer, cfg.Viewers)
	var wg sync.WaitGroup
	for i := range viewers {
		v := &viewer{r: r, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i)))}
		viewers[i] = v
		var join time.Duration
		if cfg.JoinJitter > 0 {
			join = time.Duration(v.rng.Int64N(int64(cfg.JoinJitter)))
		}
		wg.Go(func() { v.play(runCtx, join) })
	}
	var side sync.WaitGroup // the probe and the progress log stop when the viewers are done
	if pr != nil {
		side.Go(func() { pr.run(runCtx) })
	}
	side.Go(func() { r.logProgress(runCtx) })
	wg.Wait()
	elapsed := time.Since(started)
	cancel()
	side.Wait()

	rep := r.report(viewers, started, elapsed)
	if pr != nil {
		rep.Probe = pr.report()
	}
	if cfg.OriginStats != "" {
		s, err := ReadOriginStats(context.WithoutCancel(ctx), cfg.Client, cfg.OriginStats)
		if err != nil {
			return rep, err
		}
		rep.Origin = r.originReport(s, pr, rep)
	}
	cfg.Logger.Info("viewers: done", "segments", rep.Segments, "errors", rep.Errors, "stalls", rep.Stalls)
	return rep, ctx.Err()
}

// resolve finds the media playlist: cfg.URL itself, or the chosen variant of it.
func (r *run) resolve(ctx context.Context) error {
	base, err := url.Parse(r.cfg.URL)
	if err != nil {
		return fmt.Errorf("parse URL: %w", err)
	}
	body, err := r.f.playlist(ctx, r.cfg.URL)
	if err != nil {
		return fmt.Errorf("resolve playlist: %w", err)
	}
	pl, err := ParsePlaylist(body)
	if err != nil {
		return fmt.Errorf("resolve playlist %s: %w", r.cfg.URL, err)
	}
	r.mediaURL = base
	if !pl.IsMultivariant() {
		return nil
	}
	if r.cfg.Variant >= len(pl.Variants) {
		return fmt.Errorf("resolve variant %d of %d: %w", r.cfg.Variant, len(pl.Variants), ErrNoVariant)
	}
	ref, err := url.Parse(pl.Variants[r.cfg.Variant].URI)
	if err != nil {
		return fmt.Errorf("parse variant URI: %w", err)
	}
	r.mediaURL = base.ResolveReference(ref)
	r.multivariant = true
	return nil
}

func (r *run) logProgress(ctx context.Context) {
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.cfg.Logger.Info("viewers: progress", "segments", r.progress.Load())
		}
	}
}

// segmentSet remembers every distinct segment URL fetched, its size and publish time.
type segmentSet struct {
	mu sync.Mutex
	m  map[string]segmentInfo
}

type segmentInfo struct {
	size    int64
	publish time.Time // zero without PROGRAM-DATE-TIME
}

func (s *segmentSet) add(u string, size int64, publish time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]segmentInfo)
	}
	s.m[u] = segmentInfo{size: size, publish: publish}
}

// totals returns the number of distinct segments and the sum of their sizes.
func (s *segmentSet) totals() (n int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, info := range s.m {
		bytes += info.size
	}
	return len(s.m), bytes
}

// publishedAfter calls f for every segment published after t.
func (s *segmentSet) publishedAfter(t time.Time, f func(u string, info segmentInfo)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for u, info := range s.m {
		if info.publish.After(t) {
			f(u, info)
		}
	}
}
