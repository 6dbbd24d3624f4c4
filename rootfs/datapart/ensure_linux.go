package datapart

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"github.com/outpost-ecdn/outpost/rootfs/blockdev"
	"golang.org/x/sys/unix"
)

// Config says where the data partition lives and how to make one.
type Config struct {
	Label    string // GPT partition name, "data"
	Type     string // GPT type GUID of a new partition
	MinSize  int64  // refuse to create a smaller one
	Template string // ext4 image copied into a new partition
	// Fsck is a static e2fsck run (preen mode) before mounting an existing
	// partition; empty skips the check.
	Fsck       string
	MountPoint string // "/data"
	// DiskOf is the label of a partition on the disk that gets the data
	// partition: the running root slot.
	DiskOf string
	// Marker records, outside the data partition, that one was created. Nil
	// means every missing partition counts as a first boot.
	Marker Marker
	Log    *slog.Logger
}

// Marker is the first-boot record kept on another filesystem (the ESP).
type Marker interface {
	// Created returns a description of an earlier creation, or "" when the
	// box never made a data partition.
	Created() (string, error)
	// Record notes a creation.
	Record(desc string) error
}

// Ensure mounts the data partition at cfg.MountPoint, creating or recreating
// it as needed. It never returns without something mounted there: when every
// attempt fails it mounts a tmpfs and reports Volatile with the reason.
func Ensure(ctx context.Context, cfg Config) Report {
	log := cfg.Log
	if err := os.MkdirAll(cfg.MountPoint, 0o755); err != nil {
		log.Error("data: cannot make mount point", "path", cfg.MountPoint, "err", err)
	}
	rep, err := ensure(ctx, cfg)
	if err == nil {
		return rep
	}
	log.Error("DATA PARTITION UNAVAILABLE: running on a tmpfs, nothing written now survives a reboot", "err", err)
	if merr := unix.Mount("tmpfs", cfg.MountPoint, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=25%"); merr != nil {
		log.Error("data: mount tmpfs", "err", merr)
	}
	return Report{State: Volatile, Detail: err.Error()}
}

func ensure(ctx context.Context, cfg Config) (Report, error) {
	log := cfg.Log
	d, err := blockdev.ByLabel(cfg.Label)
	switch {
	case err == nil:
		size, _ := blockdev.SizeBytes(d.Name)
		checked := check(ctx, cfg, d.Dev)
		mountErr := mountExt4(d.Dev, cfg.MountPoint)
		if mountErr == nil {
			// A filesystem can mount and still fail its first write (an
			// aborted journal turns it read-only): that is damage too.
			if err := probeWrite(cfg.MountPoint); err != nil {
				unix.Unmount(cfg.MountPoint, 0)
				mountErr = fmt.Errorf("mounted but not writable: %w", err)
			}
		}
		if mountErr == nil {
			// Finishes a grow that a power cut interrupted, or follows a
			// partition enlarged since.
			if err := grow(cfg.MountPoint, size); err != nil {
				log.Warn("data: cannot grow the filesystem to its partition", "err", err)
			}
			return Report{State: Mounted, Dev: d.Dev, Size: size, Detail: checked}, nil
		}
		if !damaged(mountErr) {
			// No ext4 driver, no device, no memory: not the partition's fault,
			// so its contents are left alone.
			return Report{}, fmt.Errorf("data partition %s left untouched: %w", d.Dev, mountErr)
		}
		log.Error("DATA PARTITION DAMAGED: it cannot be mounted; recreating it EMPTY", "dev", d.Dev, "err", mountErr)
		if err := format(ctx, cfg, d.Dev, size); err != nil {
			return Report{}, fmt.Errorf("recreate %s after mount failed (%v): %w", d.Dev, mountErr, err)
		}
		return Report{State: Recreated, Dev: d.Dev, Size: size, Detail: fmt.Sprintf("could not mount the old one: %v", mountErr)}, nil
	case !errors.Is(err, blockdev.ErrNotFound):
		return Report{}, err
	}

	var before string
	if cfg.Marker != nil {
		if before, err = cfg.Marker.Created(); err != nil {
			log.Warn("data: cannot read the creation marker", "err", err)
		}
	}
	if before != "" {
		log.Error("DATA PARTITION MISSING: it was created before but is gone from the partition table; creating a new EMPTY one", "created", before)
	} else {
		log.Info("data: first boot, creating the data partition")
	}
	rep, err := create(ctx, cfg)
	if err != nil {
		return Report{}, err
	}
	if before != "" {
		rep.State = Recreated
		rep.Detail = "the partition was missing (created " + before + ")"
	}
	if cfg.Marker != nil {
		desc := fmt.Sprintf("%s on %s (partition %s)", time.Now().UTC().Format(time.RFC3339), rep.Dev, rep.Detail)
		if err := cfg.Marker.Record(desc); err != nil {
			log.Warn("data: cannot record the creation marker; a later loss would look like a first boot", "err", err)
		}
	}
	return rep, nil
}

