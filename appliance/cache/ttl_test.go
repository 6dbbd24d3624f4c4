package cache_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/cache"
)

func TestTTL(t *testing.T) {
	const ttl, staleTTL = 10 * time.Second, 30 * time.Second
	type step struct {
		name    string
		advance time.Duration
		// What the origin does when asked.
		body      string
		err       error // fails before producing a source
		breakBody bool  // the body fails after its first bytes
		gated     bool  // answers only once the test saw the Gets waiting
		// What Get returns.
		wantStatus cache.Status
		wantBody   string
		wantErr    error // from Get
		wantRead   error // from reading the handle
		wantFills  int64
	}
	steps := []step{
		{name: "first fill", body: "v1", wantStatus: cache.StatusMiss, wantBody: "v1", wantFills: 1},
		{name: "fresh hit", advance: 5 * time.Second, wantStatus: cache.StatusHit, wantBody: "v1", wantFills: 1},
		{name: "at expiry still fresh", advance: 5 * time.Second, wantStatus: cache.StatusHit, wantBody: "v1", wantFills: 1},
		{name: "expired, waits for refill", advance: time.Second, body: "v2", gated: true,
			wantStatus: cache.StatusMiss, wantBody: "v2", wantFills: 2},
		{name: "refilled copy is fresh", advance: time.Second, wantStatus: cache.StatusHit, wantBody: "v2", wantFills: 2},
		// v2 was stored at 11s: it expires at 21s, may be served stale until 51s.
		{name: "refill fails, stale copy", advance: 10 * time.Second, err: errOrigin,
			wantStatus: cache.StatusStale, wantBody: "v2", wantFills: 3},
		{name: "refill body breaks, no stale copy", advance: time.Second, body: "v3", breakBody: true,
			wantStatus: cache.StatusMiss, wantRead: errOrigin, wantFills: 4},
		{name: "stale window over", advance: 29 * time.Second, err: errOrigin, wantErr: errOrigin, wantFills: 5},
		{name: "origin recovers", body: "v4", wantStatus: cache.StatusMiss, wantBody: "v4", wantFills: 6},
	}
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		c := openCache(t, cache.Config{Now: clk.Now})
		var (
			cur     step
			fills   int64
			release chan struct{}
		)
		fill := func(ctx context.Context) (*cache.Source, error) {
			fills++
			if cur.gated {
				select {
				case <-release:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			if cur.err != nil {
				return nil, cur.err
			}
			var r io.Reader = strings.NewReader(cur.body)
			size := int64(len(cur.body))
			if cur.breakBody {
				r, size = &brokenReader{r, errOrigin}, -1
			}
			return &cache.Source{Body: io.NopCloser(r), Size: size, TTL: ttl, StaleTTL: staleTTL}, nil
		}
		for _, st := range steps {
			cur = st
			clk.Advance(st.advance)
			release = make(chan struct{})
			n := 1
			if st.gated {
				n = 2
			}
			results := startGets(t.Context(), c, "live.m3u8", fill, n)
			if st.gated {
				synctest.Wait()
				select {
				case r := <-results:
					t.Fatalf("%s: Get returned %v, %v before the refill answered", st.name, r.h, r.err)
				default:
				}
				close(release)
			}
			statuses := map[cache.Status]bool{}
			for range n {
				r := recv(t, results, st.name)
				if st.wantErr != nil {
					if !errors.Is(r.err, st.wantErr) || !errors.Is(r.err, cache.ErrFillFailed) {
						t.Fatalf("%s: Get error %v, want %v", st.name, r.err, st.wantErr)
					}
					continue
				}
				if r.err != nil {
					t.Fatalf("%s: Get: %v", st.name, r.err)
				}
				statuses[r.h.Status()] = true
				got, err := io.ReadAll(r.h.Reader())
				r.h.Close()
				if st.wantRead != nil {
					if !errors.Is(err, st.wantRead) || !errors.Is(err, cache.ErrFillFailed) {
						t.Fatalf("%s: read error %v, want %v", st.name, err, st.wantRead)
					}
					continue
				}
				if err != nil || !bytes.Equal(got, []byte(st.wantBody)) {
					t.Fatalf("%s: read %q, %v; want %q", st.name, got, err, st.wantBody)
				}
			}
			if st.wantErr == nil && !statuses[st.wantStatus] {
				t.Fatalf("%s: statuses %v, want %v", st.name, statuses, st.wantStatus)
			}
			if st.gated && !statuses[cache.StatusCoalesced] {
				t.Fatalf("%s: second Get did not join the refill: %v", st.name, statuses)
			}
			synctest.Wait()
			if fills != st.wantFills {
				t.Fatalf("%s: %d fills, want %d", st.name, fills, st.wantFills)
			}
		}
		if st := c.Stats(); st.StaleServed != 1 || st.FillErrors != 3 {
			t.Fatalf("stats = %s", statsString(st))
		}
	})
}

// TestRefillWithSameContent: a refill that returns identical bytes shares
// the data file name with the copy it replaces; that file must survive.
func TestRefillWithSameContent(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	c := openCache(t, cache.Config{Dir: dir, MemoryBytes: -1, Now: clk.Now})
	o := newOrigin([]byte("#EXTM3U\n"))
	o.ttl = time.Second
	readAll(t, mustGet(t, c, "p.m3u8", o.Fill, cache.StatusMiss))
	clk.Advance(2 * time.Second)
	readAll(t, mustGet(t, c, "p.m3u8", o.Fill, cache.StatusMiss))
	h := mustGet(t, c, "p.m3u8", o.Fill, cache.StatusHit)
	if got := readAll(t, h); string(got) != "#EXTM3U\n" {
		t.Fatalf("read %q", got)
	}
	if n := len(files(t, dir)); n != 2 {
		t.Fatalf("%d files, want data and sidecar", n)
	}
	if st := c.Stats(); st.CorruptDropped != 0 || o.calls.Load() != 2 {
		t.Fatalf("stats = %s, fills %d", statsString(st), o.calls.Load())
	}
}
