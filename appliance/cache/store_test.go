package cache_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/outpost-ecdn/outpost/appliance/cache"
)

var errOrigin = errors.New("origin reset the connection")

// brokenReader fails after its prefix.
type brokenReader struct {
	r   io.Reader
	err error
}

func (b *brokenReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, b.err
	}
	return n, err
}

func TestFailedFillsStoreNothing(t *testing.T) {
	const maxBytes = 8000
	tests := []struct {
		name    string
		src     func() (*cache.Source, error)
		getErr  bool  // the failure comes before a Source, so Get fails
		wantIs  error // besides ErrFillFailed
		wantMsg string
	}{
		{
			name: "error mid-body",
			src: func() (*cache.Source, error) {
				return &cache.Source{Body: io.NopCloser(&brokenReader{bytes.NewReader(body("a", 3000)), errOrigin}), Size: 5000}, nil
			},
			wantIs: errOrigin,
		},
		{
			name: "shorter than Size",
			src: func() (*cache.Source, error) {
				return &cache.Source{Body: io.NopCloser(bytes.NewReader(body("a", 3000))), Size: 5000}, nil
			},
			wantMsg: "ended after 3000 of 5000 bytes",
		},
		{
			name: "longer than Size",
			src: func() (*cache.Source, error) {
				return &cache.Source{Body: io.NopCloser(bytes.NewReader(body("a", 5000))), Size: 3000}, nil
			},
			wantMsg: "longer than its declared 3000 bytes",
		},
		{
			name: "chunked beyond MaxBytes",
			src: func() (*cache.Source, error) {
				return &cache.Source{Body: io.NopCloser(bytes.NewReader(body("a", maxBytes+1))), Size: -1}, nil
			},
			wantIs: cache.ErrTooLarge,
		},
		{
			name:   "origin error",
			src:    func() (*cache.Source, error) { return nil, errOrigin },
			getErr: true,
			wantIs: errOrigin,
		},
		{
			name:    "nil source",
			src:     func() (*cache.Source, error) { return nil, nil },
			getErr:  true,
			wantMsg: "no source",
		},
		{
			name: "negative size",
			src: func() (*cache.Source, error) {
				return &cache.Source{Body: io.NopCloser(strings.NewReader("x")), Size: -2}, nil
			},
			getErr:  true,
			wantMsg: "source size -2",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := openCache(t, cache.Config{Dir: dir, MaxBytes: maxBytes})
			calls := 0
			h, err := c.Get(t.Context(), "k", func(context.Context) (*cache.Source, error) {
				calls++
				return tc.src()
			})
			if tc.getErr {
				if h != nil || err == nil {
					t.Fatalf("Get = %v, %v; want an error", h, err)
				}
			} else {
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				defer h.Close()
				_, err = io.ReadAll(h.Reader())
				if h.Complete() {
					t.Error("failed fill reports Complete")
				}
				if _, oerr := h.Open(); !errors.Is(oerr, cache.ErrIncomplete) {
					t.Errorf("Open after failure: %v, want ErrIncomplete", oerr)
				}
			}
			if !errors.Is(err, cache.ErrFillFailed) {
				t.Fatalf("error %v does not wrap ErrFillFailed", err)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Fatalf("error %v does not wrap %v", err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("error %q does not say %q", err, tc.wantMsg)
			}
			if got := files(t, dir); len(got) != 0 {
				t.Fatalf("files left after a failed fill: %v", got)
			}
			if st := c.Stats(); st.Objects != 0 || st.Bytes != 0 || st.FillErrors != 1 || st.InFlight != 0 {
				t.Fatalf("stats = %s", statsString(st))
			}
			// The next Get fills again.
			good := body("good", 100)
			h2 := mustGet(t, c, "k", func(context.Context) (*cache.Source, error) {
				calls++
				return &cache.Source{Body: io.NopCloser(bytes.NewReader(good)), Size: 100}, nil
			}, cache.StatusMiss)
			if got := readAll(t, h2); !bytes.Equal(got, good) || calls != 2 {
				t.Fatalf("refill: %d bytes, %d calls", len(got), calls)
			}
		})
	}
}

// httpError is how a caller might report an origin status.
type httpError struct{ Status int }

func (e *httpError) Error() string { return fmt.Sprintf("origin status %d", e.Status) }

func TestFillErrorKeepsCallerTypes(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
	}{
		{name: "not found", err: &httpError{404}, status: 404},
		{name: "wrapped bad gateway", err: fmt.Errorf("fetch playlist: %w", &httpError{502}), status: 502},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := openCache(t, cache.Config{})
			_, err := c.Get(t.Context(), "k", func(context.Context) (*cache.Source, error) { return nil, tc.err })
			var he *httpError
			if !errors.As(err, &he) || he.Status != tc.status {
				t.Fatalf("errors.As(%v) = %v, want status %d", err, he, tc.status)
			}
			if !errors.Is(err, cache.ErrFillFailed) || !errors.Is(err, tc.err) {
				t.Fatalf("%v does not wrap ErrFillFailed and the caller's error", err)
			}
		})
	}
}

