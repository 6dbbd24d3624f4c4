package main

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/outpost-ecdn/outpost/appliance/config"
	"github.com/outpost-ecdn/outpost/tools/bench"
	"github.com/outpost-ecdn/outpost/tools/viewerload"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, o options)
		wantErr string
	}{
		{name: "defaults", args: nil, check: func(t *testing.T, o options) {
			if diff := cmp.Diff([]int{100, 500, 1000}, o.viewers); diff != "" {
				t.Errorf("viewers (-want +got):\n%s", diff)
			}
			if o.duration != 45*time.Second || o.wrkDuration != 10*time.Second || o.wanMbps != 50 {
				t.Errorf("duration %v, wrk %v, wan %v", o.duration, o.wrkDuration, o.wanMbps)
			}
		}},
		{name: "quick", args: []string{"-quick"}, check: func(t *testing.T, o options) {
			if diff := cmp.Diff([]int{20, 100}, o.viewers); diff != "" {
				t.Errorf("viewers (-want +got):\n%s", diff)
			}
			if o.duration != 15*time.Second || o.wrkDuration != 5*time.Second || o.joinJitter != 3*time.Second {
				t.Errorf("duration %v, wrk %v, jitter %v", o.duration, o.wrkDuration, o.joinJitter)
			}
		}},
		{name: "quick keeps explicit flags", args: []string{"-n", "7,3,7", "-quick", "-duration", "9s"}, check: func(t *testing.T, o options) {
			if diff := cmp.Diff([]int{3, 7}, o.viewers); diff != "" {
				t.Errorf("viewers (-want +got):\n%s", diff)
			}
			if o.duration != 9*time.Second {
				t.Errorf("duration %v, want 9s", o.duration)
			}
		}},
		{name: "one target", args: []string{"-targets", "nginx", "-wan-mbps", "20"}, check: func(t *testing.T, o options) {
			if diff := cmp.Diff([]string{"nginx"}, o.targets); diff != "" || o.wanMbps != 20 {
				t.Errorf("targets %v, wan %v", o.targets, o.wanMbps)
			}
		}},
		{name: "help", args: []string{"-h"}, wantErr: flag.ErrHelp.Error()},
		{name: "too many viewers", args: []string{"-n", "100,6000"}, wantErr: "6000"},
		{name: "unknown target", args: []string{"-targets", "varnish"}, wantErr: "varnish"},
		{name: "jitter too long", args: []string{"-duration", "10s", "-join-jitter", "10s"}, wantErr: "join-jitter"},
		{name: "relative wrk path", args: []string{"-wrk-path", "vod/x.ts"}, wantErr: "wrk-path"},
		{name: "stray argument", args: []string{"now"}, wantErr: "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseFlags: %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags: %v", err)
			}
			tt.check(t, o)
		})
	}
}

func TestCommandLine(t *testing.T) {
	o := options{args: []string{"-quick", "-out", "/tmp/my report.md"}}
	if got, want := o.commandLine(), `go run ./tools/cmd/bench-edge -quick -out '/tmp/my report.md'`; got != want {
		t.Errorf("commandLine = %q, want %q", got, want)
	}
}

// TestOutpostdConfig checks that outpostd's own config parser accepts what the harness writes.
func TestOutpostdConfig(t *testing.T) {
	c, err := config.Parse([]byte(outpostdConfig("127.0.0.1:18080", "http://127.0.0.1:18081", "/tmp/data", 50)))
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	if c.Listen != "127.0.0.1:18080" || len(c.Origins) != 1 || c.Origins[0].Name != "demo" ||
		c.Origins[0].URL != "http://127.0.0.1:18081/" || c.WAN.MaxMbps != 50 || c.DataDir != "/tmp/data" {
		t.Errorf("config = %+v", c)
	}
}

func TestResolveVariant(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n240p/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\n/other/360p.m3u8\n")
	}))
	defer srv.Close()
	tests := []struct {
		variant int
		want    string
		wantErr error
	}{
		{0, "/live/240p/index.m3u8", nil},
		{1, "/other/360p.m3u8", nil},
		{2, "", viewerload.ErrNoVariant},
	}
	for _, tt := range tests {
		got, err := resolveVariant(t.Context(), srv.URL+"/live/master.m3u8", tt.variant)
		if !errors.Is(err, tt.wantErr) || got != tt.want {
			t.Errorf("resolveVariant(%d) = %q, %v; want %q, %v", tt.variant, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestMarkdown(t *testing.T) {
	rep := func(segments int64, p50 time.Duration) *viewerload.Report {
		return &viewerload.Report{
			Segments: segments, Latency: viewerload.Quantiles{Count: 1, P50: p50},
			Origin: &viewerload.OriginReport{WANPerOneCopy: 1, Offload: 0.99},
			Probe:  &viewerload.ProbeReport{Probes: 4, Fast: 3, Slow: 1},
		}
	}
	h := &harness{opts: options{viewers: []int{10}, wrkThreads: 2, wrkConns: 64, wrkDuration: 10 * time.Second,
		wrkPath: "/vod/1080p/seg-0.ts", duration: 45 * time.Second, args: []string{"-n", "10"}}, mediaPath: "/live/360p/index.m3u8"}
	results := []*result{
		{name: "outpostd", runs: map[int]*viewerload.Report{10: rep(100, 2*time.Millisecond)}, cpu: map[int]time.Duration{10: time.Second},
			wrk: &bench.WrkResult{RequestsPerSec: 900}, peak: bench.Memory{RSS: 30 << 20}},
		{name: "nginx", runs: map[int]*viewerload.Report{10: rep(100, 8*time.Millisecond)}, cpu: map[int]time.Duration{10: 2 * time.Second},
			wrkError: "run wrk: boom"},
	}
	md := h.markdown(results, time.Now())
	for _, want := range []string{
		"Command: `go run ./tools/cmd/bench-edge -n 10`",
		"### 10 viewers",
		"| segment latency p50 (ms) | 2.00 | 8.00 | 0.25 |",
		"| probe: served fast (%) | 75 | 75 | 1.00 |",
		"| edge CPU time (s) | 1.00 | 2.00 | 0.50 |",
		"| offload (%) | 99.00 | 99.00 | 1.00 |",
		"requests/s | 900 | - | - |",
		"| peak RSS, 10 viewers (MiB, VmRSS of all processes) | 30.0 | - | - |",
		"wrk against nginx failed: run wrk: boom",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestRunFailsCleanly(t *testing.T) {
	// A demo origin binary that does not exist: run must fail before measuring and
	// leave no process behind (there is none to leave).
	o, err := parseFlags([]string{"-quick", "-targets", "nginx", "-demo-origin", "/nonexistent/demo-origin", "-nginx", "/bin/true", "-wrk", "true", "-work-dir", t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	err = run(t.Context(), o, io.Discard, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "demo-origin") {
		t.Errorf("run: %v, want a start error naming demo-origin", err)
	}
}

func TestNaNHelpers(t *testing.T) {
	if !math.IsNaN(cpu(nil, 1)) || !math.IsNaN(mem(&result{}, func(r *result) int64 { return r.idle.RSS })) {
		t.Error("missing figures must be NaN")
	}
}
