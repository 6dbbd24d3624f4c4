package cache_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/outpost-ecdn/outpost/appliance/cache"
)

const benchSize = 1 << 20

func benchHit(b *testing.B, cfg cache.Config) {
	c := openCache(b, cfg)
	data := body("bench", benchSize)
	h, err := c.Get(context.Background(), "seg", newOrigin(data).Fill)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, h.Reader())
	h.Close()
	b.SetBytes(benchSize)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h, err := c.Get(context.Background(), "seg", nil)
			if err != nil {
				b.Error(err)
				return
			}
			r, err := h.Open()
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.Copy(io.Discard, r)
			r.Close()
			h.Close()
			if n != benchSize {
				b.Errorf("read %d bytes", n)
				return
			}
		}
	})
}

// BenchmarkHitMemory: live-edge segments served from the memory tier.
func BenchmarkHitMemory(b *testing.B) { benchHit(b, cache.Config{}) }

// BenchmarkHitDisk: every hit opens and verifies the file (SHA-256 of 1 MiB).
func BenchmarkHitDisk(b *testing.B) { benchHit(b, cache.Config{MemoryBytes: -1}) }

// BenchmarkCoalescedFill: 100 viewers ask for the same missing 1 MiB object;
// one fill streams it to all. Bytes are counted per viewer.
func BenchmarkCoalescedFill(b *testing.B) {
	const waiters = 100
	c := openCache(b, cache.Config{MaxBytes: 64 << 20})
	data := body("bench", benchSize)
	fill := func(context.Context) (*cache.Source, error) {
		return &cache.Source{Body: io.NopCloser(bytes.NewReader(data)), Size: benchSize}, nil
	}
	b.SetBytes(waiters * benchSize)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		key := fmt.Sprint("seg", i)
		i++
		var wg sync.WaitGroup
		for range waiters {
			wg.Go(func() {
				h, err := c.Get(context.Background(), key, fill)
				if err != nil {
					b.Error(err)
					return
				}
				defer h.Close()
				r := h.Reader()
				defer r.Close()
				if n, err := io.Copy(io.Discard, r); err != nil || n != benchSize {
					b.Errorf("read %d bytes: %v", n, err)
				}
			})
		}
		wg.Wait()
	}
	if st := c.Stats(); st.Misses != int64(i) {
		b.Fatalf("%d fills for %d objects", st.Misses, i)
	}
}
