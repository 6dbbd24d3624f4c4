package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/cache"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// hangGuard bounds every wait of a test on the code under test.
const hangGuard = 10 * time.Second

// clock is a test-controlled time source for TTLs.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// openCache opens a cache that the test closes at cleanup.
func openCache(t testing.TB, cfg cache.Config) *cache.Cache {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 64 << 20
	}
	c, err := cache.Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// origin is a FillFunc that counts its calls and serves a fixed body.
type origin struct {
	calls atomic.Int64
	body  []byte
	size  int64 // declared size; set to -1 for chunked
	ttl   time.Duration
	stale time.Duration
	err   error // returned instead of a source when set
}

func newOrigin(body []byte) *origin {
	return &origin{body: body, size: int64(len(body))}
}

func (o *origin) Fill(context.Context) (*cache.Source, error) {
	o.calls.Add(1)
	if o.err != nil {
		return nil, o.err
	}
	return &cache.Source{
		Body:        io.NopCloser(bytes.NewReader(o.body)),
		Size:        o.size,
		ContentType: "video/mp2t",
		TTL:         o.ttl,
		StaleTTL:    o.stale,
	}, nil
}

// failFill is a FillFunc for gets that must never fill.
func failFill(t testing.TB) cache.FillFunc {
	return func(context.Context) (*cache.Source, error) {
		t.Error("unexpected fill")
		return nil, errors.New("unexpected fill")
	}
}

var errBodyClosed = errors.New("test body closed")

// gatedBody is an origin body the test releases chunk by chunk.
type gatedBody struct {
	chunks  chan []byte // a chunk to deliver; close for EOF
	fail    chan error  // an error to fail the next read with
	closed  chan struct{}
	once    sync.Once
	pending []byte
}

func newGatedBody() *gatedBody {
	return &gatedBody{chunks: make(chan []byte), fail: make(chan error), closed: make(chan struct{})}
}

func (b *gatedBody) Read(p []byte) (int, error) {
	if len(b.pending) == 0 {
		select {
		case c, ok := <-b.chunks:
			if !ok {
				return 0, io.EOF
			}
			b.pending = c
		case err := <-b.fail:
			return 0, err
		case <-b.closed:
			return 0, errBodyClosed
		}
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	return n, nil
}

func (b *gatedBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// send delivers one chunk to the fill, failing the test if the fill is not
// reading.
func (b *gatedBody) send(t testing.TB, chunk []byte) {
	t.Helper()
	select {
	case b.chunks <- chunk:
	case <-time.After(hangGuard):
		t.Fatal("fill did not read the next chunk")
	}
}

// gatedOrigin returns its source only when released, with a gated body.
type gatedOrigin struct {
	calls   atomic.Int64
	release chan struct{}
	body    *gatedBody
	size    int64
	ctx     chan context.Context // the fill's context, sent on each call
}

func newGatedOrigin(size int64) *gatedOrigin {
	return &gatedOrigin{release: make(chan struct{}), body: newGatedBody(), size: size, ctx: make(chan context.Context, 1)}
}

func (o *gatedOrigin) Fill(ctx context.Context) (*cache.Source, error) {
	o.calls.Add(1)
	select {
	case o.ctx <- ctx:
	default:
	}
	select {
	case <-o.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &cache.Source{Body: o.body, Size: o.size, ContentType: "video/mp4"}, nil
}

func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hangGuard):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// readAll reads h's Reader to its end.
func readAll(t testing.TB, h *cache.Handle) []byte {
	t.Helper()
	r := h.Reader()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

// mustGet gets key and checks the status.
func mustGet(t testing.TB, c *cache.Cache, key string, fill cache.FillFunc, want cache.Status) *cache.Handle {
	t.Helper()
	h, err := c.Get(t.Context(), key, fill)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	t.Cleanup(func() { h.Close() })
	if h.Status() != want {
		t.Fatalf("Get(%q) status = %v, want %v", key, h.Status(), want)
	}
	return h
}

// body returns n deterministic bytes distinct per seed.
func body(seed string, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed[i%len(seed)]
	}
	return b
}

// files lists the regular files under dir, relative to it.
func files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	slices.Sort(out)
	return out
}

// corrupt flips one byte of the file at path.
func corrupt(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		t.Fatal("corrupt: empty file")
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func statsString(s cache.Stats) string { return fmt.Sprintf("%+v", s) }
