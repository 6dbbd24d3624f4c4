package cache_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"
	"github.com/outpost-ecdn/outpost/appliance/cache"
)

// present returns which of keys Peek finds.
func present(c *cache.Cache, keys ...string) []string {
	var out []string
	for _, k := range keys {
		if h, ok := c.Peek(k); ok {
			h.Close()
			out = append(out, k)
		}
	}
	return out
}

func TestLRUEviction(t *testing.T) {
	const size = 1000
	dir := t.TempDir()
	c := openCache(t, cache.Config{Dir: dir, MaxBytes: 3 * size})
	fill := func(key string) {
		readAll(t, mustGet(t, c, key, newOrigin(body(key, size)).Fill, cache.StatusMiss))
	}
	fill("a")
	fill("b")
	fill("c")
	mustGet(t, c, "a", failFill(t), cache.StatusHit) // a is now more recent than b
	bData := cache.DataPath(c, "b")
	fill("d")

	if diff := cmp.Diff([]string{"a", "c", "d"}, present(c, "a", "b", "c", "d")); diff != "" {
		t.Fatalf("present after evicting (-want +got):\n%s", diff)
	}
	if st := c.Stats(); st.Evictions != 1 || st.Objects != 3 || st.Bytes != 3*size {
		t.Fatalf("stats = %s", statsString(st))
	}
	for _, p := range []string{bData, cache.MetaPath(c, "b")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("evicted file %s: %v", p, err)
		}
	}

	// A config reload shrinks the bound. present() touched a, c, d in that order.
	c.SetMaxBytes(size)
	if diff := cmp.Diff([]string{"d"}, present(c, "a", "c", "d")); diff != "" {
		t.Fatalf("present after SetMaxBytes (-want +got):\n%s", diff)
	}
	if st := c.Stats(); st.Evictions != 3 || st.Objects != 1 || st.Bytes != size {
		t.Fatalf("stats = %s", statsString(st))
	}
	if got := len(files(t, filepath.Join(dir, "objects"))); got != 2 {
		t.Fatalf("%d files on disk, want d's two", got)
	}
	// b is gone for good: the next Get fills it again.
	fill("b")
}

func TestTooLargeIsStreamedNotKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		c := openCache(t, cache.Config{Dir: dir, MaxBytes: 1000})
		data := body("big", 5000)
		o := newOrigin(data)
		h := mustGet(t, c, "big.mp4", o.Fill, cache.StatusMiss)
		if got := readAll(t, h); !bytes.Equal(got, data) {
			t.Fatal("waiter did not get the whole object")
		}
		synctest.Wait()
		if _, err := h.Open(); !errors.Is(err, cache.ErrTooLarge) || !errors.Is(err, cache.ErrIncomplete) {
			t.Fatalf("Open: %v, want ErrTooLarge", err)
		}
		if h.Complete() || h.ETag() != "" {
			t.Fatal("object that was not kept reports Complete")
		}
		if st := c.Stats(); st.Objects != 0 || st.FillErrors != 0 {
			t.Fatalf("stats = %s", statsString(st))
		}
		if got := files(t, dir); len(got) != 0 {
			t.Fatalf("files left: %v", got)
		}
		readAll(t, mustGet(t, c, "big.mp4", o.Fill, cache.StatusMiss))
	})
}

func TestFillInFlightIsNotEvicted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := openCache(t, cache.Config{MaxBytes: 10_000})
		for _, k := range []string{"a", "b"} {
			readAll(t, mustGet(t, c, k, newOrigin(body(k, 4000)).Fill, cache.StatusMiss))
		}
		o := newGatedOrigin(3000)
		close(o.release)
		h := mustGet(t, c, "x", o.Fill, cache.StatusMiss)
		got := make(chan []byte, 1)
		go func() {
			b, err := io.ReadAll(h.Reader())
			if err != nil {
				t.Errorf("read: %v", err)
			}
			got <- b
		}()
		data := body("x", 3000)
		o.body.send(t, data[:1000])
		c.SetMaxBytes(3000)
		if st := c.Stats(); st.Objects != 0 || st.InFlight != 1 {
			t.Fatalf("after SetMaxBytes: %s", statsString(st))
		}
		o.body.send(t, data[1000:])
		close(o.body.chunks)
		if b := recv(t, got, "body"); !bytes.Equal(b, data) {
			t.Fatal("in-flight fill was cut short")
		}
		if diff := cmp.Diff([]string{"x"}, present(c, "a", "b", "x")); diff != "" {
			t.Fatalf("present (-want +got):\n%s", diff)
		}
	})
}

