package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/outpost-ecdn/outpost/appliance/capture"
)

// topTalkers is the JSON of GET /api/v1/diag/top.
type topTalkers = capture.Top

// runTop: outpostctl top [-n 20] [-json]
func runTop(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("top", flag.ContinueOnError)
	var b boxFlags
	b.register(fs)
	n := fs.Int("n", 20, "rows per table")
	asJSON := fs.Bool("json", false, "print the box's JSON as is")
	if err := parseFlags(fs, e, args); err != nil {
		return err
	}
	if err := b.resolve(e); err != nil {
		return err
	}
	resp, err := b.get(ctx, e, "/top?n="+strconv.Itoa(*n))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if *asJSON {
		_, err := e.stdout.Write(body)
		return err
	}
	var top topTalkers
	if err := json.Unmarshal(body, &top); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	printTop(e.stdout, top)
	return nil
}

func printTop(w io.Writer, t topTalkers) {
	state := ""
	if !t.Running {
		state = " (not capturing"
		if t.Error != "" {
			state += ": " + t.Error
		}
		state += ")"
	}
	fmt.Fprintf(w, "WAN top talkers on %s, last %d s: %s in %d packets%s\n\n",
		t.Interface, t.WindowSeconds, humanBytes(t.Bytes), t.Packets, state)
	table := func(title string, rows []capture.Talker) {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s\tBYTES\tPACKETS\tRATE\t\n", title)
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t\n", r.Name, humanBytes(r.Bytes), r.Packets, humanBits(r.BitsPerSecond))
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	table("LAN HOST", t.LANHosts)
	table("REMOTE SERVICE", t.Services)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

func humanBits(b float64) string {
	switch {
	case b >= 1e9:
		return fmt.Sprintf("%.1f Gbit/s", b/1e9)
	case b >= 1e6:
		return fmt.Sprintf("%.1f Mbit/s", b/1e6)
	case b >= 1e3:
		return fmt.Sprintf("%.1f kbit/s", b/1e3)
	}
	return fmt.Sprintf("%.0f bit/s", b)
}
