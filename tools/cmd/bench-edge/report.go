package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/outpost-ecdn/outpost/tools/bench"
	"github.com/outpost-ecdn/outpost/tools/viewerload"
)

// nan marks a figure that was not measured.
var nan = math.NaN()

// markdown renders the comparison. With one edge only, the other column stays empty.
func (h *harness) markdown(results []*result, started time.Time) string {
	a, b := pick(results, "outpostd"), pick(results, "nginx")
	var s strings.Builder
	fmt.Fprintf(&s, "## Edge comparison: outpostd vs nginx\n\n")
	fmt.Fprintf(&s, "Command: `%s`  \n", h.opts.commandLine())
	fmt.Fprintf(&s, "Run: %s, %s  \n", started.UTC().Format(time.RFC3339), time.Since(started).Round(time.Second))
	fmt.Fprintf(&s, "Host: %d cores (%s), Linux %s, %s  \n", runtime.NumCPU(), cpuModel(), kernel(), runtime.Version())
	fmt.Fprintf(&s, "Edges: %s; %s  \n", version(a), version(b))
	fmt.Fprintf(&s, "Origin: demo-origin -rate-mbps %g -latency %v; viewers play %s (variant %d of /live/master.m3u8) "+
		"through /o/demo/, join over %v, %v per run; outpostd wan.max_mbps %g; nginx config tools/bench/nginx.conf.tmpl "+
		"(proxy_cache_lock, playlists 1s, segments 10m). Load generator, origin and edge share the host's cores.\n\n",
		h.opts.rateMbps, h.opts.latency, h.mediaPath, h.opts.variant, h.opts.joinJitter, h.opts.duration, h.opts.wanMbps)
	for _, n := range h.opts.viewers {
		t := bench.Table{Title: fmt.Sprintf("%d viewers", n), A: "outpostd", B: "nginx"}
		viewerRows(&t, runOf(a, n), runOf(b, n), cpu(a, n), cpu(b, n))
		t.WriteMarkdown(&s)
	}
	t := bench.Table{Title: "Cache hits and memory", A: "outpostd", B: "nginx"}
	wrkTitle := fmt.Sprintf("wrk -t%d -c%d -d%v, %s (%d bytes)", h.opts.wrkThreads, h.opts.wrkConns, h.opts.wrkDuration, h.opts.wrkPath, h.wrkSize)
	t.Add(wrkTitle+": requests/s", "%.0f", wrkField(a, func(w *bench.WrkResult) float64 { return w.RequestsPerSec }), wrkField(b, func(w *bench.WrkResult) float64 { return w.RequestsPerSec }))
	t.Add("wrk: MiB/s", "%.0f", wrkField(a, func(w *bench.WrkResult) float64 { return w.BytesPerSec / (1 << 20) }), wrkField(b, func(w *bench.WrkResult) float64 { return w.BytesPerSec / (1 << 20) }))
	t.Add("wrk: latency p50 (ms)", "%.2f", wrkField(a, func(w *bench.WrkResult) float64 { return msOf(w.LatencyP50) }), wrkField(b, func(w *bench.WrkResult) float64 { return msOf(w.LatencyP50) }))
	t.Add("wrk: latency p99 (ms)", "%.2f", wrkField(a, func(w *bench.WrkResult) float64 { return msOf(w.LatencyP99) }), wrkField(b, func(w *bench.WrkResult) float64 { return msOf(w.LatencyP99) }))
	t.Add("wrk: errors", "%.0f", wrkField(a, func(w *bench.WrkResult) float64 { return float64(w.Errors) }), wrkField(b, func(w *bench.WrkResult) float64 { return float64(w.Errors) }))
	t.Add("idle RSS (MiB)", "%.1f", mem(a, func(r *result) int64 { return r.idle.RSS }), mem(b, func(r *result) int64 { return r.idle.RSS }))
	maxN := h.opts.viewers[len(h.opts.viewers)-1]
	t.Add(fmt.Sprintf("peak RSS, %d viewers (MiB, VmRSS of all processes)", maxN), "%.1f", mem(a, func(r *result) int64 { return r.peak.RSS }), mem(b, func(r *result) int64 { return r.peak.RSS }))
	t.Add(fmt.Sprintf("peak PSS, %d viewers (MiB, shared pages split)", maxN), "%.1f", mem(a, func(r *result) int64 { return r.peak.PSS }), mem(b, func(r *result) int64 { return r.peak.PSS }))
	t.WriteMarkdown(&s)
	for _, r := range results {
		if r.wrkError != "" {
			fmt.Fprintf(&s, "wrk against %s failed: %s\n\n", r.name, r.wrkError)
		}
	}
	s.WriteString("Ratios are outpostd/nginx. Latency: request to last byte. Delay from publish: last byte minus " +
		"(PROGRAM-DATE-TIME + EXTINF). Stalls: a segment arrived after the simulated playback buffer ran dry. " +
		"WAN figures come from the origin's counters, minus the probe's own playlist polls. Probe: one client " +
		"that sees each new segment at the origin (50 ms polls) and asks the edge for it 100 ms later; fast = " +
		"under 20 ms. nginx's RSS counts its shared cache zone once per worker; PSS splits it.\n")
	return s.String()
}