func TestMemoryTier(t *testing.T) {
	const size = 1000
	c := openCache(t, cache.Config{MemoryBytes: 2500, MemoryObjectMax: size})
	for _, k := range []string{"a", "b", "c", "big"} {
		n := size
		if k == "big" {
			n = 2 * size // over MemoryObjectMax
		}
		readAll(t, mustGet(t, c, k, newOrigin(body(k, n)).Fill, cache.StatusMiss))
	}
	if st := c.Stats(); st.MemoryBytes != 2*size {
		t.Fatalf("memory tier holds %d bytes, want the two most recent small objects", st.MemoryBytes)
	}

	// Hot objects are served without disk I/O: their files may even vanish.
	if err := os.Remove(cache.DataPath(c, "c")); err != nil {
		t.Fatal(err)
	}
	corrupt(t, cache.DataPath(c, "b")) // and are not re-hashed
	for _, k := range []string{"c", "b"} {
		h := mustGet(t, c, k, failFill(t), cache.StatusHit)
		r, err := h.Open()
		if err != nil {
			t.Fatal(err)
		}
		if _, isFile := r.(*os.File); isFile {
			t.Fatalf("%s: memory object opened as a file", k)
		}
		got, _ := io.ReadAll(r)
		if !bytes.Equal(got, body(k, size)) {
			t.Fatalf("%s: wrong bytes from memory", k)
		}
	}
	st := c.Stats()
	if st.MemoryHits != 2 || st.Hits != 2 || st.CorruptDropped != 0 {
		t.Fatalf("stats = %s", statsString(st))
	}

	// A cold small object is read from disk, verified and promoted.
	readAll(t, mustGet(t, c, "a", failFill(t), cache.StatusHit))
	readAll(t, mustGet(t, c, "a", failFill(t), cache.StatusHit))
	// A large one never enters the tier.
	readAll(t, mustGet(t, c, "big", failFill(t), cache.StatusHit))
	st = c.Stats()
	if st.Hits != 5 || st.MemoryHits != 3 || st.MemoryBytes != 2*size {
		t.Fatalf("stats = %s; want a's second read from memory only", statsString(st))
	}
}

func TestOpenAfterEviction(t *testing.T) {
	data := body("evicted", 3000)
	tests := []struct {
		name   string
		status cache.Status
	}{
		{name: "handle of the fill", status: cache.StatusMiss},
		{name: "handle of a disk hit", status: cache.StatusHit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := openCache(t, cache.Config{MemoryBytes: -1})
			o := newOrigin(data)
			h := mustGet(t, c, "k", o.Fill, cache.StatusMiss)
			readAll(t, h)
			if tc.status == cache.StatusHit {
				h = mustGet(t, c, "k", o.Fill, cache.StatusHit)
			}
			before, err := h.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer before.Close()
			if _, ok := before.(*os.File); !ok {
				t.Fatalf("Open = %T, want *os.File", before)
			}
			c.SetMaxBytes(1)
			if st := c.Stats(); st.Objects != 0 {
				t.Fatalf("not evicted: %s", statsString(st))
			}
			after, err := h.Open()
			if err != nil {
				t.Fatalf("Open after eviction: %v", err)
			}
			h.Close() // the reader outlives its handle
			for _, r := range []io.ReadSeekCloser{before, after} {
				got, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%T after eviction: %d bytes, %v", r, len(got), err)
				}
				r.Close()
			}
		})
	}
}
