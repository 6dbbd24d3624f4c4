package main

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outpost-ecdn/outpost/tools/viewerload"
)

// options is everything a run depends on; flags fill it.
type options struct {
	viewers     []int // viewer counts, ascending
	duration    time.Duration
	joinJitter  time.Duration
	cooldown    time.Duration
	variant     int
	rateMbps    float64
	latency     time.Duration
	wanMbps     float64
	targets     []string
	wrkPath     string
	wrkDuration time.Duration
	wrkThreads  int
	wrkConns    int

	mediaDir      string
	outpostdBin   string
	demoOriginBin string
	nginxBin      string
	wrkBin        string
	out           string
	keep          bool
	workDir       string
	quick         bool

	args []string // the command line, for the record
}

var knownTargets = []string{"outpostd", "nginx"}

// parseFlags reads the command line. -quick replaces the defaults of the viewer counts
// and durations with a smoke-test set; flags given explicitly still win.
func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("bench-edge", flag.ContinueOnError)
	o := options{args: args}
	var viewers, targets string
	fs.StringVar(&viewers, "n", "100,500,1000", "viewer counts, comma-separated")
	fs.DurationVar(&o.duration, "duration", 45*time.Second, "length of each viewer run")
	fs.DurationVar(&o.joinJitter, "join-jitter", 10*time.Second, "viewers join uniformly over this period")
	fs.DurationVar(&o.cooldown, "cooldown", 5*time.Second, "pause between runs")
	fs.IntVar(&o.variant, "variant", 1, "variant of /live/master.m3u8 the viewers play")
	fs.Float64Var(&o.rateMbps, "rate-mbps", 50, "WAN emulation: the demo origin's total rate cap, Mbit/s")
	fs.DurationVar(&o.latency, "latency", 20*time.Millisecond, "WAN emulation: the demo origin's added latency")
	fs.Float64Var(&o.wanMbps, "wan-mbps", 0, "outpostd's wan.max_mbps; 0 means -rate-mbps")
	fs.StringVar(&targets, "targets", strings.Join(knownTargets, ","), "edges to measure, comma-separated")
	fs.StringVar(&o.wrkPath, "wrk-path", "/vod/1080p/seg-0.ts", "origin path of the ~1 MB object wrk fetches through each edge")
	fs.DurationVar(&o.wrkDuration, "wrk-duration", 10*time.Second, "wrk -d")
	fs.IntVar(&o.wrkThreads, "wrk-threads", 2, "wrk -t")
	fs.IntVar(&o.wrkConns, "wrk-conns", 64, "wrk -c")
	fs.StringVar(&o.mediaDir, "media-dir", "", "demo origin media cache; empty means the demo origin's default, $XDG_CACHE_HOME/outpost-demo")
	fs.StringVar(&o.outpostdBin, "outpostd", "", "outpostd binary; empty means build ./appliance/cmd/outpostd")
	fs.StringVar(&o.demoOriginBin, "demo-origin", "", "demo-origin binary; empty means build ./tools/cmd/demo-origin")
	fs.StringVar(&o.nginxBin, "nginx", "", "nginx binary; empty means nginx on PATH or /usr/sbin/nginx")
	fs.StringVar(&o.wrkBin, "wrk", "wrk", "wrk binary")
	fs.StringVar(&o.out, "out", "", "also write the Markdown report to this file")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (logs, configs, JSON reports)")
	fs.StringVar(&o.workDir, "work-dir", "", "work directory, created if missing and always kept; empty means a new temporary one")
	fs.BoolVar(&o.quick, "quick", false, "smoke run: 20 and 100 viewers, 15 s runs, 5 s of wrk (about 2-3 minutes)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := map[string]string{"n": "20,100", "duration": "15s", "join-jitter": "3s", "cooldown": "2s", "wrk-duration": "5s"}
		for name, v := range quick {
			if !set[name] {
				if err := fs.Set(name, v); err != nil {
					return o, err
				}
			}
		}
	}
	var err error
	if o.viewers, err = parseCounts(viewers); err != nil {
		return o, err
	}
	if o.targets, err = parseTargets(targets); err != nil {
		return o, err
	}
	if o.duration <= 0 || o.duration > viewerload.MaxDuration || o.joinJitter < 0 || o.joinJitter >= o.duration {
		return o, fmt.Errorf("-duration %v, -join-jitter %v: want 0 <= jitter < duration <= %v", o.duration, o.joinJitter, viewerload.MaxDuration)
	}
	if o.rateMbps < 0 || o.wanMbps < 0 || o.latency < 0 || o.cooldown < 0 || o.variant < 0 {
		return o, fmt.Errorf("negative -rate-mbps, -wan-mbps, -latency, -cooldown or -variant")
	}
	if o.wanMbps == 0 {
		o.wanMbps = o.rateMbps
	}
	if !strings.HasPrefix(o.wrkPath, "/") {
		return o, fmt.Errorf("-wrk-path %q must start with /", o.wrkPath)
	}
	return o, nil
}

func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > viewerload.MaxViewers {
			return nil, fmt.Errorf("-n: %q is not a viewer count in 1..%d", f, viewerload.MaxViewers)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func parseTargets(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(knownTargets, f) {
			return nil, fmt.Errorf("-targets: unknown edge %q (want %s)", f, strings.Join(knownTargets, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// commandLine is the run as a reader can repeat it.
func (o options) commandLine() string {
	parts := []string{"go", "run", "./tools/cmd/bench-edge"}
	for _, a := range o.args {
		if strings.ContainsAny(a, " \t'\"$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
