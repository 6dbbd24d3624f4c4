// Command demo-origin serves a looping live HLS stream and a VOD set for
// demos, end-to-end tests and benchmarks of the Outpost edge box.
//
// In: flags (listen address, media cache directory, WAN emulation) and
// ffmpeg, which encodes the test clip on the first run. Out: an HTTP
// origin (package demoorigin) whose URLs it prints; SIGINT or SIGTERM
// shut it down gracefully.
//
// # Usage
//
//	demo-origin -listen 127.0.0.1:8081 -rate-mbps 20 -latency 40ms -blocking-reload
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/outpost-ecdn/outpost/tools/demoorigin"
)

// shutdownGrace is how long open responses may finish after a signal.
const shutdownGrace = 5 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "demo-origin:", err)
		os.Exit(1)
	}
}

// options are the parsed flags.
type options struct {
	listen   string
	mediaDir string
	ffmpeg   string
	rateMbps float64
	latency  time.Duration
	segment  time.Duration
	blocking bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("demo-origin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8081", "address to serve HTTP on")
	fs.StringVar(&o.mediaDir, "media-dir", defaultMediaDir(), "where encoded media is cached between runs")
	fs.StringVar(&o.ffmpeg, "ffmpeg", "", "ffmpeg binary (default: ffmpeg from PATH)")
	fs.Float64Var(&o.rateMbps, "rate-mbps", 0, "WAN emulation: cap on all response bytes together, Mbit/s (0: unlimited)")
	fs.DurationVar(&o.latency, "latency", 0, "WAN emulation: delay before response headers")
	fs.DurationVar(&o.segment, "segment", 2*time.Second, "segment duration (multiple of 40ms)")
	fs.BoolVar(&o.blocking, "blocking-reload", false, "advertise CAN-BLOCK-RELOAD and honour _HLS_msn")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.rateMbps < 0 {
		return o, errors.New("-rate-mbps must not be negative")
	}
	return o, nil
}

// defaultMediaDir is $XDG_CACHE_HOME/outpost-demo or ~/.cache/outpost-demo.
func defaultMediaDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "outpost-demo")
	}
	return filepath.Join(dir, "outpost-demo")
}

// run serves until ctx ends. mod, when set, adjusts the origin config
// (tests use it for tiny renditions).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, mod func(*demoorigin.Config)) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ffmpeg := o.ffmpeg
	if ffmpeg == "" {
		if ffmpeg, err = exec.LookPath("ffmpeg"); err != nil {
			return errors.New("ffmpeg not found in PATH: install ffmpeg: apt-get install ffmpeg")
		}
	}
	cfg := demoorigin.Config{
		MediaDir:          o.mediaDir,
		SegmentDuration:   o.segment,
		RateBitsPerSecond: o.rateMbps * 1e6,
		Latency:           o.latency,
		BlockingReload:    o.blocking,
		Logger:            slog.New(slog.NewTextHandler(stderr, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	fmt.Fprintf(stdout, "preparing media in %s (the first run encodes with %s)\n", o.mediaDir, ffmpeg)
	if err := demoorigin.Prepare(ctx, cfg, ffmpeg); err != nil {
		return err
	}
	srv, err := demoorigin.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	printURLs(stdout, "http://"+ln.Addr().String())

	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close() // endless or slow responses still open
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

func printURLs(w io.Writer, base string) {
	fmt.Fprintf(w, `serving on %[1]s
  live:            %[1]s/live/master.m3u8
  live (abs URIs): %[1]s/abs/live/master.m3u8
  vod:             %[1]s/vod/master.m3u8
  ~1 MB segment:   %[1]s/vod/1080p/seg-0.ts (default renditions)
  stats:           %[1]s/stats   (POST %[1]s/stats/reset)
  faults:          %[1]s/fault/500/x %[1]s/fault/reset/x %[1]s/fault/slow/{path}
                   %[1]s/fault/truncate/{path} %[1]s/fault/huge/x.ts %[1]s/fault/malformed.m3u8
`, base)
}
