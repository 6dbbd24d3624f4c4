// Package blockdev finds block devices and partitions from sysfs.
//
// In: /sys/class/block/*/uevent (MAJOR, MINOR, DEVNAME, DEVTYPE, PARTN, PARTNAME)
// and each partition's place under its disk. Out: Partition values naming the
// device node (/dev/vda2), its GPT partition name (label), its number and the
// disk it lives on. The init finds the root slot and the data partition by GPT
// label this way instead of by kernel device names, which change between NVMe,
// SATA, USB and virtio.
//
// Paths are package variables so tests run against a fake sysfs
// (see gokrazy/internal rootdev for the pattern).
//
// # Usage
//
//	p, err := blockdev.WaitLabel(ctx, "root-a") // polls until it appears or ctx ends
//	if err != nil { ... }
//	unix.Mount(p.Dev, "/newroot", "squashfs", unix.MS_RDONLY, "")
package blockdev

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Swapped by tests.
var (
	sysClassBlock = "/sys/class/block"
	devDir        = "/dev"
)

// ErrNotFound means no partition carries the label (yet).
var ErrNotFound = errors.New("blockdev: partition not found")

// Device is one disk or partition as sysfs describes it.
type Device struct {
	Name         string // kernel name, "vda2"
	Dev          string // device node, "/dev/vda2"
	Major, Minor uint32
	Partition    bool
	PartN        int    // partition number, 0 for disks
	Label        string // GPT partition name (PARTNAME), "" when none
	Disk         string // for partitions the disk's kernel name ("vda"); for disks their own name
}

// List returns every block device, sorted by name.
func List() ([]Device, error) {
	entries, err := os.ReadDir(sysClassBlock)
	if err != nil {
		return nil, fmt.Errorf("blockdev: list %s: %w", sysClassBlock, err)
	}
	var devs []Device
	for _, e := range entries {
		d, err := read(e.Name())
		if err != nil {
			return nil, err
		}
		devs = append(devs, d)
	}
	slices.SortFunc(devs, func(a, b Device) int { return strings.Compare(a.Name, b.Name) })
	return devs, nil
}

func read(name string) (Device, error) {
	dir := filepath.Join(sysClassBlock, name)
	f, err := os.Open(filepath.Join(dir, "uevent"))
	if err != nil {
		return Device{}, fmt.Errorf("blockdev: read uevent of %s: %w", name, err)
	}
	defer f.Close()
	d := Device{Name: name, Disk: name}
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "MAJOR":
			n, _ := strconv.ParseUint(v, 10, 32)
			d.Major = uint32(n)
		case "MINOR":
			n, _ := strconv.ParseUint(v, 10, 32)
			d.Minor = uint32(n)
		case "DEVNAME":
			d.Name = v
		case "DEVTYPE":
			d.Partition = v == "partition"
		case "PARTN":
			d.PartN, _ = strconv.Atoi(v)
		case "PARTNAME":
			d.Label = v
		}
	}
	if err := s.Err(); err != nil {
		return Device{}, fmt.Errorf("blockdev: read uevent of %s: %w", name, err)
	}
	d.Dev = filepath.Join(devDir, d.Name)
	if d.Partition {
		// /sys/class/block/vda2 links to .../block/vda/vda2: the parent is the disk.
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return Device{}, fmt.Errorf("blockdev: resolve %s: %w", dir, err)
		}
		d.Disk = filepath.Base(filepath.Dir(real))
	}
	return d, nil
}

// ByLabel returns the partition whose GPT name is label. Two partitions with one
// label (a second Outpost disk plugged in) is an error: the init must not guess.
func ByLabel(label string) (Device, error) {
	devs, err := List()
	if err != nil {
		return Device{}, err
	}
	var found []Device
	for _, d := range devs {
		if d.Partition && d.Label == label {
			found = append(found, d)
		}
	}
	switch len(found) {
	case 0:
		return Device{}, fmt.Errorf("%w: label %q", ErrNotFound, label)
	case 1:
		return found[0], nil
	default:
		var names []string
		for _, d := range found {
			names = append(names, d.Name)
		}
		return Device{}, fmt.Errorf("blockdev: label %q on %d partitions (%s): unplug the other disk", label, len(found), strings.Join(names, ", "))
	}
}

// ByNumber returns partition n of disk (e.g. "vda", 4), as the kernel names it
// (vda4, nvme0n1p4, mmcblk0p4).
func ByNumber(disk string, n int) (Device, error) {
	devs, err := List()
	if err != nil {
		return Device{}, err
	}
	for _, d := range devs {
		if d.Partition && d.Disk == disk && d.PartN == n {
			return d, nil
		}
	}
	return Device{}, fmt.Errorf("%w: %s partition %d", ErrNotFound, disk, n)
}

// Disk returns the whole-disk device by kernel name.
func Disk(name string) (Device, error) {
	d, err := read(name)
	if err != nil {
		return Device{}, err
	}
	if d.Partition {
		return Device{}, fmt.Errorf("blockdev: %s is a partition, not a disk", name)
	}
	return d, nil
}

// SizeBytes reads the device's size from sysfs (in 512-byte sectors whatever
// the logical block size).
func SizeBytes(name string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(sysClassBlock, name, "size"))
	if err != nil {
		return 0, fmt.Errorf("blockdev: size of %s: %w", name, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("blockdev: size of %s: %w", name, err)
	}
	return n * 512, nil
}

// PollInterval is how often the Wait functions look again.
var PollInterval = 50 * time.Millisecond

// WaitLabel polls until a partition labelled label exists or ctx ends. Drivers
// probe asynchronously after their module loads, so the first look may miss it.
func WaitLabel(ctx context.Context, label string) (Device, error) {
	return wait(ctx, func() (Device, error) { return ByLabel(label) })
}

// WaitNumber polls for partition n of disk, as WaitLabel does.
func WaitNumber(ctx context.Context, disk string, n int) (Device, error) {
	return wait(ctx, func() (Device, error) { return ByNumber(disk, n) })
}

func wait(ctx context.Context, find func() (Device, error)) (Device, error) {
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		d, err := find()
		if err == nil || !errors.Is(err, ErrNotFound) {
			return d, err
		}
		select {
		case <-ctx.Done():
			return Device{}, fmt.Errorf("%w (gave up: %v)", err, context.Cause(ctx))
		case <-t.C:
		}
	}
}
