// Package datapart keeps the box's persistent data partition: it finds it by GPT
// label, creates it on first boot in the free space after the image's
// partitions, and recreates it when it cannot be mounted, always saying so.
//
// In: the disk the running root slot is on, a small pre-made ext4 template
// (built with mkfs.ext4 at image build time and shipped in the read-only root,
// so the box needs no mkfs binary), and a marker kept outside the data partition
// (on the ESP) that tells a first boot from a lost partition. Out: an ext4
// filesystem mounted at the mount point, grown to fill its partition, and a
// Report whose State says what happened: mounted, created, recreated, or
// volatile (a tmpfs, when no persistent data partition could be had).
//
// Creating means: move the backup GPT to the real end of the disk (the image was
// smaller than the disk it was written to), append a partition named "data",
// announce it to the kernel with BLKPG (the roots on the same disk are busy, so
// the kernel cannot re-read the whole table), copy the template into it, mount
// it, and grow the filesystem online with EXT4_IOC_RESIZE_FS.
package datapart

import (
	"errors"
	"fmt"

	"github.com/diskfs/go-diskfs/backend"
	"github.com/diskfs/go-diskfs/partition/gpt"
)

// State is what Ensure did.
type State string

const (
	Mounted   State = "mounted"   // the existing data partition mounted
	Created   State = "created"   // first boot: partition made and formatted
	Recreated State = "recreated" // it was lost or unmountable and is now empty again
	Volatile  State = "volatile"  // no persistent partition: a tmpfs stands in, data dies at reboot
)

// Errors from AddPartition.
var (
	ErrExists = errors.New("datapart: partition already exists")
	ErrNoRoom = errors.New("datapart: not enough free space on the disk")
)

// Report describes the data partition after Ensure.
type Report struct {
	State State
	Dev   string // device node, "" when volatile
	Size  int64  // partition size in bytes
	// Detail says why, for the console and /run/outpost/boot.json: the mount
	// error that made Ensure recreate, or where the marker says the old one was.
	Detail string
}

const sector = 512

// align is the partition alignment in sectors (1 MiB).
const align = 2048

// Added is the partition AddPartition wrote.
type Added struct {
	Index      int    // partition number, 4 for /dev/vda4
	Start, End uint64 // first and last sector
	GUID       string
}

// Bytes is the partition's size.
func (a Added) Bytes() int64 { return int64(a.End-a.Start+1) * sector }

// AddPartition appends a partition named label with type GUID typ to the GPT on
// f (a disk of diskSize bytes), covering all space after the last partition,
// aligned to 1 MiB. It first moves the backup GPT to the end of the disk, which
// is where it belongs once an image has been written to a bigger disk. The
// writes are ordered backup first, then primary (go-diskfs's Table.Write), so a
// power cut leaves one valid table.
func AddPartition(f backend.WritableFile, diskSize int64, label, typ string, minSize int64) (Added, error) {
	t, err := gpt.Read(f, sector, sector)
	if err != nil {
		return Added{}, fmt.Errorf("datapart: read GPT: %w", err)
	}
	used := map[int]bool{}
	var lastEnd uint64
	for _, p := range t.Partitions {
		if p.Name == label {
			return Added{}, fmt.Errorf("%w: %q is partition %d", ErrExists, label, p.Index)
		}
		used[p.Index] = true
		lastEnd = max(lastEnd, p.End)
	}
	t.Resize(uint64(diskSize))
	start := (lastEnd + 1 + align - 1) / align * align
	end := t.LastDataSector()
	if end < start || int64(end-start+1)*sector < minSize {
		have := int64(0)
		if end >= start {
			have = int64(end-start+1) * sector
		}
		return Added{}, fmt.Errorf("%w: %d MiB free after the last partition, want %d MiB", ErrNoRoom, have>>20, minSize>>20)
	}
	index := 1
	for used[index] {
		index++
	}
	p := &gpt.Partition{Index: index, Start: start, End: end, Type: gpt.Type(typ), Name: label}
	t.Partitions = append(t.Partitions, p)
	t.ProtectiveMBR = true
	if err := t.Write(f, diskSize); err != nil {
		return Added{}, fmt.Errorf("datapart: write GPT: %w", err)
	}
	// go-diskfs truncates the protective MBR's size to 32 bits; UEFI says
	// 0xFFFFFFFF for disks beyond 2 TiB.
	if diskSize/sector-1 > 0xFFFFFFFF {
		if _, err := f.WriteAt([]byte{0xff, 0xff, 0xff, 0xff}, 446+12); err != nil {
			return Added{}, fmt.Errorf("datapart: write protective MBR: %w", err)
		}
	}
	return Added{Index: index, Start: start, End: end, GUID: p.GUID}, nil
}
