package viewerload

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPercentile(t *testing.T) {
	ten := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i + 1)
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample p50", []time.Duration{7}, 50, 7},
		{"one sample p99", []time.Duration{7}, 99, 7},
		{"ten p50 is the fifth", ten, 50, 5},
		{"ten p95 rounds up to the tenth", ten, 95, 10},
		{"ten p10", ten, 10, 1},
		{"ten p11 rounds up", ten, 11, 2},
		{"hundred p99", hundred, 99, 99},
		{"hundred p100", hundred, 100, 100},
		{"p0 clamps to the minimum", ten, 0, 1},
		{"two samples p50", []time.Duration{3, 9}, 50, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		in   []time.Duration
		want Quantiles
	}{
		{"empty", nil, Quantiles{}},
		{"unsorted", []time.Duration{5, 1, 4, 2, 3}, Quantiles{Count: 5, P50: 3, P95: 5, P99: 5, Max: 5}},
		{"negative delays stay", []time.Duration{-2, 8, 0}, Quantiles{Count: 3, P50: 0, P95: 8, P99: 8, Max: 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Summarize(tt.in)); diff != "" {
				t.Errorf("Summarize (-want +got):\n%s", diff)
			}
		})
	}
}

func TestQuantilesFormat(t *testing.T) {
	q := Quantiles{Count: 3, P50: 1500 * time.Microsecond, P95: 12 * time.Millisecond, P99: 250 * time.Millisecond, Max: time.Second}
	if got, want := q.String(), "1.50ms / 12.0ms / 250ms"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := (Quantiles{}).String(); got != "-" {
		t.Errorf("empty String = %q, want -", got)
	}
	b, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"count":3,"p50_ms":1.5,"p95_ms":12,"p99_ms":250,"max_ms":1000}`; got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
}

func BenchmarkSummarize(b *testing.B) {
	src := make([]time.Duration, 100_000)
	for i := range src {
		src[i] = time.Duration((i * 7919) % 100_000)
	}
	buf := make([]time.Duration, len(src))
	for b.Loop() {
		copy(buf, src)
		Summarize(buf)
	}
}
