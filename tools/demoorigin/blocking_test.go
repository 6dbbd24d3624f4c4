package demoorigin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/outpost-ecdn/outpost/tools/demoorigin"
)

// answer is a response served inside a synctest bubble and when it ended.
type answer struct {
	rec *httptest.ResponseRecorder
	at  time.Time
}

// serveAsync serves target on srv in a goroutine of the bubble.
func serveAsync(ctx context.Context, srv http.Handler, target string) <-chan answer {
	done := make(chan answer, 1)
	go func() {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", target, nil))
		done <- answer{rec: rec, at: time.Now()}
	}()
	return done
}

// newBubbleOrigin must run inside a bubble: its clock is the bubble's, and
// at the bubble's current time segment 9 is the newest.
func newBubbleOrigin(t *testing.T, mod func(*demoorigin.Config)) *demoorigin.Server {
	t.Helper()
	cfg := baseConfig()
	cfg.Epoch = time.Now().Add(-10 * testSegment)
	if mod != nil {
		mod(&cfg)
	}
	srv, err := demoorigin.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestBlockingReload(t *testing.T) {
	needMedia(t)
	const immediate = -1
	tests := []struct {
		name     string
		target   string
		code     int
		until    int64  // answer at PublishTime(until); immediate: at once
		lastURI  string // newest segment of the answered playlist
		blocking bool
	}{
		{"no msn", "/live/lo/index.m3u8", 200, immediate, "seg-9.ts", true},
		{"msn published", "/live/lo/index.m3u8?_HLS_msn=5", 200, immediate, "seg-9.ts", true},
		{"msn newest", "/live/lo/index.m3u8?_HLS_msn=9", 200, immediate, "seg-9.ts", true},
		{"msn next", "/live/lo/index.m3u8?_HLS_msn=10", 200, 10, "seg-10.ts", true},
		{"msn next but one", "/live/hi/index.m3u8?_HLS_msn=11", 200, 11, "seg-11.ts", true},
		{"msn with part", "/live/lo/index.m3u8?_HLS_msn=10&_HLS_part=0", 200, 10, "seg-10.ts", true},
		{"absolute", "/abs/live/lo/index.m3u8?_HLS_msn=10", 200, 10, "/live/lo/seg-10.ts", true},
		{"msn too far", "/live/lo/index.m3u8?_HLS_msn=12", 400, immediate, "", true},
		{"msn malformed", "/live/lo/index.m3u8?_HLS_msn=ten", 400, immediate, "", true},
		{"part alone", "/live/lo/index.m3u8?_HLS_part=1", 400, immediate, "", true},
		{"not advertised", "/live/lo/index.m3u8?_HLS_msn=11", 200, immediate, "seg-9.ts", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				srv := newBubbleOrigin(t, func(c *demoorigin.Config) { c.BlockingReload = tt.blocking })
				done := serveAsync(t.Context(), srv, tt.target)
				synctest.Wait()
				if tt.until != immediate {
					select {
					case <-done:
						t.Fatal("answered before the segment was published")
					default:
					}
				}
				a := <-done
				wantAt := start
				if tt.until != immediate {
					wantAt = srv.PublishTime(uint64(tt.until))
				}
				if a.rec.Code != tt.code || !a.at.Equal(wantAt) {
					t.Fatalf("status %d after %v, want %d after %v", a.rec.Code, a.at.Sub(start), tt.code, wantAt.Sub(start))
				}
				if tt.code != 200 {
					return
				}
				body := a.rec.Body.String()
				if got := strings.Contains(body, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES\n"); got != tt.blocking {
					t.Errorf("CAN-BLOCK-RELOAD advertised: %v, want %v", got, tt.blocking)
				}
				if !strings.HasSuffix(body, tt.lastURI+"\n") {
					t.Errorf("newest segment is not %s:\n%s", tt.lastURI, body)
				}
			})
		})
	}
}

// TestBlockingReloadGivesUp uses a clock that never reaches the publish
// time: the request gets 503 after a bounded number of waits.
func TestBlockingReloadGivesUp(t *testing.T) {
	needMedia(t)
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		srv := newBubbleOrigin(t, func(c *demoorigin.Config) {
			c.BlockingReload = true
			c.Now = func() time.Time { return start }
		})
		a := <-serveAsync(t.Context(), srv, "/live/lo/index.m3u8?_HLS_msn=11")
		if a.rec.Code != http.StatusServiceUnavailable || a.rec.Header().Get("Retry-After") == "" {
			t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", a.rec.Code, a.rec.Header().Get("Retry-After"))
		}
		if waited := a.at.Sub(start); waited > 3*3*testSegment {
			t.Errorf("gave up after %v", waited)
		}
	})
}

// TestBlockingReloadClientLeaves cancels a held request: it ends at once
// without writing a response.
func TestBlockingReloadClientLeaves(t *testing.T) {
	needMedia(t)
	synctest.Test(t, func(t *testing.T) {
		srv := newBubbleOrigin(t, func(c *demoorigin.Config) { c.BlockingReload = true })
		ctx, cancel := context.WithCancel(t.Context())
		done := serveAsync(ctx, srv, "/live/lo/index.m3u8?_HLS_msn=11")
		time.Sleep(500 * time.Millisecond)
		cancelAt := time.Now()
		cancel()
		a := <-done
		if !a.at.Equal(cancelAt) || a.rec.Body.Len() != 0 {
			t.Errorf("ended %v after cancel with %d body bytes", a.at.Sub(cancelAt), a.rec.Body.Len())
		}
	})
}