func create(ctx context.Context, cfg Config) (Report, error) {
	root, err := blockdev.ByLabel(cfg.DiskOf)
	if err != nil {
		return Report{}, fmt.Errorf("find the disk of %s: %w", cfg.DiskOf, err)
	}
	disk, err := blockdev.Disk(root.Disk)
	if err != nil {
		return Report{}, err
	}
	f, err := os.OpenFile(disk.Dev, os.O_RDWR, 0)
	if err != nil {
		return Report{}, fmt.Errorf("open %s: %w", disk.Dev, err)
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return Report{}, fmt.Errorf("size of %s: %w", disk.Dev, err)
	}
	added, err := AddPartition(f, size, cfg.Label, cfg.Type, cfg.MinSize)
	if err != nil {
		return Report{}, fmt.Errorf("add partition to %s: %w", disk.Dev, err)
	}
	if err := blkpgAdd(f, added); err != nil {
		return Report{}, fmt.Errorf("announce partition %d of %s: %w", added.Index, disk.Dev, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	part, err := blockdev.WaitNumber(wctx, disk.Name, added.Index)
	if err != nil {
		return Report{}, err
	}
	if err := format(ctx, cfg, part.Dev, added.Bytes()); err != nil {
		return Report{}, err
	}
	return Report{State: Created, Dev: part.Dev, Size: added.Bytes(), Detail: added.GUID}, nil
}

// check runs e2fsck on dev and describes the outcome ("" when clean): first
// in preen mode (-p, fixes only what is safe), and when that gives up, with
// -y, which also finds a backup superblock when the primary one is gone.
// Exit status (e2fsck(8)): 0 clean, 1 errors corrected, 2 corrected and a
// reboot wanted (only for a mounted root), 4 errors left, 8 operational error.
func check(ctx context.Context, cfg Config, dev string) string {
	if cfg.Fsck == "" {
		return ""
	}
	if _, err := os.Stat(cfg.Fsck); err != nil {
		cfg.Log.Warn("data: no fsck in this image; not checked", "path", cfg.Fsck)
		return ""
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	start := time.Now()
	code, out, err := fsck(cctx, cfg.Fsck, "-p", dev)
	// When preen mode gives up, full checks (-f: a superblock restored from
	// a backup says "clean" and would be skipped) answering yes. A second
	// pass is not a superstition: with the primary superblock gone, e2fsck
	// replays the journal through a backup, restores the primary and stops
	// ("unable to set superblock flags", exit 12) because the backup still
	// says the journal needs recovery; the next run starts from the restored
	// primary and rebuilds the bitmaps the stale backup got wrong.
	repaired := code == 1 || code == 2
	for i := 0; i < 2 && err == nil && code&^3 != 0; i++ {
		cfg.Log.Warn("data: fsck gave up; running a full fsck -y", "exit", code)
		var more string
		code, more, err = fsck(cctx, cfg.Fsck, "-fy", dev)
		out += more
		repaired = true
	}
	if repaired && code == 0 {
		code = 1
	}
	if err != nil {
		cfg.Log.Error("data: fsck did not run", "err", err)
		return "fsck did not run: " + err.Error()
	}
	tail := strings.TrimSpace(out)
	if len(tail) > 600 {
		tail = "..." + tail[len(tail)-600:]
	}
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case code == 0:
		cfg.Log.Info("data: fsck clean", "dev", dev, "took", took)
		return ""
	case code&^3 == 0:
		cfg.Log.Warn("DATA PARTITION REPAIRED by fsck", "dev", dev, "exit", code, "took", took, "output", tail)
		return fmt.Sprintf("fsck repaired errors (exit %d): %s (full output in init.log)", code, firstLine(tail))
	default:
		cfg.Log.Error("DATA PARTITION: fsck could not repair it", "dev", dev, "exit", code, "output", tail)
		return fmt.Sprintf("fsck left errors (exit %d): %s (full output in init.log)", code, firstLine(tail))
	}
}

// firstLine keeps a problem report to one line; the log has the rest.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i]) + " ..."
	}
	return s
}

