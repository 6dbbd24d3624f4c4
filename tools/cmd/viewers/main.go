// Command viewers simulates many HLS players against one edge and reports what they saw.
//
// In: a media or multivariant playlist URL on the edge (-url), the number of viewers and
// the run's length, optionally the demo origin's /stats URL and its own media playlist
// for WAN figures and the availability probe. Out: a text table on stdout (and JSON
// with -json FILE): segment latency, delay from publish, stalls, errors, LAN bytes, and
// with origin statistics WAN bytes, requests per distinct segment and offload.
//
//	go run ./tools/cmd/viewers -url http://127.0.0.1:8080/o/demo/live/master.m3u8 -variant 1 \
//	    -n 500 -duration 60s -origin-stats http://127.0.0.1:8081/stats \
//	    -origin-playlist http://127.0.0.1:8081/live/360p/index.m3u8
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/outpost-ecdn/outpost/tools/viewerload"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, os.Args[1:], os.Stdout, logger); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "viewers:", err)
		}
		os.Exit(1)
	}
}

// run parses args, runs the load and writes the report.
func run(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("viewers", flag.ContinueOnError)
	var (
		cfg      = viewerload.Config{Logger: logger}
		jsonPath string
		seed     uint64
	)
	fs.StringVar(&cfg.URL, "url", "", "media or multivariant playlist URL on the edge (required)")
	fs.IntVar(&cfg.Variant, "variant", 0, "variant index when -url is a multivariant playlist")
	fs.IntVar(&cfg.Viewers, "n", 100, fmt.Sprintf("number of viewers (max %d)", viewerload.MaxViewers))
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, fmt.Sprintf("length of the run (max %v)", viewerload.MaxDuration))
	fs.DurationVar(&cfg.JoinJitter, "join-jitter", 5*time.Second, "viewers join uniformly over this period")
	fs.Float64Var(&cfg.PollJitter, "poll-jitter", 0.1, "relative jitter of each playlist reload interval")
	fs.IntVar(&cfg.StartBack, "start-back", 3, "segments behind the live edge a viewer starts")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "timeout of each request")
	fs.StringVar(&cfg.OriginStats, "origin-stats", "", "demo origin /stats URL, reset before and read after the run")
	fs.StringVar(&cfg.OriginPlaylist, "origin-playlist", "", "the same media playlist at the origin, polled by the availability probe")
	fs.DurationVar(&cfg.ProbeInterval, "probe-interval", 50*time.Millisecond, "how often the probe polls -origin-playlist")
	fs.DurationVar(&cfg.ProbeDelay, "probe-delay", 100*time.Millisecond, "probe asks the edge this long after a segment appears at the origin")
	fs.DurationVar(&cfg.ProbeFast, "probe-fast", 20*time.Millisecond, "probe fetches faster than this count as already at the edge")
	fs.Uint64Var(&seed, "seed", 1, "seed of the viewers' jitter")
	fs.StringVar(&jsonPath, "json", "", "also write the report as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.Seed = seed
	rep, err := viewerload.Run(ctx, cfg)
	if rep == nil {
		return err
	}
	if werr := rep.WriteText(stdout); werr != nil {
		return werr
	}
	if jsonPath != "" {
		if jerr := writeJSON(jsonPath, rep); jerr != nil {
			return errors.Join(err, jerr)
		}
	}
	return err
}

func writeJSON(path string, rep *viewerload.Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
