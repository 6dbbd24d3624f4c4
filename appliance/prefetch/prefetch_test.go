package prefetch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/hls"
	"go.uber.org/goleak"
)

// liveSource is a live origin on the fake clock of a synctest bubble: segment n is
// published at start + (n+1)*seg. It records every warm with its (fake) time.
type liveSource struct {
	start    time.Time
	seg      time.Duration
	window   int
	blocking bool
	vod      bool
	failFor  int // first failFor reloads fail

	mu     sync.Mutex
	warms  map[string]time.Time
	msns   []int64
	reload int
}

func (s *liveSource) published(now time.Time) int64 {
	return int64(now.Sub(s.start)/s.seg) - 1
}

func (s *liveSource) Playlist(ctx context.Context, ref Ref, msn int64) (*hls.Media, error) {
	s.mu.Lock()
	s.reload++
	n := s.reload
	if msn >= 0 {
		s.msns = append(s.msns, msn)
	}
	s.mu.Unlock()
	if n <= s.failFor {
		return nil, errors.New("origin down")
	}
	if msn >= 0 {
		for s.published(time.Now()) < msn {
			at := s.start.Add(time.Duration(msn+1) * s.seg)
			select {
			case <-time.After(time.Until(at)):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	edge := s.published(time.Now())
	m := &hls.Media{TargetDuration: s.seg, Ended: s.vod, CanBlockReload: s.blocking}
	first := max(0, edge-int64(s.window)+1)
	m.MediaSequence = uint64(first)
	for q := first; q <= edge; q++ {
		m.Segments = append(m.Segments, hls.Segment{URI: fmt.Sprintf("seg-%d.ts", q), Sequence: uint64(q), Duration: s.seg})
	}
	return m, nil
}

func (s *liveSource) Warm(ctx context.Context, ref Ref, uri string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.warms[uri]; dup {
		return fmt.Errorf("warmed %s twice", uri)
	}
	s.warms[uri] = time.Now()
	return nil
}

func (s *liveSource) snapshot() map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]time.Time, len(s.warms))
	for k, v := range s.warms {
		out[k] = v
	}
	return out
}

func TestPrefetchFollowsLiveEdge(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, tc := range []struct {
		name     string
		blocking bool
		maxLag   time.Duration // fake-clock bound on publish -> warm
	}{
		{"polling", false, retryEvery},
		{"blocking reload", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := &liveSource{start: time.Now().Add(-20 * time.Second), seg: 2 * time.Second, window: 6,
					blocking: tc.blocking, warms: map[string]time.Time{}}
				p := New(Config{Source: src})
				defer p.Close()
				ref := Ref{"demo", "live/360p/index.m3u8"}
				firstEdge := src.published(time.Now())
				// A viewer keeps watching for 20 s (touching every 2 s).
				for range 10 {
					p.Touch(ref)
					time.Sleep(2 * time.Second)
				}
				synctest.Wait()
				warms := src.snapshot()
				lastEdge := src.published(time.Now())
				// The first load warms the 3 segments nearest the edge, then every new one.
				for q := firstEdge - 2; q <= lastEdge; q++ {
					at, ok := warms[fmt.Sprintf("seg-%d.ts", q)]
					if !ok {
						t.Fatalf("segment %d never prefetched (edge %d..%d)", q, firstEdge, lastEdge)
					}
					if q > firstEdge+1 { // after the poller found its phase
						lag := at.Sub(src.start.Add(time.Duration(q+1) * src.seg))
						if lag < 0 || lag > tc.maxLag {
							t.Errorf("segment %d warmed %v after publish, want <= %v", q, lag, tc.maxLag)
						}
					}
				}
				if len(warms) != int(lastEdge-firstEdge+3) {
					t.Errorf("warmed %d segments, want %d", len(warms), lastEdge-firstEdge+3)
				}
				if tc.blocking && len(src.msns) == 0 {
					t.Error("blocking reload never used _HLS_msn")
				}
			})
		})
	}
}

func TestPrefetchStopsWhenIdle(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		src := &liveSource{start: time.Now().Add(-20 * time.Second), seg: 2 * time.Second, window: 6, warms: map[string]time.Time{}}
		p := New(Config{Source: src, IdleTargetDurations: 3})
		defer p.Close()
		ref := Ref{"demo", "live/a.m3u8"}
		p.Touch(ref)
		time.Sleep(5 * time.Second)
		if !p.Watching(ref) {
			t.Fatal("poller stopped while within the idle limit")
		}
		time.Sleep(4 * time.Second) // 9 s: past 3 x 2 s since the touch plus one poll interval
		synctest.Wait()
		if p.Watching(ref) {
			t.Fatal("poller still running with no viewers")
		}
		reloads := src.reload
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if src.reload != reloads {
			t.Errorf("playlist reloaded %d more times after stop", src.reload-reloads)
		}
		if p.Stats().Streams != 0 {
			t.Errorf("Stats.Streams = %d", p.Stats().Streams)
		}
	})
}

func TestPrefetchIgnoresVOD(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		src := &liveSource{start: time.Now().Add(-20 * time.Second), seg: 2 * time.Second, window: 6, vod: true, warms: map[string]time.Time{}}
		p := New(Config{Source: src})
		defer p.Close()
		ref := Ref{"demo", "vod/index.m3u8"}
		p.Touch(ref)
		synctest.Wait()
		if p.Watching(ref) || len(src.snapshot()) != 0 {
			t.Fatal("VOD playlist is being prefetched")
		}
		p.Touch(ref) // remembered as not live: no second reload
		synctest.Wait()
		if src.reload != 1 {
			t.Errorf("reloads = %d, want 1", src.reload)
		}
	})
}

func TestPrefetchRecoversFromOriginErrors(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		src := &liveSource{start: time.Now().Add(-20 * time.Second), seg: 2 * time.Second, window: 6, failFor: 3, warms: map[string]time.Time{}}
		p := New(Config{Source: src})
		defer p.Close()
		ref := Ref{"demo", "live/a.m3u8"}
		for range 5 {
			p.Touch(ref)
			time.Sleep(2 * time.Second)
		}
		synctest.Wait()
		st := p.Stats()
		if st.PollErrors != 3 {
			t.Errorf("PollErrors = %d, want 3", st.PollErrors)
		}
		if st.Warmed == 0 || len(src.snapshot()) == 0 {
			t.Error("nothing prefetched after the origin came back")
		}
	})
}

func TestNewSegments(t *testing.T) {
	mk := func(first, n int) *hls.Media {
		m := &hls.Media{}
		for i := range n {
			m.Segments = append(m.Segments, hls.Segment{Sequence: uint64(first + i)})
		}
		return m
	}
	for _, tc := range []struct {
		name      string
		m         *hls.Media
		last      int64
		wantFirst int64
		wantN     int
	}{
		{"first load takes the edge", mk(10, 6), -1, 13, 3},
		{"first load short playlist", mk(0, 2), -1, 0, 2},
		{"one new", mk(11, 6), 15, 16, 1},
		{"none new", mk(10, 6), 15, 0, 0},
		{"gap after outage", mk(30, 6), 15, 30, 6},
		{"restarted stream", mk(0, 6), 500, 3, 3},
		{"empty", mk(0, 0), 5, 0, 0},
	} {
		got := newSegments(tc.m, tc.last, 3)
		if len(got) != tc.wantN || (tc.wantN > 0 && int64(got[0].Sequence) != tc.wantFirst) {
			t.Errorf("%s: got %d segments starting %v", tc.name, len(got), got)
		}
	}
}
