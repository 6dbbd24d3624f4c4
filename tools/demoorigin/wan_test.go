package demoorigin_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/outpost-ecdn/outpost/tools/demoorigin"
)

// TestRateCapShared downloads one and then two segments at once through a
// 100 kB/s cap inside a bubble: the time taken is what the bucket allows
// (one burst free), and two concurrent downloads finish within two chunks
// of each other.
func TestRateCapShared(t *testing.T) {
	needMedia(t)
	const bytesPerSecond = 100_000
	synctest.Test(t, func(t *testing.T) {
		srv := newBubbleOrigin(t, func(c *demoorigin.Config) { c.RateBitsPerSecond = 8 * bytesPerSecond })
		perByte := time.Second / bytesPerSecond
		tolerance := time.Millisecond

		start := time.Now()
		one := <-serveAsync(t.Context(), srv, "/vod/big/seg-0.ts")
		size := one.rec.Body.Len()
		want := time.Duration(size-demoorigin.ChunkSize) * perByte
		if got := one.at.Sub(start); got < want-tolerance || got > want+tolerance {
			t.Errorf("%d bytes took %v, want %v", size, got, want)
		}

		time.Sleep(time.Second) // refill the burst
		start = time.Now()
		a := serveAsync(t.Context(), srv, "/vod/big/seg-0.ts")
		b := serveAsync(t.Context(), srv, "/vod/big/seg-0.ts")
		ra, rb := <-a, <-b
		if ra.rec.Body.Len() != size || rb.rec.Body.Len() != size {
			t.Fatalf("bodies of %d and %d bytes, want %d", ra.rec.Body.Len(), rb.rec.Body.Len(), size)
		}
		last := max(ra.at.Sub(start), rb.at.Sub(start))
		want = time.Duration(2*size-demoorigin.ChunkSize) * perByte
		if last < want-tolerance || last > want+tolerance {
			t.Errorf("two downloads took %v, want %v", last, want)
		}
		// Served one after the other they would finish size*perByte apart;
		// interleaved by chunks, within two chunks (one may start with
		// the free burst while the other is still being scheduled).
		if gap := ra.at.Sub(rb.at).Abs(); gap > 2*demoorigin.ChunkSize*perByte+tolerance {
			t.Errorf("downloads finished %v apart: not sharing the cap fairly", gap)
		}
	})
}

// TestLatency holds the headers for the configured latency.
func TestLatency(t *testing.T) {
	needMedia(t)
	synctest.Test(t, func(t *testing.T) {
		srv := newBubbleOrigin(t, func(c *demoorigin.Config) { c.Latency = 80 * time.Millisecond })
		start := time.Now()
		for _, target := range []string{"/live/lo/index.m3u8", "/vod/lo/seg-0.ts", "/fault/500/x"} {
			a := <-serveAsync(t.Context(), srv, target)
			if got := a.at.Sub(start); got != 80*time.Millisecond {
				t.Errorf("%s answered after %v, want 80ms", target, got)
			}
			start = a.at
		}
		a := <-serveAsync(t.Context(), srv, "/stats") // control plane: no latency
		if a.at != start {
			t.Errorf("/stats delayed by %v", a.at.Sub(start))
		}
	})
}

// BenchmarkRateCap downloads the big VOD segment from 4 clients at once
// through a 40 Mbit/s cap on loopback and reports achieved/cap.
func BenchmarkRateCap(b *testing.B) {
	needMedia(b)
	const capBits = 40e6
	cfg := baseConfig()
	cfg.RateBitsPerSecond = capBits
	srv, err := demoorigin.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ts := newBenchServer(b, srv)
	var total atomic.Int64
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				total.Add(download(b, ts+"/vod/big/seg-1.ts"))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(total.Load())*8/elapsed.Seconds()/capBits, "achieved/cap")
	b.SetBytes(total.Load() / int64(b.N))
}

// BenchmarkSegmentUncapped measures plain serving of the big VOD segment.
func BenchmarkSegmentUncapped(b *testing.B) {
	needMedia(b)
	srv, err := demoorigin.New(baseConfig())
	if err != nil {
		b.Fatal(err)
	}
	ts := newBenchServer(b, srv)
	b.SetBytes(download(b, ts+"/vod/big/seg-1.ts"))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			download(b, ts+"/vod/big/seg-1.ts")
		}
	})
}

func newBenchServer(b *testing.B, h http.Handler) string {
	ts := httptest.NewServer(h)
	b.Cleanup(ts.Close)
	return ts.URL
}

func download(b *testing.B, url string) int64 {
	resp, err := http.Get(url)
	if err != nil {
		b.Error(err)
		return 0
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != 200 {
		b.Errorf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return n
}
