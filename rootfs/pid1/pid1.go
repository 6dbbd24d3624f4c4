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
// recreated loudly when damaged or missing), brings up the network
// (rootfs/netup), syncs the clock by NTP (rootfs/clock), supervises outpostd
// (rootfs/supervise), marks the boot entry good once outpostd answers
// /api/v1/status (systemd-boot boot counting), and writes everything it learnt
// to /run/outpost/boot.json. SIGTERM or Ctrl-Alt-Del reboots, SIGUSR1/SIGUSR2
// or the ACPI power button power off: services stopped, disks synced and
// unmounted.
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

// consoleWriter prefixes each line with the kernel uptime, like dmesg, so the
// serial log reads as one timeline with the kernel's messages.
type consoleWriter struct {
	mu  sync.Mutex
	out io.Writer
}

func (c *consoleWriter) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	up := Uptime()
	s := bufio.NewScanner(strings.NewReader(string(b)))
	s.Buffer(nil, len(b)+1)
	for s.Scan() {
		fmt.Fprintf(c.out, "[%5d.%03d] %s\n", int(up/time.Second), int(up%time.Second/time.Millisecond), s.Text())
	}
	return len(b), nil
}

// NewLogger returns the init's logger: text lines on out (the console)
// without the wall-clock time, which means little before NTP.
func NewLogger(out io.Writer) (*slog.Logger, io.Writer) {
	cw := &consoleWriter{out: out}
	h := slog.NewTextHandler(cw, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	return slog.New(h).With("init", "outpost"), cw
}
