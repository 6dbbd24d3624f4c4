package cache_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/outpost-ecdn/outpost/appliance/cache"
)

type getResult struct {
	h   *cache.Handle
	err error
}

// startGets runs n Gets of key concurrently and returns their results.
func startGets(ctx context.Context, c *cache.Cache, key string, fill cache.FillFunc, n int) <-chan getResult {
	out := make(chan getResult, n)
	for range n {
		go func() {
			h, err := c.Get(ctx, key, fill)
			out <- getResult{h, err}
		}()
	}
	return out
}

func TestCoalescedStreamingFill(t *testing.T) {
	first := []byte("first chunk|")
	rest := body("rest", 100_000)
	full := append(append([]byte(nil), first...), rest...)
	sum := sha256.Sum256(full)
	wantSHA := hex.EncodeToString(sum[:])

	tests := []struct {
		name    string
		waiters int
		size    int64
	}{
		{name: "one viewer", waiters: 1, size: int64(len(full))},
		{name: "known size", waiters: 16, size: int64(len(full))},
		{name: "chunked", waiters: 16, size: -1},
		{name: "disk only", waiters: 4, size: int64(len(full))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := cache.Config{}
				if tc.name == "disk only" {
					cfg.MemoryBytes = -1
				}
				c := openCache(t, cfg)
				o := newGatedOrigin(tc.size)
				results := startGets(t.Context(), c, "live/seg1.ts", o.Fill, tc.waiters)

				// Every Get is parked on the one fill's source.
				synctest.Wait()
				if got := o.calls.Load(); got != 1 {
					t.Fatalf("fill called %d times, want 1", got)
				}
				st := c.Stats()
				if st.Misses != 1 || st.Coalesced != int64(tc.waiters-1) || st.InFlight != 1 {
					t.Fatalf("stats before source = %s", statsString(st))
				}
				close(o.release)

				var handles []*cache.Handle
				statuses := map[cache.Status]int{}
				for range tc.waiters {
					r := recv(t, results, "Get")
					if r.err != nil {
						t.Fatalf("Get: %v", r.err)
					}
					defer r.h.Close()
					handles = append(handles, r.h)
					statuses[r.h.Status()]++
				}
				wantStatuses := map[cache.Status]int{cache.StatusMiss: 1}
				if tc.waiters > 1 {
					wantStatuses[cache.StatusCoalesced] = tc.waiters - 1
				}
				if diff := cmp.Diff(wantStatuses, statuses); diff != "" {
					t.Errorf("statuses (-want +got):\n%s", diff)
				}
				if m := handles[0].Meta(); m.Size != tc.size || m.SHA256 != "" || handles[0].ETag() != "" {
					t.Errorf("in-flight meta = %+v, etag %q; want size %d, no digest", m, handles[0].ETag(), tc.size)
				}

				firsts := make(chan []byte, tc.waiters)
				rests := make(chan []byte, tc.waiters)
				for _, h := range handles {
					go func() {
						r := h.Reader()
						defer r.Close()
						buf := make([]byte, len(first))
						if _, err := io.ReadFull(r, buf); err != nil {
							t.Errorf("read first chunk: %v", err)
						}
						firsts <- buf
						b, err := io.ReadAll(r)
						if err != nil {
							t.Errorf("read rest: %v", err)
						}
						rests <- b
					}()
				}
				o.body.send(t, first)
				for range tc.waiters {
					if got := recv(t, firsts, "first chunk"); !bytes.Equal(got, first) {
						t.Fatalf("first chunk = %q, want %q", got, first)
					}
				}
				// Every waiter has the first chunk; the origin has not sent more.
				for _, h := range handles {
					if h.Complete() {
						t.Fatal("handle complete before the body ended")
					}
					if _, err := h.Open(); !errors.Is(err, cache.ErrIncomplete) {
						t.Fatalf("Open in flight: err = %v, want ErrIncomplete", err)
					}
				}
				if st := c.Stats(); st.InFlight != 1 || st.Objects != 0 {
					t.Fatalf("stats mid-fill = %s", statsString(st))
				}
				o.body.send(t, rest[:len(rest)/3])
				o.body.send(t, rest[len(rest)/3:])
				close(o.body.chunks)
				for range tc.waiters {
					if got := recv(t, rests, "rest"); !bytes.Equal(got, rest) {
						t.Fatalf("rest: got %d bytes, want %d", len(got), len(rest))
					}
				}

				synctest.Wait()
				for _, h := range handles {
					m := h.Meta()
					if !h.Complete() || m.SHA256 != wantSHA || m.Size != int64(len(full)) || h.ETag() != `"`+wantSHA+`"` {
						t.Fatalf("after fill: complete %v, meta %+v, etag %q", h.Complete(), m, h.ETag())
					}
					r, err := h.Open()
					if err != nil {
						t.Fatalf("Open: %v", err)
					}
					got, _ := io.ReadAll(r)
					r.Close()
					if !bytes.Equal(got, full) {
						t.Fatal("Open after fill: wrong bytes")
					}
				}
				h := mustGet(t, c, "live/seg1.ts", failFill(t), cache.StatusHit)
				if got := readAll(t, h); !bytes.Equal(got, full) {
					t.Fatal("hit: wrong bytes")
				}
				if st := c.Stats(); st.Objects != 1 || st.Bytes != int64(len(full)) || st.InFlight != 0 || o.calls.Load() != 1 {
					t.Fatalf("stats after fill = %s, fills %d", statsString(st), o.calls.Load())
				}
			})
		})
	}
}

