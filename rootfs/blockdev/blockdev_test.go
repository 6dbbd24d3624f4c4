package blockdev_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/outpost-ecdn/outpost/rootfs/blockdev"
)

// fakeSysfs lays out /sys/devices/.../block/<disk>/<part> with the
// /sys/class/block symlinks the kernel makes. uevents are as a 6.1 kernel
// writes them for a virtio disk with our GPT.
type fakeSysfs struct {
	t    *testing.T
	root string
}

func newFakeSysfs(t *testing.T) *fakeSysfs {
	root := t.TempDir()
	for _, d := range []string{"class/block", "devices/pci0000:00/0000:00:04.0/virtio1/block"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	blockdev.FakeSys(t, filepath.Join(root, "class/block"), "/dev")
	return &fakeSysfs{t: t, root: root}
}

func (f *fakeSysfs) add(disk string, partn int, label string, sectors int64) {
	f.t.Helper()
	name := disk
	uevent := fmt.Sprintf("MAJOR=254\nMINOR=%d\nDEVNAME=%s\nDEVTYPE=disk\nDISKSEQ=9\n", partn, disk)
	dir := filepath.Join(f.root, "devices/pci0000:00/0000:00:04.0/virtio1/block", disk)
	if partn > 0 {
		name = fmt.Sprintf("%s%d", disk, partn)
		if disk[len(disk)-1] >= '0' && disk[len(disk)-1] <= '9' {
			name = fmt.Sprintf("%sp%d", disk, partn)
		}
		dir = filepath.Join(dir, name)
		uevent = fmt.Sprintf("MAJOR=254\nMINOR=%d\nDEVNAME=%s\nDEVTYPE=partition\nDISKSEQ=9\nPARTN=%d\n", partn, name, partn)
		if label != "" {
			uevent += "PARTNAME=" + label + "\n"
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "uevent"), []byte(uevent), 0o644); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "size"), fmt.Appendf(nil, "%d\n", sectors), 0o644); err != nil {
		f.t.Fatal(err)
	}
	rel, _ := filepath.Rel(filepath.Join(f.root, "class/block"), dir)
	if err := os.Symlink(rel, filepath.Join(f.root, "class/block", name)); err != nil {
		f.t.Fatal(err)
	}
}

func TestByLabel(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(f *fakeSysfs)
		label   string
		want    blockdev.Device
		wantErr error
		errText string
	}{
		{
			name: "virtio root-a",
			setup: func(f *fakeSysfs) {
				f.add("vda", 0, "", 1<<21)
				f.add("vda", 1, "ESP", 1<<18)
				f.add("vda", 2, "root-a", 1<<18)
				f.add("vda", 3, "root-b", 1<<18)
			},
			label: "root-a",
			want:  blockdev.Device{Name: "vda2", Dev: "/dev/vda2", Major: 254, Minor: 2, Partition: true, PartN: 2, Label: "root-a", Disk: "vda"},
		},
		{
			name: "nvme naming",
			setup: func(f *fakeSysfs) {
				f.add("nvme0n1", 0, "", 1<<21)
				f.add("nvme0n1", 4, "data", 1<<20)
			},
			label: "data",
			want:  blockdev.Device{Name: "nvme0n1p4", Dev: "/dev/nvme0n1p4", Major: 254, Minor: 4, Partition: true, PartN: 4, Label: "data", Disk: "nvme0n1"},
		},
		{
			name:    "absent",
			setup:   func(f *fakeSysfs) { f.add("vda", 0, "", 1<<21); f.add("vda", 1, "ESP", 1<<18) },
			label:   "data",
			wantErr: blockdev.ErrNotFound,
		},
		{
			name:    "two disks with one label",
			setup:   func(f *fakeSysfs) { f.add("vda", 2, "root-a", 1); f.add("sda", 2, "root-a", 1) },
			label:   "root-a",
			errText: `label "root-a" on 2 partitions (sda2, vda2): unplug the other disk`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSysfs(t)
			tc.setup(f)
			got, err := blockdev.ByLabel(tc.label)
			switch {
			case tc.errText != "":
				if err == nil || err.Error() != "blockdev: "+tc.errText {
					t.Fatalf("err = %v, want %q", err, tc.errText)
				}
				return
			case !errors.Is(err, tc.wantErr):
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("ByLabel (-want +got):\n%s", d)
			}
		})
	}
}

func TestByNumberAndSize(t *testing.T) {
	f := newFakeSysfs(t)
	f.add("vda", 0, "", 2097152)
	f.add("vda", 3, "root-b", 1)
	f.add("vda", 4, "", 1000) // BLKPG-added partitions carry no PARTNAME until reboot
	d, err := blockdev.ByNumber("vda", 4)
	if err != nil {
		t.Fatal(err)
	}
	if d.Dev != "/dev/vda4" || d.Label != "" {
		t.Fatalf("ByNumber = %+v", d)
	}
	n, err := blockdev.SizeBytes("vda")
	if err != nil || n != 1<<30 {
		t.Fatalf("SizeBytes = %d, %v; want 1 GiB", n, err)
	}
	disk, err := blockdev.Disk("vda")
	if err != nil || disk.Partition {
		t.Fatalf("Disk = %+v, %v", disk, err)
	}
	if _, err := blockdev.Disk("vda4"); err == nil {
		t.Fatal("Disk(vda4) should fail: it is a partition")
	}
}

func TestWaitLabel(t *testing.T) {
	f := newFakeSysfs(t)
	f.add("vda", 0, "", 1)
	blockdev.PollInterval = time.Millisecond
	t.Cleanup(func() { blockdev.PollInterval = 50 * time.Millisecond })

	// The partition appears while WaitLabel polls.
	found := make(chan error, 1)
	go func() {
		_, err := blockdev.WaitLabel(context.Background(), "root-a")
		found <- err
	}()
	f.add("vda", 2, "root-a", 1)
	select {
	case err := <-found:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second): // hang guard, not a timing assertion
		t.Fatal("WaitLabel did not return after the partition appeared")
	}

	// It never appears: the context bounds the wait.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := blockdev.WaitLabel(ctx, "root-b")
	if !errors.Is(err, blockdev.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}
