// Package prefetch keeps the cache ahead of live viewers.
//
// In: Touch calls from the edge, one per viewer request for a media playlist. Out:
// cache fills of each new live segment, issued the moment the segment appears in the
// origin's playlist, so that viewers who ask for it a moment later hit the cache.
//
// A touched playlist gets one poller. The poller reloads the playlist from the
// origin (LL-HLS blocking reload with _HLS_msn when the origin advertises
// CAN-BLOCK-RELOAD, otherwise timed polls that aim at the moment the next segment is
// due and then retry every 25 ms), and hands every new segment URI to the Source's
// Warm. It stops when nobody touched the playlist for IdleTargetDurations target
// durations, or at once for a VOD or multivariant playlist (those are not live).
package prefetch

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/hls"
)

// Ref names a media playlist: an origin and the path below it (with its query).
type Ref struct {
	Origin string
	Path   string
}

func (r Ref) String() string { return r.Origin + "/" + r.Path }

// Source is how the prefetcher reaches the origin and the cache.
type Source interface {
	// Playlist loads the current media playlist from the origin, bypassing the
	// viewers' cached copy. msn >= 0 asks for a blocking reload (_HLS_msn=msn).
	Playlist(ctx context.Context, ref Ref, msn int64) (*hls.Media, error)
	// Warm makes sure the object at uri (as written in the playlist of ref) is in the
	// cache and returns when it is stored, or the fill failed.
	Warm(ctx context.Context, ref Ref, uri string) error
}

// ErrNotLive is what a Source returns (wrapped or not) for a playlist that is not a
// live media playlist; the poller then stops quietly.
var ErrNotLive = errors.New("prefetch: not a live media playlist")

// Config configures a Prefetcher.
type Config struct {
	Source Source
	// IdleTargetDurations: stop polling after this many target durations without a
	// Touch; zero means 3.
	IdleTargetDurations int
	// MaxStreams bounds concurrent pollers; zero means 256.
	MaxStreams int
	// StartSegments is how many segments back from the live edge the first poll
	// warms (players start about 3 back); zero means 3.
	StartSegments int
	Logger        *slog.Logger
}

// Prefetcher runs one poller per live playlist that viewers watch.
type Prefetcher struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	streams map[Ref]*stream
	notLive map[Ref]time.Time // playlists found not live, not retried until the time

	polls, warmed, warmErrors, pollErrors atomic.Int64
	leadNanos                             atomic.Int64 // sum over warmed segments of (stored - seen)
}

type stream struct {
	lastTouch atomic.Int64 // unix nanos
	target    atomic.Int64 // target duration, nanos
}

// Stats are the prefetcher's counters.
type Stats struct {
	Streams    int   // live playlists being polled now
	Polls      int64 // playlist reloads
	PollErrors int64
	Warmed     int64 // segments fetched ahead of viewers
	WarmErrors int64
	// MeanFillSeconds is the mean time from a segment's first sighting in the
	// playlist to it being stored.
	MeanFillSeconds float64
}

// New returns a running Prefetcher; Close stops it.
func New(cfg Config) *Prefetcher {
	if cfg.IdleTargetDurations <= 0 {
		cfg.IdleTargetDurations = 3
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 256
	}
	if cfg.StartSegments <= 0 {
		cfg.StartSegments = 3
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Prefetcher{cfg: cfg, log: log, ctx: ctx, cancel: cancel,
		streams: map[Ref]*stream{}, notLive: map[Ref]time.Time{}}
}

// SetIdleTargetDurations changes the idle limit for running and future pollers.
func (p *Prefetcher) SetIdleTargetDurations(n int) {
	if n > 0 {
		p.mu.Lock()
		p.cfg.IdleTargetDurations = n
		p.mu.Unlock()
	}
}

// Touch records that a viewer asked for the playlist ref now, and starts its poller
// if it has none.
func (p *Prefetcher) Touch(ref Ref) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return
	}
	if s, ok := p.streams[ref]; ok {
		s.lastTouch.Store(now.UnixNano())
		return
	}
	if until, ok := p.notLive[ref]; ok && now.Before(until) {
		return
	}
	delete(p.notLive, ref)
	if len(p.streams) >= p.cfg.MaxStreams {
		return
	}
	s := &stream{}
	s.lastTouch.Store(now.UnixNano())
	s.target.Store(int64(2 * time.Second))
	p.streams[ref] = s
	p.wg.Add(1)
	go p.poll(ref, s)
}

// Watching reports whether ref has a running poller.
func (p *Prefetcher) Watching(ref Ref) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.streams[ref]
	return ok
}

// Stats returns the counters.
func (p *Prefetcher) Stats() Stats {
	p.mu.Lock()
	n := len(p.streams)
	p.mu.Unlock()
	st := Stats{Streams: n, Polls: p.polls.Load(), PollErrors: p.pollErrors.Load(),
		Warmed: p.warmed.Load(), WarmErrors: p.warmErrors.Load()}
	if st.Warmed > 0 {
		st.MeanFillSeconds = time.Duration(p.leadNanos.Load() / st.Warmed).Seconds()
	}
	return st
}

// Close stops every poller and waits for them.
func (p *Prefetcher) Close() {
	p.mu.Lock()
	p.cancel()
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Prefetcher) idle(s *stream, now time.Time) bool {
	p.mu.Lock()
	n := p.cfg.IdleTargetDurations
	p.mu.Unlock()
	limit := time.Duration(n) * time.Duration(s.target.Load())
	return now.Sub(time.Unix(0, s.lastTouch.Load())) > limit
}

func (p *Prefetcher) stop(ref Ref, notLive bool) {
	p.mu.Lock()
	delete(p.streams, ref)
	if notLive {
		p.notLive[ref] = time.Now().Add(time.Minute)
		if len(p.notLive) > 10000 { // bounded: forget the oldest marks wholesale
			clear(p.notLive)
		}
	}
	p.mu.Unlock()
}
