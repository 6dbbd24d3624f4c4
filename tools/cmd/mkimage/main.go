// Command mkimage builds a bootable Outpost disk image for one board.
//
// In: -board (pc-x86_64, arm64-efi), -out, -version, SOURCE_DATE_EPOCH (or
// -epoch), -cache (downloaded Debian packages; default $OUTPOST_CACHE, else
// $XDG_CACHE_HOME/outpost-image). Out: the image, IMAGE.sha256 and IMAGE.bmap,
// and a line per slot with its size. See tools/image for the layout.
//
//	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) mkimage -board pc-x86_64 -out out/outpost-pc-x86_64.img
//	bmaptool copy out/outpost-pc-x86_64.img /dev/sdX
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/outpost-ecdn/outpost/board"
	"github.com/outpost-ecdn/outpost/tools/image"
)

func main() {
	boardName := flag.String("board", "pc-x86_64", "board to build for")
	out := flag.String("out", "", "image path (default out/outpost-BOARD.img)")
	version := flag.String("version", "dev", "version written into the image and its boot entries")
	epoch := flag.Int64("epoch", envInt("SOURCE_DATE_EPOCH"), "timestamp of everything in the image (default $SOURCE_DATE_EPOCH)")
	cache := flag.String("cache", defaultCache(), "cache of downloaded packages")
	src := flag.String("src", ".", "module root to build the binaries from")
	keep := flag.Bool("keep-work", false, "keep the work directory")
	flag.Parse()

	b, err := board.Lookup(*boardName)
	if err != nil {
		fatal(err)
	}
	if *out == "" {
		*out = filepath.Join("out", "outpost-"+b.Name+".img")
	}
	if *epoch <= 0 {
		fatal(fmt.Errorf("set SOURCE_DATE_EPOCH or -epoch (e.g. $(git log -1 --format=%%ct)): it fixes every timestamp in the image"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := image.Build(ctx, image.Config{
		Board: b, Out: *out, CacheDir: *cache, SourceDir: *src, Version: *version, Epoch: *epoch,
		Log: os.Stderr, KeepWork: *keep,
	})
	if err != nil {
		fatal(err)
	}
	fmt.Printf("%s  %d MiB  sha256 %s\n", res.Image, res.Size>>20, res.SHA256)
	fmt.Printf("slot: %.1f MiB (kernel %.1f + initrd %.1f + root %.1f)\n", mb(res.Slot()), mb(res.Kernel), mb(res.Initrd), mb(res.Root))
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

func envInt(k string) int64 {
	n, _ := strconv.ParseInt(os.Getenv(k), 10, 64)
	return n
}

func defaultCache() string {
	if c := os.Getenv("OUTPOST_CACHE"); c != "" {
		return c
	}
	if c := os.Getenv("XDG_CACHE_HOME"); c != "" {
		return filepath.Join(c, "outpost-image")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "outpost-image")
	}
	return "/var/cache/outpost-image"
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mkimage:", err)
	os.Exit(1)
}
