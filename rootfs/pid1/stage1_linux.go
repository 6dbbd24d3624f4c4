package pid1

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/outpost-ecdn/outpost/rootfs/blockdev"
	"github.com/outpost-ecdn/outpost/rootfs/kmod"
	"github.com/outpost-ecdn/outpost/rootfs/layout"
	"golang.org/x/sys/unix"
)

// InInitramfs reports whether this is stage 1.
func InInitramfs() bool {
	_, err := os.Stat(layout.InitrdMarker)
	return err == nil
}

// Stage1 runs in the initramfs and, on success, never returns: it executes
// the slot's /bin/init. On failure it returns the error; the caller reboots,
// and systemd-boot's counter eventually falls back to the other slot.
func Stage1(log *slog.Logger) error {
	start := Uptime()
	if err := mountAll([]mount{
		{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
		{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	}); err != nil {
		return fmt.Errorf("stage 1 mounts: %w", err)
	}
	b, err := os.ReadFile(layout.ManifestPath)
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	m, err := layout.ParseManifest(b)
	if err != nil {
		return err
	}
	t0 := time.Now()
	loaded, failed := 0, 0
	for _, mod := range m.Modules {
		if err := kmod.Load(mod); err != nil {
			// A driver for hardware this box lacks may refuse to load; that is
			// not fatal, a missing root is.
			log.Debug("module did not load", "module", filepath.Base(mod), "err", err)
			failed++
			continue
		}
		loaded++
	}
	log.Info("stage 1: modules loaded", "loaded", loaded, "failed", failed, "took", time.Since(t0).Round(time.Millisecond))

	slot := Slot()
	label := "root-" + slot
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	root, err := blockdev.WaitLabel(ctx, label)
	if err != nil {
		return fmt.Errorf("find root slot %s: %w", slot, err)
	}
	if err := os.MkdirAll(layout.NewRoot, 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", layout.NewRoot, err)
	}
	if err := unix.Mount(root.Dev, layout.NewRoot, "squashfs", unix.MS_RDONLY|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("mount root %s (%s): %w", label, root.Dev, err)
	}
	if _, err := os.Stat(layout.NewRoot + layout.Init); err != nil {
		return fmt.Errorf("root %s has no init: %w", label, err)
	}
	log.Info("stage 1: switching root", "slot", slot, "dev", root.Dev, "stage1", (Uptime() - start).Round(time.Millisecond))
	for _, dir := range []string{"/dev", "/proc", "/sys"} {
		if err := unix.Mount(dir, layout.NewRoot+dir, "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("move %s into the root: %w", dir, err)
		}
	}
	freeInitramfs()
	if err := os.Chdir(layout.NewRoot); err != nil {
		return fmt.Errorf("chdir: %w", err)
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move root: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return unix.Exec(layout.Init, os.Args, os.Environ())
}

// freeInitramfs deletes the initramfs's files (its memory is not freed
// otherwise), staying off the mounts that were moved.
func freeInitramfs() {
	entries, err := os.ReadDir("/")
	if err != nil {
		return
	}
	for _, e := range entries {
		switch "/" + e.Name() {
		case layout.NewRoot, "/dev", "/proc", "/sys":
			continue
		}
		os.RemoveAll("/" + e.Name())
	}
}
