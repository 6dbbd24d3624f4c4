// Command outpostd is the Outpost edge daemon: the site's HLS cache, live prefetch and
// LAN HTTP edge, wired from one site config.
//
// In: -config FILE (YAML; without it the embedded default serving the demo origin).
// Out: the LAN listener with /o/{origin}/{path}, /metrics, /api/v1/status. SIGTERM or
// SIGINT drains and exits; SIGHUP or a change of the config file reloads it in place.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	configPath := flag.String("config", "", "site config file (YAML); empty: the embedded default (demo origin on 127.0.0.1:8081)")
	printDefault := flag.Bool("print-default-config", false, "print the embedded default config and exit")
	showVersion := flag.Bool("version", false, "print the version and exit")
	pprofAddr := flag.String("pprof", "", "serve Go profiles (net/http/pprof) on this loopback address, e.g. 127.0.0.1:6060; for support only")
	flag.Parse()
	if *showVersion {
		fmt.Println("outpostd", version)
		return
	}
	if *printDefault {
		_, raw := defaultConfig()
		os.Stdout.Write(raw)
		return
	}
	if *pprofAddr != "" {
		if err := servePprof(*pprofAddr); err != nil {
			fmt.Fprintln(os.Stderr, "outpostd:", err)
			os.Exit(2)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, *configPath, os.Stderr, nil); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "outpostd:", err)
		os.Exit(1)
	}
}