// viewerRows adds the rows of one viewer count.
func viewerRows(t *bench.Table, a, b *viewerload.Report, cpuA, cpuB float64) {
	f := func(metric, format string, get func(*viewerload.Report) float64) {
		t.Add(metric, format, field(a, get), field(b, get))
	}
	f("segments fetched", "%.0f", func(r *viewerload.Report) float64 { return float64(r.Segments) })
	f("errors", "%.0f", func(r *viewerload.Report) float64 { return float64(r.Errors) })
	f("stalls", "%.0f", func(r *viewerload.Report) float64 { return float64(r.Stalls) })
	f("viewers that stalled", "%.0f", func(r *viewerload.Report) float64 { return float64(r.StalledViewers) })
	f("segment latency p50 (ms)", "%.2f", func(r *viewerload.Report) float64 { return msOf(r.Latency.P50) })
	f("segment latency p95 (ms)", "%.2f", func(r *viewerload.Report) float64 { return msOf(r.Latency.P95) })
	f("segment latency p99 (ms)", "%.2f", func(r *viewerload.Report) float64 { return msOf(r.Latency.P99) })
	f("delay from publish p50 (ms)", "%.0f", func(r *viewerload.Report) float64 { return msOf(r.PublishDelay.P50) })
	f("delay from publish p99 (ms)", "%.0f", func(r *viewerload.Report) float64 { return msOf(r.PublishDelay.P99) })
	f("startup p50 (ms)", "%.0f", func(r *viewerload.Report) float64 { return msOf(r.Startup.P50) })
	f("LAN MiB", "%.1f", func(r *viewerload.Report) float64 { return float64(r.LANBytes) / (1 << 20) })
	f("WAN MiB", "%.2f", func(r *viewerload.Report) float64 {
		return originField(r, func(o *viewerload.OriginReport) float64 { return float64(o.WANBytes) / (1 << 20) })
	})
	f("WAN segment bytes / one copy", "%.3f", func(r *viewerload.Report) float64 {
		return originField(r, func(o *viewerload.OriginReport) float64 { return o.WANPerOneCopy })
	})
	f("origin requests per distinct segment", "%.3f", func(r *viewerload.Report) float64 {
		return originField(r, func(o *viewerload.OriginReport) float64 { return o.RequestsPerSegment })
	})
	f("offload (%)", "%.2f", func(r *viewerload.Report) float64 {
		return originField(r, func(o *viewerload.OriginReport) float64 { return 100 * o.Offload })
	})
	f("probe: served fast (%)", "%.0f", func(r *viewerload.Report) float64 {
		if r.Probe == nil || r.Probe.Probes == 0 {
			return nan
		}
		return 100 * float64(r.Probe.Fast) / float64(r.Probe.Probes)
	})
	f("probe latency p50 (ms)", "%.2f", func(r *viewerload.Report) float64 {
		if r.Probe == nil {
			return nan
		}
		return msOf(r.Probe.Latency.P50)
	})
	f("probe latency p99 (ms)", "%.2f", func(r *viewerload.Report) float64 {
		if r.Probe == nil {
			return nan
		}
		return msOf(r.Probe.Latency.P99)
	})
	t.Add("edge CPU time (s)", "%.2f", cpuA, cpuB)
}

func pick(results []*result, name string) *result {
	for _, r := range results {
		if r.name == name {
			return r
		}
	}
	return nil
}

func runOf(r *result, n int) *viewerload.Report {
	if r == nil {
		return nil
	}
	return r.runs[n]
}

func cpu(r *result, n int) float64 {
	if r == nil {
		return nan
	}
	c, ok := r.cpu[n]
	if !ok {
		return nan
	}
	return c.Seconds()
}

func field(r *viewerload.Report, get func(*viewerload.Report) float64) float64 {
	if r == nil {
		return nan
	}
	return get(r)
}

func originField(r *viewerload.Report, get func(*viewerload.OriginReport) float64) float64 {
	if r.Origin == nil {
		return nan
	}
	return get(r.Origin)
}

func wrkField(r *result, get func(*bench.WrkResult) float64) float64 {
	if r == nil || r.wrk == nil {
		return nan
	}
	return get(r.wrk)
}

func mem(r *result, get func(*result) int64) float64 {
	if r == nil {
		return nan
	}
	v := get(r)
	if v == 0 {
		return nan
	}
	return float64(v) / (1 << 20)
}

func version(r *result) string {
	if r == nil {
		return "-"
	}
	if r.version == "" {
		return r.name
	}
	return r.version
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return runtime.GOOS
	}
	return strings.TrimSpace(string(b))
}
