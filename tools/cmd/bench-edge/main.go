// Command bench-edge measures outpostd against nginx as an HLS edge cache, on loopback.
//
// In: flags (viewer counts, run length, WAN emulation; see -h). It builds and starts
// the demo origin with WAN emulation, then, one edge at a time, outpostd and nginx
// (tools/bench's config) on free 127.0.0.1 ports, runs the viewers load
// (tools/viewerload) for each viewer count, runs wrk against a cached ~1 MB object, and
// samples the edge's memory and CPU. Out: a Markdown report on stdout, ready for
// docs/BENCH.md, with the exact command line; progress and per-run tables on stderr.
// Every process it started is stopped by PID at the end, on error and on SIGINT/SIGTERM.
//
//	go run ./tools/cmd/bench-edge -quick        # smoke run, about 2-3 minutes
//	go run ./tools/cmd/bench-edge -out /tmp/bench.md
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench-edge:", err)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, opts, os.Stdout, logger); err != nil {
		fmt.Fprintln(os.Stderr, "bench-edge:", err)
		stop()
		os.Exit(1)
	}
}
