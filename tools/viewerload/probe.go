package viewerload

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
)

// probe learns each new segment the moment it appears in the origin's playlist and asks
// the edge for it ProbeDelay later, to see whether the edge already had it.
type probe struct {
	r         *run
	originURL *url.URL
	edgeDir   string // edge media playlist URL up to and including its last '/'
	originDir string // origin playlist URL up to and including its last '/'

	wg sync.WaitGroup

	mu            sync.Mutex
	latency       []time.Duration
	fast, slow    int
	errors        int
	originBytes   int64 // the probe's own origin traffic, kept out of the WAN figures
	originFetches int64
}

func newProbe(r *run) (*probe, error) {
	ou, err := url.Parse(r.cfg.OriginPlaylist)
	if err != nil {
		return nil, fmt.Errorf("parse origin playlist URL: %w", err)
	}
	return &probe{
		r:         r,
		originURL: ou,
		originDir: dirOf(ou),
		edgeDir:   dirOf(r.mediaURL),
	}, nil
}

// dirOf returns u without query and without the last path element.
func dirOf(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment = "", ""
	s := c.String()
	return s[:strings.LastIndexByte(s, '/')+1]
}

// edgeURL maps a segment URI of the origin playlist to the same segment at the edge.
func (p *probe) edgeURL(uri string) (string, error) {
	ref, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("parse segment URI: %w", err)
	}
	abs := p.originURL.ResolveReference(ref).String()
	rest, ok := strings.CutPrefix(abs, p.originDir)
	if !ok {
		return "", fmt.Errorf("map %s: %w", abs, ErrOutsideOrigin)
	}
	return p.edgeDir + rest, nil
}

// run polls the origin playlist until ctx is done, then waits for its fetches.
func (p *probe) run(ctx context.Context) {
	defer p.wg.Wait()
	tick := time.NewTicker(p.r.cfg.ProbeInterval)
	defer tick.Stop()
	last := int64(-1)
	for {
		// The poll is not cut when the run ends, so the origin never counts a poll
		// the probe did not: the WAN figures subtract exactly the probe's own bytes.
		body, err := p.r.f.playlist(context.WithoutCancel(ctx), p.originURL.String())
		var pl *Playlist
		if err == nil {
			p.mu.Lock()
			p.originBytes += int64(len(body))
			p.originFetches++
			p.mu.Unlock()
			pl, err = ParsePlaylist(body)
		}
		if err == nil {
			last = p.spawn(ctx, pl, last)
		} else if ctx.Err() == nil {
			p.r.cfg.Logger.Warn("probe: origin playlist", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// spawn starts a delayed edge fetch for every segment newer than last and returns the
// newest sequence seen. The segments present at the first poll are not probed: nobody
// knows when they appeared.
func (p *probe) spawn(ctx context.Context, pl *Playlist, last int64) int64 {
	if len(pl.Segments) == 0 {
		return last
	}
	newest := pl.Segments[len(pl.Segments)-1].Sequence
	if last < 0 || newest < last {
		return newest
	}
	for _, s := range pl.Segments {
		if s.Sequence <= last {
			continue
		}
		u, err := p.edgeURL(s.URI)
		if err != nil {
			p.record(0, err)
			continue
		}
		p.wg.Go(func() {
			if !sleep(ctx, p.r.cfg.ProbeDelay) {
				return
			}
			began := time.Now()
			_, err := p.r.f.count(ctx, u)
			if ctx.Err() != nil {
				return
			}
			p.record(time.Since(began), err)
		})
	}
	return newest
}

func (p *probe) record(d time.Duration, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.errors++
		p.r.cfg.Logger.Warn("probe: edge fetch", "err", err)
		return
	}
	p.latency = append(p.latency, d)
	if d < p.r.cfg.ProbeFast {
		p.fast++
	} else {
		p.slow++
	}
}

// report summarizes the probe after run returned.
func (p *probe) report() *ProbeReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &ProbeReport{
		Probes:    p.fast + p.slow + p.errors,
		Fast:      p.fast,
		Slow:      p.slow,
		Errors:    p.errors,
		Threshold: p.r.cfg.ProbeFast,
		Delay:     p.r.cfg.ProbeDelay,
		Latency:   Summarize(p.latency),
	}
}
