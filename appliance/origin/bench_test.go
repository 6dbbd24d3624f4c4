package origin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/origin"
)

// BenchmarkBudgetSaturation runs concurrent fetches of big bodies from a loopback
// origin through one Budget for about 2 s per rate and reports the throughput
// achieved over the cap (goal: within 5% of 1).
func BenchmarkBudgetSaturation(b *testing.B) {
	for _, mbps := range []float64{40, 100, 400} {
		b.Run(fmt.Sprintf("%gMbps", mbps), func(b *testing.B) {
			var ratio float64
			for range b.N {
				ratio += saturate(b, mbps, 4, 2*time.Second)
			}
			b.ReportMetric(ratio/float64(b.N), "achieved/cap")
		})
	}
}

// saturate runs fetchers readers against a budget of mbps for d and returns the
// throughput achieved divided by the cap.
func saturate(b *testing.B, mbps float64, fetchers int, d time.Duration) float64 {
	b.Helper()
	chunk := make([]byte, 64<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < (1<<30)/len(chunk); i++ { // at most 1 GiB per object
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	set := mustSet(b, "cdn", srv.URL+"/")
	c := &origin.Client{
		Set:            func() *origin.Set { return set },
		Budget:         origin.NewBudget(mbps * 1e6),
		MaxObjectBytes: 1 << 40,
	}
	defer c.CloseIdleConnections()
	u, err := set.Resolve("cdn", "big.ts", "")
	if err != nil {
		b.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(b.Context(), d)
	defer cancel()
	var total atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range fetchers {
		wg.Go(func() {
			buf := make([]byte, 32<<10)
			for i := 0; i < 100 && ctx.Err() == nil; i++ {
				resp, err := c.Get(ctx, u)
				if err != nil {
					return
				}
				for {
					n, err := resp.Body.Read(buf)
					if err == nil {
						total.Add(int64(n)) // only bytes read before the deadline count
					}
					if err != nil {
						break
					}
				}
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	achieved := float64(total.Load()) * 8 / elapsed.Seconds()
	b.ReportMetric(achieved/1e6, "Mbit/s")
	return achieved / (mbps * 1e6)
}
