package viewerload

import (
	"context"
	"math/rand/v2"
	"net/url"
	"time"
)

// fallbackTarget is the reload interval used while a viewer knows no target duration.
const fallbackTarget = 2 * time.Second

// maxErrorSamples is how many distinct error texts one viewer keeps for the report.
const maxErrorSamples = 3

// viewerResult is what one viewer measured; the run merges them after all viewers stop.
type viewerResult struct {
	segments, playlists, errors, skipped int64
	bytes                                int64
	latency, delay                       []time.Duration
	startup                              time.Duration
	started                              bool
	stalls                               int
	stalled                              time.Duration
	errSamples                           []string
}

// viewer is one simulated player. Only its own goroutine touches it until the run ends.
type viewer struct {
	r   *run
	rng *rand.Rand
	res viewerResult
	buf Buffer
}

// play joins after join, then follows the live edge until ctx is done or a VOD playlist
// has been fetched to its end.
func (v *viewer) play(ctx context.Context, join time.Duration) {
	if !sleep(ctx, join) {
		return
	}
	joined := time.Now()
	defer func() { v.finish(time.Now()) }()
	if v.r.multivariant {
		// A player loads the multivariant playlist once; the run already resolved the variant.
		if body, err := v.r.f.playlist(ctx, v.r.cfg.URL); err != nil {
			v.fail(ctx, err)
		} else {
			v.res.playlists++
			v.res.bytes += int64(len(body))
		}
	}
	mediaURL := v.r.mediaURL.String()
	next := int64(-1)
	for ctx.Err() == nil {
		polled := time.Now()
		body, err := v.r.f.playlist(ctx, mediaURL)
		if err == nil {
			v.res.playlists++
			v.res.bytes += int64(len(body))
		}
		var pl *Playlist
		if err == nil {
			pl, err = ParsePlaylist(body)
		}
		if err != nil {
			v.fail(ctx, err)
			if !sleep(ctx, fallbackTarget/2) {
				return
			}
			continue
		}
		fetched := v.follow(ctx, pl, &next, joined)
		if pl.Ended && len(pl.Segments) > 0 && next > pl.Segments[len(pl.Segments)-1].Sequence {
			return
		}
		target := pl.TargetDuration
		if target <= 0 {
			target = fallbackTarget
		}
		wait := target / 2 // RFC 8216 6.3.4: an unchanged playlist is retried after half the target
		if fetched > 0 {
			f := 1 + v.r.cfg.PollJitter*(2*v.rng.Float64()-1)
			wait = time.Duration(float64(target) * f)
		}
		if !sleep(ctx, time.Until(polled.Add(wait))) {
			return
		}
	}
}

// follow fetches, in order, every segment of pl from *next on and advances *next. On the
// first playlist it first places *next StartBack segments behind the live edge. It
// returns how many segments it fetched.
func (v *viewer) follow(ctx context.Context, pl *Playlist, next *int64, joined time.Time) int {
	segs := pl.Segments
	if len(segs) == 0 {
		return 0
	}
	first, last := segs[0].Sequence, segs[len(segs)-1].Sequence
	if *next < 0 || *next > last+1+int64(len(segs)) {
		// First playlist, or the sequence went back (origin restarted): start over.
		start := 0
		if !pl.Ended {
			start = max(0, len(segs)-v.r.cfg.StartBack)
		}
		*next = segs[start].Sequence
	}
	if *next < first {
		v.res.skipped += first - *next
		*next = first
	}
	fetched := 0
	for _, s := range segs {
		if s.Sequence < *next {
			continue
		}
		if ctx.Err() != nil {
			return fetched
		}
		*next = s.Sequence + 1
		ref, err := url.Parse(s.URI)
		if err != nil {
			v.fail(ctx, err)
			continue
		}
		u := v.r.mediaURL.ResolveReference(ref).String()
		began := time.Now()
		n, err := v.r.f.count(ctx, u)
		done := time.Now()
		if err != nil {
			v.fail(ctx, err)
			continue
		}
		fetched++
		v.res.segments++
		v.res.bytes += n
		v.res.latency = append(v.res.latency, done.Sub(began))
		// Segments published before the viewer joined are catch-up from StartBack,
		// old by construction; the delay says how fast the edge delivers new ones.
		if pub := s.PublishTime(); !pub.IsZero() && !pub.Before(joined) {
			v.res.delay = append(v.res.delay, done.Sub(pub))
		}
		if !v.res.started {
			v.res.started = true
			v.res.startup = done.Sub(joined)
		}
		v.buf.Add(done, s.Duration)
		v.r.segs.add(u, n, s.PublishTime())
		v.r.progress.Add(1)
	}
	return fetched
}

// fail counts an error unless it is the run ending.
func (v *viewer) fail(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	v.res.errors++
	msg := err.Error()
	for _, s := range v.res.errSamples {
		if s == msg {
			return
		}
	}
	if len(v.res.errSamples) < maxErrorSamples {
		v.res.errSamples = append(v.res.errSamples, msg)
	}
}

// finish closes the playback model at the end of the run.
func (v *viewer) finish(now time.Time) {
	v.buf.Finish(now)
	v.res.stalls = v.buf.Stalls
	v.res.stalled = v.buf.Stalled
}
