package demoorigin

import (
	"context"
	"fmt"
	"net/http"

	"golang.org/x/time/rate"
)

// chunkSize is the largest body write passed to the connection at once,
// and the token bucket's burst: concurrent responses take turns at this
// granularity, so they share the cap fairly.
const chunkSize = 16 << 10

// newLimiter returns the shared bucket for bitsPerSecond, or nil for no
// cap.
func newLimiter(bitsPerSecond float64) *rate.Limiter {
	if bitsPerSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(bitsPerSecond/8), chunkSize)
}

// wanWriter emulates the WAN side of a response: it cuts body writes into
// chunks, waits for the shared bucket before each, and counts every byte
// the connection accepts.
type wanWriter struct {
	http.ResponseWriter
	ctx     context.Context
	limiter *rate.Limiter // nil: unlimited
	stats   requestStats
}

func (w *wanWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), chunkSize)
		if w.limiter != nil {
			if err := w.limiter.WaitN(w.ctx, n); err != nil {
				return written, fmt.Errorf("wait for WAN budget: %w", err)
			}
		}
		m, err := w.ResponseWriter.Write(p[:n])
		written += m
		w.stats.add(0, int64(m))
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// FlushError sends buffered bytes to the client (http.ResponseController).
func (w *wanWriter) FlushError() error {
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection (Hijack).
func (w *wanWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
