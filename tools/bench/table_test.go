package bench

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTableMarkdown(t *testing.T) {
	tab := Table{Title: "100 viewers", A: "outpostd", B: "nginx"}
	tab.Add("segment latency p50 (ms)", "%.2f", 1.5, 3)
	tab.Add("stalls", "%.0f", 0, 0)
	tab.Add("WAN | one copy", "", 1, 4)
	tab.Add("probe latency p99 (ms)", "%.1f", math.NaN(), 20)
	var b strings.Builder
	if err := tab.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	want := `### 100 viewers

| metric | outpostd | nginx | outpostd/nginx |
|---|---:|---:|---:|
| segment latency p50 (ms) | 1.50 | 3.00 | 0.50 |
| stalls | 0 | 0 | - |
| WAN \| one copy | 1 | 4 | 0.25 |
| probe latency p99 (ms) | - | 20.0 | - |

`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteMarkdown (-want +got):\n%s", diff)
	}
}
