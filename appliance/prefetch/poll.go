package prefetch

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/hls"
)

const (
	// earlyBy is how long before a segment is due the poller reloads, so that a
	// poller whose phase drifted late catches up by this much each cycle.
	earlyBy = 250 * time.Millisecond
	// retryEvery is the reload interval while a due segment has not appeared.
	retryEvery = 25 * time.Millisecond
	// maxWarmsInFlight bounds concurrent segment fetches per stream.
	maxWarmsInFlight = 4
)

// poll is the loop of one live playlist.
func (p *Prefetcher) poll(ref Ref, s *stream) {
	defer p.wg.Done()
	ctx := p.ctx
	var (
		last     int64     = -1 // highest media sequence handed to Warm
		due      time.Time      // when the next segment is expected
		blocking bool
		failures int
		warms    sync.WaitGroup
		sem      = make(chan struct{}, maxWarmsInFlight)
	)
	defer warms.Wait()
	log := p.log.With("stream", ref.String())
	for {
		if p.idle(s, time.Now()) {
			log.Debug("prefetch stops: no viewers")
			p.stop(ref, false)
			return
		}
		msn := int64(-1)
		if blocking && last >= 0 {
			msn = last + 1
		}
		m, err := p.reload(ctx, ref, msn, time.Duration(s.target.Load()))
		if ctx.Err() != nil {
			p.stop(ref, false)
			return
		}
		if err != nil || !m.Live() {
			if errors.Is(err, ErrNotLive) || (err == nil && !m.Live()) {
				p.stop(ref, true)
				return
			}
			p.pollErrors.Add(1)
			failures++
			log.Debug("playlist reload failed", "err", err, "failures", failures)
			if !sleep(ctx, min(time.Duration(failures)*time.Second, 2*time.Duration(s.target.Load()))) {
				p.stop(ref, false)
				return
			}
			continue
		}
		failures = 0
		if m.TargetDuration > 0 {
			s.target.Store(int64(m.TargetDuration))
		}
		blocking = m.CanBlockReload
		now := time.Now()
		fresh := newSegments(m, last, p.cfg.StartSegments)
		for _, seg := range fresh {
			if int64(seg.Sequence) > last {
				last = int64(seg.Sequence)
			}
			warms.Add(1)
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				warms.Done()
				p.stop(ref, false)
				return
			}
			go func(uri string, seen time.Time) {
				defer warms.Done()
				defer func() { <-sem }()
				if err := p.cfg.Source.Warm(ctx, ref, uri); err != nil {
					p.warmErrors.Add(1)
					log.Debug("prefetch failed", "uri", uri, "err", err)
					return
				}
				p.warmed.Add(1)
				p.leadNanos.Add(int64(time.Since(seen)))
			}(seg.URI, now)
		}
		if len(m.Segments) > 0 && last > int64(m.Segments[len(m.Segments)-1].Sequence) {
			// The media sequence went backwards: the origin restarted the stream.
			last = int64(m.Segments[len(m.Segments)-1].Sequence)
		}
		if blocking {
			continue // the next reload blocks at the origin until the segment exists
		}
		var wait time.Duration
		if len(fresh) > 0 {
			edge := m.Segments[len(m.Segments)-1]
			due = now.Add(edge.Duration)
			wait = edge.Duration - earlyBy
		} else if now.Before(due.Add(-retryEvery)) {
			wait = due.Sub(now) - earlyBy
		} else {
			wait = retryEvery
		}
		wait = max(wait, retryEvery)
		wait = min(wait, time.Duration(s.target.Load()))
		if !sleep(ctx, wait) {
			p.stop(ref, false)
			return
		}
	}
}

// reload fetches the playlist once, bounded in time.
func (p *Prefetcher) reload(ctx context.Context, ref Ref, msn int64, target time.Duration) (*hls.Media, error) {
	p.polls.Add(1)
	limit := 2*target + 5*time.Second // a blocking reload may be held up to ~3 target durations
	if msn >= 0 {
		limit += 2 * target
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	return p.cfg.Source.Playlist(ctx, ref, msn)
}

// newSegments returns the segments after sequence last; on the first load (last < 0)
// only the start segments nearest the live edge.
func newSegments(m *hls.Media, last int64, start int) []hls.Segment {
	segs := m.Segments
	if last < 0 {
		if len(segs) > start {
			segs = segs[len(segs)-start:]
		}
		return segs
	}
	for i, s := range segs {
		if int64(s.Sequence) > last {
			return segs[i:]
		}
	}
	if len(segs) > 0 && int64(segs[len(segs)-1].Sequence)+int64(len(segs)) < last {
		// Sequence far behind what we saw: a restarted stream; take its edge.
		return segs[max(0, len(segs)-start):]
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
