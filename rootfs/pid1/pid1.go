// Package pid1 is the Outpost init: the program the kernel starts as PID 1, once
// from the initramfs and once more from the root slot.
//
// In the initramfs (stage 1) it mounts /dev, /proc and /sys, loads the board's
// kernel modules in the order the image builder resolved, waits for the
// partition labelled root-<slot> (the slot comes from outpost.slot= on the
// kernel command line), mounts that squashfs, moves /dev, /proc and /sys into
// it, frees the initramfs, switches root and executes itself from the slot.
//
// In the root (stage 2) it mounts /run and /tmp, keeps the clock at or after
// the build time, arms the watchdog, sets the hostname from the board serial,
// mounts the data partition (rootfs/datapart: created on first boot,
// recreated loudly when damaged or missing), keeps its own log lines (from the
// first on) in /data/outpost/logs/init.log, brings up the network
// (rootfs/netup; static from /data/outpost/network.json), syncs the clock by
// NTP (rootfs/clock; servers from the site config's ntp.servers, then DHCP,
// else the public pool: NTPServers), supervises outpostd (rootfs/supervise;
// its output in /data/outpost/logs/outpostd.log, the directory handed to it as
// OUTPOST_LOG_DIR), marks the boot entry good once outpostd answers
// /api/v1/status (systemd-boot boot counting), and writes everything it learnt
// to /run/outpost/boot.json. SIGTERM or Ctrl-Alt-Del reboots, SIGUSR1/SIGUSR2
// or the ACPI power button power off: services stopped, logs closed, disks
// synced and unmounted.
//
// Filesystem paths are package variables so the pieces run against a fake
// root in tests.
package pid1

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/outpost-ecdn/outpost/rootfs/supervise"
)

// Swapped by tests.
var (
	procCmdline = "/proc/cmdline"
	procUptime  = "/proc/uptime"
	dmiSerial   = "/sys/class/dmi/id/product_serial"
	dmiUUID     = "/sys/class/dmi/id/product_uuid"
	dtSerial    = "/sys/firmware/devicetree/base/serial-number"
	sysNet      = "/sys/class/net"
)

// Cmdline returns the kernel command line's key=value words (a bare word maps
// to "").
func Cmdline() map[string]string {
	b, _ := os.ReadFile(procCmdline)
	out := map[string]string{}
	for _, w := range strings.Fields(string(b)) {
		k, v, _ := strings.Cut(w, "=")
		out[k] = v
	}
	return out
}

// Slot returns the root slot to boot, "a" unless outpost.slot=b.
func Slot() string {
	if Cmdline()["outpost.slot"] == "b" {
		return "b"
	}
	return "a"
}

// Uptime is the time since the kernel started, from /proc/uptime.
func Uptime() time.Duration {
	b, err := os.ReadFile(procUptime)
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b) + " 0")[0], 64)
	return time.Duration(f * float64(time.Second))
}

// Hostname derives the box's name from its serial number: DMI product serial
// (x86 mini-PCs), the device tree's serial-number (ARM boards), the DMI UUID,
// then the first Ethernet MAC. Placeholders vendors ship ("To Be Filled By
// O.E.M.", "Default string", "0") are skipped.
func Hostname() string {
	for _, p := range []string{dmiSerial, dtSerial, dmiUUID} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if h := hostnameFrom(string(b)); h != "" {
			return h
		}
	}
	if entries, err := os.ReadDir(sysNet); err == nil {
		for _, e := range entries {
			if e.Name() == "lo" {
				continue
			}
			b, err := os.ReadFile(sysNet + "/" + e.Name() + "/address")
			if err != nil {
				continue
			}
			if h := hostnameFrom(strings.ReplaceAll(string(b), ":", "")); h != "" && strings.Trim(h, "outpost-0") != "" {
				return h
			}
		}
	}
	return "outpost"
}

var placeholders = []string{"", "0", "none", "default string", "to be filled by o.e.m.", "system serial number", "not specified", "not applicable", "0123456789", "00000000-0000-0000-0000-000000000000"}

// hostnameFrom turns a serial into "outpost-<serial>": lower case, only
// letters, digits and dashes, at most 63 characters.
func hostnameFrom(serial string) string {
	s := strings.ToLower(strings.TrimSpace(strings.Trim(serial, "\x00")))
	for _, p := range placeholders {
		if s == p {
			return ""
		}
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '-' || r == ' ' || r == '_' || r == '.':
			b.WriteByte('-')
		}
	}
	h := strings.Trim(b.String(), "-")
	if h == "" {
		return ""
	}
	h = "outpost-" + h
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-")
	}
	return h
}

// maxEarly bounds the init's lines kept in memory until init.log can take them.
const maxEarly = 64 << 10

// consoleWriter prefixes each line with the kernel uptime, like dmesg, so the
// serial log reads as one timeline with the kernel's messages. Its Write is
// the console alone (services' mirrored lines); the init's own log lines come
// through logWriter and also go, stamped with the wall clock, to the file set
// by persist (init.log on the data partition).
type consoleWriter struct {
	mu    sync.Mutex
	out   io.Writer
	file  io.Writer
	early []string // init log lines from before persist, at most maxEarly bytes
	size  int
	// dropped counts early lines that did not fit.
	dropped int
}

func (c *consoleWriter) Write(b []byte) (int, error) { return c.write(b, false) }

// logWriter is the init's slog output: the console and, once set, init.log.
type logWriter struct{ c *consoleWriter }

func (w logWriter) Write(b []byte) (int, error) { return w.c.write(b, true) }

func (c *consoleWriter) write(b []byte, keep bool) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	up := Uptime()
	stamp := fmt.Sprintf("[%5d.%03d] ", int(up/time.Second), int(up%time.Second/time.Millisecond))
	wall := time.Now().UTC().Format(supervise.TimeFormat) + " "
	s := bufio.NewScanner(strings.NewReader(string(b)))
	s.Buffer(nil, len(b)+1)
	for s.Scan() {
		fmt.Fprintf(c.out, "%s%s\n", stamp, s.Text())
		if !keep {
			continue
		}
		line := wall + stamp + s.Text() + "\n"
		switch {
		case c.file != nil:
			io.WriteString(c.file, line)
		case c.size+len(line) <= maxEarly:
			c.early = append(c.early, line)
			c.size += len(line)
		default:
			c.dropped++
		}
	}
	return len(b), nil
}

// persist sends the init's log lines to w from now on, after those logged
// since the init started; nil stops (before the data partition is unmounted).
func (c *consoleWriter) persist(w io.Writer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.file = w
	if w == nil {
		return
	}
	for _, l := range c.early {
		io.WriteString(w, l)
	}
	if c.dropped > 0 {
		fmt.Fprintf(w, "--- %d earlier init log lines did not fit in memory ---\n", c.dropped)
	}
	c.early, c.size, c.dropped = nil, 0, 0
}

// NewLogger returns the init's logger: text lines on out (the console)
// without the wall-clock time, which means little before NTP, and the console
// writer for services' mirrored output. In stage 2 the logger's lines also go
// to init.log on the data partition, with the wall clock.
func NewLogger(out io.Writer) (*slog.Logger, io.Writer) {
	cw := &consoleWriter{out: out}
	h := slog.NewTextHandler(logWriter{cw}, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	return slog.New(h).With("init", "outpost"), cw
}
