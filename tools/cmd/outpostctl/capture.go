package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
)

// runCapture: outpostctl capture -iface wan0 -filter '...' -seconds 10 -o out.pcap
func runCapture(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("capture", flag.ContinueOnError)
	var b boxFlags
	b.register(fs)
	iface := fs.String("iface", "", "interface on the box (default: the box's WAN interface)")
	filter := fs.String("filter", "", "filter, e.g. 'host 10.0.0.1 and (tcp port 443 or udp) and not port 22'")
	seconds := fs.Int("seconds", 10, "capture duration in seconds (the box caps it)")
	maxPackets := fs.Int("max-packets", 0, "stop after this many packets (0: the box's default)")
	maxBytes := fs.Int64("max-bytes", 0, "bound the pcap size in bytes (0: the box's default)")
	snaplen := fs.Int("snaplen", 0, "bytes kept per packet (0: the box's default)")
	out := fs.String("o", "", "output pcap file ('-' for stdout)")
	if err := parseFlags(fs, e, args); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(e.stderr, "capture: -o FILE is required")
		fs.Usage()
		return errUsage
	}
	if err := b.resolve(e); err != nil {
		return err
	}
	q := url.Values{"seconds": {strconv.Itoa(*seconds)}}
	set := func(k, v string) {
		if v != "" && v != "0" {
			q.Set(k, v)
		}
	}
	set("iface", *iface)
	set("filter", *filter)
	set("max_packets", strconv.Itoa(*maxPackets))
	set("max_bytes", strconv.FormatInt(*maxBytes, 10))
	set("snaplen", strconv.Itoa(*snaplen))
	resp, err := b.get(ctx, e, "/capture?"+q.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()

	var w io.Writer = e.stdout
	var tmp *os.File
	if *out != "-" {
		// Write next to the target and rename at the end: no half file on failure.
		tmp, err = os.CreateTemp(filepath.Dir(*out), ".outpostctl-*.pcap")
		if err != nil {
			return err
		}
		defer func() {
			if tmp != nil {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		w = tmp
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	stop := resp.Trailer.Get("X-Capture-Stop")
	if stop == "" {
		return errors.New("download: the box ended the capture early (no summary trailer)")
	}
	if tmp != nil {
		if err := tmp.Sync(); err != nil {
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), *out); err != nil {
			return err
		}
		tmp = nil
	}
	fmt.Fprintf(e.stderr, "%s packets, %d bytes written to %s; stopped by %s; kernel drops %s\n",
		resp.Trailer.Get("X-Capture-Packets"), n, *out, stop, resp.Trailer.Get("X-Capture-Kernel-Drops"))
	return nil
}