func TestOnDiskLayout(t *testing.T) {
	keys := []string{
		"plain",
		"",
		"../../../etc/passwd",
		"/o/cdn/live/ключ сегмент 1.ts?token=a&b=c",
		string([]byte{0xff, 0xfe, 0x00, '/'}), // not UTF-8
		strings.Repeat("long/", 2000),
	}
	clk := newClock()
	dir := t.TempDir()
	c := openCache(t, cache.Config{Dir: dir, Now: clk.Now})
	var want []string
	for i, key := range keys {
		data := body(fmt.Sprint("k", i), 1000+i)
		o := newOrigin(data)
		o.ttl = time.Hour
		readAll(t, mustGet(t, c, key, o.Fill, cache.StatusMiss))

		hash := cache.KeyHash(key)
		sum := sha256.Sum256(data)
		sumHex := hex.EncodeToString(sum[:])
		want = append(want, "objects/"+hash[:2]+"/"+hash+".meta", "objects/"+hash[:2]+"/"+cache.DataName(hash, sumHex))

		raw, err := os.ReadFile(cache.MetaPath(c, key))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("sidecar is not JSON: %v", err)
		}
		wantMeta := map[string]any{
			"v":            1.0,
			"data":         cache.DataName(hash, sumHex),
			"size":         float64(len(data)),
			"sha256":       sumHex,
			"content_type": "video/mp2t",
			"stored":       clk.Now().Format(time.RFC3339Nano),
			"expires":      clk.Now().Add(time.Hour).Format(time.RFC3339Nano),
			"stale_until":  clk.Now().Add(time.Hour).Format(time.RFC3339Nano),
		}
		if i == 4 {
			wantMeta["key_bytes"] = "//4ALw==" // base64 of the raw key
		} else if key != "" {
			wantMeta["key"] = key
		}
		if diff := cmp.Diff(wantMeta, got); diff != "" {
			t.Errorf("sidecar of %q (-want +got):\n%s", key, diff)
		}
	}
	if diff := cmp.Diff(sortedCopy(want), files(t, dir)); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Every key, however odd, comes back after a restart.
	c2 := openCache(t, cache.Config{Dir: dir, Now: clk.Now})
	for i, key := range keys {
		h := mustGet(t, c2, key, failFill(t), cache.StatusHit)
		if got := readAll(t, h); !bytes.Equal(got, body(fmt.Sprint("k", i), 1000+i)) {
			t.Fatalf("key %q: wrong bytes after restart", key)
		}
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestRestart(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	type object struct {
		key        string
		ttl, stale time.Duration
		survives   bool // still stored after the restart two minutes later
	}
	objects := []object{
		{key: "segment", survives: true},
		{key: "playlist", ttl: time.Hour, survives: true},
		{key: "expired", ttl: time.Minute},
		{key: "stale", ttl: time.Minute, stale: time.Hour, survives: true},
		{key: "sidecar-only"},
		{key: "refilled", survives: true},
	}
	c := openCache(t, cache.Config{Dir: dir, Now: clk.Now})
	for _, ob := range objects {
		o := newOrigin(body(ob.key, 2000))
		o.ttl, o.stale = ob.ttl, ob.stale
		readAll(t, mustGet(t, c, ob.key, o.Fill, cache.StatusMiss))
	}
	sidecarOnly := cache.DataPath(c, "sidecar-only")
	refilledData := cache.DataPath(c, "refilled")
	c.Close()

	// Leftovers of a crash and of strangers.
	plant := map[string]string{
		"tmp/fill-123456":   "half a segment",
		"tmp/meta-99":       "{",
		"objects/notes.txt": "hello",
		"objects/zz/x":      "not a fan-out dir",
		"objects/" + cache.KeyHash("orphan")[:2] + "/" + cache.DataName(cache.KeyHash("orphan"), strings.Repeat("ab", 32)):     "data without sidecar",
		"objects/" + cache.KeyHash("refilled")[:2] + "/" + cache.DataName(cache.KeyHash("refilled"), strings.Repeat("cd", 32)): "old data of a crashed refill",
		"objects/" + cache.KeyHash("segment")[:2] + "/README":                                                                  "stray",
	}
	for name, content := range plant {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(sidecarOnly); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)

	c2 := openCache(t, cache.Config{Dir: dir, Now: clk.Now})
	var want []string
	var survivors int64
	for _, ob := range objects {
		if !ob.survives {
			continue
		}
		survivors++
		h := cache.KeyHash(ob.key)
		sum := sha256.Sum256(body(ob.key, 2000))
		want = append(want, "objects/"+h[:2]+"/"+h+".meta", "objects/"+h[:2]+"/"+cache.DataName(h, hex.EncodeToString(sum[:])))
	}
	if diff := cmp.Diff(sortedCopy(want), files(t, dir)); diff != "" {
		t.Fatalf("files after restart (-want +got):\n%s", diff)
	}
	if cache.DataPath(c2, "refilled") != refilledData {
		t.Fatal("refilled object lost its data file")
	}
	if st := c2.Stats(); st.Objects != survivors || st.Bytes != survivors*2000 {
		t.Fatalf("stats after restart = %s", statsString(st))
	}
	// Warm after restart: fresh objects never call fill.
	for _, key := range []string{"segment", "playlist", "refilled"} {
		h := mustGet(t, c2, key, failFill(t), cache.StatusHit)
		if got := readAll(t, h); !bytes.Equal(got, body(key, 2000)) {
			t.Fatalf("%s: wrong bytes after restart", key)
		}
	}
	// The expired one within its stale window refills, and falls back to the
	// old copy when the refill fails.
	down := &origin{err: errOrigin}
	h := mustGet(t, c2, "stale", down.Fill, cache.StatusStale)
	if got := readAll(t, h); !bytes.Equal(got, body("stale", 2000)) || down.calls.Load() != 1 {
		t.Fatalf("stale: wrong bytes or %d fills", down.calls.Load())
	}
}

func TestCorruptObjectsAreDroppedAndRefilled(t *testing.T) {
	data := body("precious", 4000)
	tests := []struct {
		name    string
		cfg     cache.Config
		restart bool // reopen after damaging, so nothing is in memory
		damage  func(t testing.TB, path string)
		peek    bool // find out with Peek rather than Get
	}{
		{name: "bit flip, memory tier", restart: true, damage: corrupt},
		{name: "bit flip, disk only", cfg: cache.Config{MemoryBytes: -1}, damage: corrupt},
		{name: "bit flip, larger than MemoryObjectMax", cfg: cache.Config{MemoryObjectMax: 1000}, damage: corrupt},
		{name: "truncated", cfg: cache.Config{MemoryBytes: -1}, damage: func(t testing.TB, p string) {
			if err := os.Truncate(p, 100); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "same size, other bytes", restart: true, damage: func(t testing.TB, p string) {
			if err := os.WriteFile(p, make([]byte, len(data)), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "data file deleted", cfg: cache.Config{MemoryBytes: -1}, damage: func(t testing.TB, p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "peek", cfg: cache.Config{MemoryBytes: -1}, damage: corrupt, peek: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Dir = t.TempDir()
			c := openCache(t, cfg)
			o := newOrigin(data)
			readAll(t, mustGet(t, c, "k", o.Fill, cache.StatusMiss))
			tc.damage(t, cache.DataPath(c, "k"))
			if tc.restart {
				c.Close()
				c = openCache(t, cfg)
			}
			if tc.peek {
				if h, ok := c.Peek("k"); ok {
					h.Close()
					t.Fatal("Peek handed out a corrupt object")
				}
			} else {
				h := mustGet(t, c, "k", o.Fill, cache.StatusMiss)
				if got := readAll(t, h); !bytes.Equal(got, data) {
					t.Fatal("refill served wrong bytes")
				}
			}
			if st := c.Stats(); st.CorruptDropped != 1 {
				t.Fatalf("stats = %s, want one corrupt object dropped", statsString(st))
			}
			h := mustGet(t, c, "k", o.Fill, map[bool]cache.Status{true: cache.StatusMiss, false: cache.StatusHit}[tc.peek])
			if got := readAll(t, h); !bytes.Equal(got, data) {
				t.Fatal("wrong bytes after refill")
			}
			if n := o.calls.Load(); n != 2 {
				t.Fatalf("fill called %d times, want 2", n)
			}
		})
	}
}

func TestReverifyAfter(t *testing.T) {
	clk := newClock()
	c := openCache(t, cache.Config{MemoryBytes: -1, ReverifyAfter: time.Hour, Now: clk.Now})
	data := body("vod", 5000)
	o := newOrigin(data)
	readAll(t, mustGet(t, c, "movie.mp4", o.Fill, cache.StatusMiss))
	corrupt(t, cache.DataPath(c, "movie.mp4"))

	// Within ReverifyAfter the digest computed while storing is trusted.
	h := mustGet(t, c, "movie.mp4", o.Fill, cache.StatusHit)
	if got := readAll(t, h); bytes.Equal(got, data) {
		t.Fatal("corruption was seen although the checksum was trusted; test is not exercising ReverifyAfter")
	}
	clk.Advance(time.Hour + time.Second)
	h = mustGet(t, c, "movie.mp4", o.Fill, cache.StatusMiss)
	if got := readAll(t, h); !bytes.Equal(got, data) {
		t.Fatal("refill served wrong bytes")
	}
	if st := c.Stats(); st.CorruptDropped != 1 || o.calls.Load() != 2 {
		t.Fatalf("stats = %s, fills %d", statsString(st), o.calls.Load())
	}
}