func TestFillOutlivesItsViewers(t *testing.T) {
	tests := []struct {
		name string
		// leave makes a viewer go away while one of its reads is pending.
		leave       func(cancel context.CancelFunc, h *cache.Handle, r io.ReadCloser)
		wantReadErr error
	}{
		{
			name:        "close reader and handle",
			leave:       func(_ context.CancelFunc, h *cache.Handle, r io.ReadCloser) { r.Close(); h.Close() },
			wantReadErr: os.ErrClosed,
		},
		{
			name:        "cancel context",
			leave:       func(cancel context.CancelFunc, _ *cache.Handle, _ io.ReadCloser) { cancel() },
			wantReadErr: context.Canceled,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := openCache(t, cache.Config{})
				o := newGatedOrigin(-1)
				close(o.release)
				const viewers = 3
				pending := make(chan error, viewers)
				type viewer struct {
					cancel context.CancelFunc
					h      *cache.Handle
					r      io.ReadCloser
				}
				var vs []viewer
				for range viewers {
					ctx, cancel := context.WithCancel(t.Context())
					defer cancel()
					h, err := c.Get(ctx, "vod/seg9.ts", o.Fill)
					if err != nil {
						t.Fatalf("Get: %v", err)
					}
					defer h.Close()
					r := h.Reader()
					defer r.Close()
					vs = append(vs, viewer{cancel, h, r})
				}
				o.body.send(t, []byte("0123456789"))
				for _, v := range vs {
					buf := make([]byte, 10)
					if _, err := io.ReadFull(v.r, buf); err != nil {
						t.Fatalf("read: %v", err)
					}
					go func() {
						_, err := v.r.Read(buf)
						pending <- err
					}()
				}
				synctest.Wait() // every viewer is blocked in Read
				for _, v := range vs {
					tc.leave(v.cancel, v.h, v.r)
				}
				for range viewers {
					if err := recv(t, pending, "pending read"); !errors.Is(err, tc.wantReadErr) {
						t.Fatalf("pending read: %v, want %v", err, tc.wantReadErr)
					}
				}
				o.body.send(t, []byte("abcdef"))
				close(o.body.chunks)
				synctest.Wait()

				h, ok := c.Peek("vod/seg9.ts")
				if !ok {
					t.Fatalf("object not stored after its viewers left; stats %s", statsString(c.Stats()))
				}
				defer h.Close()
				if got := readAll(t, h); string(got) != "0123456789abcdef" {
					t.Fatalf("stored %q", got)
				}
				if n := o.calls.Load(); n != 1 {
					t.Fatalf("fill called %d times", n)
				}
			})
		})
	}
}

func TestGetCancelledWhileWaitingForSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := openCache(t, cache.Config{})
		o := newGatedOrigin(5)
		ctx, cancel := context.WithCancel(t.Context())
		results := startGets(ctx, c, "k", o.Fill, 2)
		synctest.Wait()
		start := time.Now()
		cancel()
		for range 2 {
			r := recv(t, results, "cancelled Get")
			if !errors.Is(r.err, context.Canceled) || r.h != nil {
				t.Fatalf("Get = %v, %v; want context.Canceled", r.h, r.err)
			}
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("cancelled Get took %v of bubble time, want 0", d)
		}
		// The fill runs on without any waiter and stores the object.
		close(o.release)
		o.body.send(t, []byte("hello"))
		close(o.body.chunks)
		synctest.Wait()
		h, ok := c.Peek("k")
		if !ok {
			t.Fatal("object not stored")
		}
		defer h.Close()
		if got := readAll(t, h); string(got) != "hello" {
			t.Fatalf("stored %q", got)
		}
	})
}

func TestCloseCancelsFills(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		c := openCache(t, cache.Config{Dir: dir})
		o := newGatedOrigin(100)
		close(o.release)
		h := mustGet(t, c, "k", o.Fill, cache.StatusMiss)
		r := h.Reader()
		defer r.Close()
		o.body.send(t, []byte("part"))
		waiting := startGets(t.Context(), c, "other", newGatedOrigin(1).Fill, 1)
		synctest.Wait()

		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if _, err := io.ReadAll(r); !errors.Is(err, cache.ErrFillFailed) || !errors.Is(err, cache.ErrClosed) {
			t.Fatalf("read after Close: %v, want ErrFillFailed and ErrClosed", err)
		}
		if res := recv(t, waiting, "Get waiting on Close"); !errors.Is(res.err, cache.ErrClosed) {
			t.Fatalf("waiting Get: %v, want ErrClosed", res.err)
		}
		if _, err := c.Get(t.Context(), "k", o.Fill); !errors.Is(err, cache.ErrClosed) {
			t.Fatalf("Get after Close: %v, want ErrClosed", err)
		}
		if got := files(t, filepath.Join(dir, "tmp")); len(got) != 0 {
			t.Fatalf("temp files left: %v", got)
		}
	})
}

func TestFillTimeout(t *testing.T) {
	const timeout = 30 * time.Second
	tests := []struct {
		name        string
		sendSource  bool // the origin answers but its body stalls
		wantGetFail bool
	}{
		{name: "origin never answers", wantGetFail: true},
		{name: "body stalls", sendSource: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := openCache(t, cache.Config{FillTimeout: timeout})
				o := newGatedOrigin(-1)
				if tc.sendSource {
					close(o.release)
				}
				start := time.Now()
				h, err := c.Get(t.Context(), "k", o.Fill)
				if tc.wantGetFail {
					if !errors.Is(err, cache.ErrFillFailed) || !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("Get: %v, want ErrFillFailed and DeadlineExceeded", err)
					}
				} else {
					if err != nil {
						t.Fatalf("Get: %v", err)
					}
					defer h.Close()
					_, err := io.ReadAll(h.Reader())
					if !errors.Is(err, cache.ErrFillFailed) || !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("read: %v, want ErrFillFailed and DeadlineExceeded", err)
					}
				}
				if d := time.Since(start); d != timeout {
					t.Fatalf("fill ended after %v, want FillTimeout %v", d, timeout)
				}
				if st := c.Stats(); st.FillErrors != 1 || st.Objects != 0 {
					t.Fatalf("stats = %s", statsString(st))
				}
			})
		})
	}
}

func TestOpenReturnsFileForDiskObjects(t *testing.T) {
	data := body("disk", 4096)
	tests := []struct {
		name     string
		cfg      cache.Config
		wantFile bool
	}{
		{name: "memory tier", cfg: cache.Config{}, wantFile: false},
		{name: "no memory tier", cfg: cache.Config{MemoryBytes: -1}, wantFile: true},
		{name: "larger than MemoryObjectMax", cfg: cache.Config{MemoryObjectMax: 1024}, wantFile: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := openCache(t, tc.cfg)
			readAll(t, mustGet(t, c, "k", newOrigin(data).Fill, cache.StatusMiss))
			h := mustGet(t, c, "k", failFill(t), cache.StatusHit)
			r, err := h.Open()
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer r.Close()
			if _, isFile := r.(*os.File); isFile != tc.wantFile {
				t.Fatalf("Open returned %T, want *os.File: %v", r, tc.wantFile)
			}
			if _, err := r.Seek(100, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(r)
			if !bytes.Equal(got, data[100:]) {
				t.Fatal("wrong bytes after Seek")
			}
		})
	}
}