func fsck(ctx context.Context, bin, mode, dev string) (int, string, error) {
	out, err := exec.CommandContext(ctx, bin, mode, dev).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out), nil
	}
	return 0, string(out), err
}

// format copies the template onto dev, mounts it and grows it to size bytes.
func format(ctx context.Context, cfg Config, dev string, size int64) error {
	start := time.Now()
	if err := copyTemplate(cfg.Template, dev); err != nil {
		return err
	}
	if err := mountExt4(dev, cfg.MountPoint); err != nil {
		return fmt.Errorf("mount fresh %s: %w", dev, err)
	}
	if err := grow(cfg.MountPoint, size); err != nil {
		// Still usable, just small: say so and go on.
		cfg.Log.Error("data: cannot grow the filesystem; it stays at the template's size", "err", err)
	}
	cfg.Log.Info("data: formatted", "dev", dev, "bytes", size, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func copyTemplate(template, dev string) error {
	src, err := os.Open(template)
	if err != nil {
		return fmt.Errorf("open template: %w", err)
	}
	defer src.Close()
	dst, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dev, err)
	}
	defer dst.Close()
	// Zero runs go out as BLKZEROOUT (one command to the disk, fast on SSDs
	// and virtio); the journal and inode tables must read back as zeros, not
	// as whatever the disk held before.
	buf := make([]byte, 1<<20)
	var off int64
	for {
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			if err := writeOrZero(dst, buf[:n], off); err != nil {
				return fmt.Errorf("copy template to %s at %d: %w", dev, off, err)
			}
			off += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read template: %w", err)
		}
	}
	if err := dst.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dev, err)
	}
	return nil
}

// probeWrite creates, syncs and removes a file under dir.
func probeWrite(dir string) error {
	p := filepath.Join(dir, ".outpost-write-probe")
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte("probe\n"))
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if rerr := os.Remove(p); err == nil {
		err = rerr
	}
	return err
}

// damaged reports whether a mount error means the filesystem itself is bad
// (no or a corrupt superblock), the only case in which Ensure overwrites it.
func damaged(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EUCLEAN) || errors.Is(err, unix.EBADMSG) ||
		errors.Is(err, unix.EROFS)
}

// blkZeroOut is _IO(0x12, 127).
const blkZeroOut = 0x127f

func writeOrZero(dst *os.File, b []byte, off int64) error {
	allZero := true
	for _, c := range b {
		if c != 0 {
			allZero = false
			break
		}
	}
	if allZero {
		r := [2]uint64{uint64(off), uint64(len(b))}
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, dst.Fd(), blkZeroOut, uintptr(unsafe.Pointer(&r))); errno == 0 {
			return nil
		}
	}
	_, err := dst.WriteAt(b, off)
	return err
}

func mountExt4(dev, dir string) error {
	if err := unix.Mount(dev, dir, "ext4", unix.MS_NOATIME|unix.MS_NODEV|unix.MS_NOSUID, "errors=remount-ro"); err != nil {
		return fmt.Errorf("mount %s on %s: %w", dev, dir, err)
	}
	return nil
}

// ext4IocResizeFS is _IOW('f', 16, __u64).
const ext4IocResizeFS = 0x40086610

// grow resizes the ext4 filesystem mounted at dir to fill size bytes.
func grow(dir string, size int64) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	blocks := uint64(size) / uint64(st.Bsize)
	if blocks <= st.Blocks {
		return nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer f.Close()
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), ext4IocResizeFS, uintptr(unsafe.Pointer(&blocks))); errno != 0 {
		return fmt.Errorf("resize %s to %d blocks: %w", dir, blocks, errno)
	}
	return nil
}

// blkpg is _IO(0x12, 105).
const blkpg = 0x1269

// blkpgAdd tells the kernel about a new partition without re-reading the whole
// table, which fails while other partitions of the disk are mounted.
func blkpgAdd(disk *os.File, a Added) error {
	p := unix.BlkpgPartition{Start: int64(a.Start) * sector, Length: a.Bytes(), Pno: int32(a.Index)}
	arg := unix.BlkpgIoctlArg{Op: unix.BLKPG_ADD_PARTITION, Datalen: int32(unsafe.Sizeof(p)), Data: (*byte)(unsafe.Pointer(&p))}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, disk.Fd(), blkpg, uintptr(unsafe.Pointer(&arg))); errno != 0 {
		return errno
	}
	return nil
}
