package viewerload

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
)

// Quantiles summarizes a set of durations with nearest-rank percentiles.
type Quantiles struct {
	Count              int
	P50, P95, P99, Max time.Duration
}

// Summarize sorts samples in place and returns their nearest-rank percentiles. An empty
// set gives the zero Quantiles.
func Summarize(samples []time.Duration) Quantiles {
	if len(samples) == 0 {
		return Quantiles{}
	}
	slices.Sort(samples)
	return Quantiles{
		Count: len(samples),
		P50:   Percentile(samples, 50),
		P95:   Percentile(samples, 95),
		P99:   Percentile(samples, 99),
		Max:   samples[len(samples)-1],
	}
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of sorted: the
// smallest sample that at least p percent of the samples do not exceed. It returns 0 for
// an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// String formats q as "p50 / p95 / p99" in milliseconds, or "-" without samples.
func (q Quantiles) String() string {
	if q.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("%s / %s / %s", ms(q.P50), ms(q.P95), ms(q.P99))
}

// MarshalJSON writes the percentiles as milliseconds.
func (q Quantiles) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Count int     `json:"count"`
		P50   float64 `json:"p50_ms"`
		P95   float64 `json:"p95_ms"`
		P99   float64 `json:"p99_ms"`
		Max   float64 `json:"max_ms"`
	}{q.Count, msFloat(q.P50), msFloat(q.P95), msFloat(q.P99), msFloat(q.Max)})
}

func msFloat(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ms formats d in milliseconds with a precision that suits its size.
func ms(d time.Duration) string {
	v := msFloat(d)
	switch {
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0fms", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1fms", v)
	default:
		return fmt.Sprintf("%.2fms", v)
	}
}
