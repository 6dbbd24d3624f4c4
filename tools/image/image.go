// Package image builds Outpost's bootable disk images from a board description.
//
// In: a *board.Board (rootfs/../board), the module's source (the init and
// outpostd are built here with CGO_ENABLED=0 for the board's GOARCH), pinned
// Debian packages (kernel, systemd-boot, ca-certificates; fetched once with
// apt-get download into a cache), a version and SOURCE_DATE_EPOCH. Out: a GPT
// disk image
//
//	1 ESP     FAT32: systemd-boot as the removable-media loader, loader.conf, one
//	          boot-counting entry and one kernel+initramfs per slot
//	2 root-a  squashfs: /bin/init, /bin/outpostd, CA roots, zoneinfo, the data
//	          partition's ext4 template, a static e2fsck, static files
//	3 root-b  the same bytes, so the updater can switch slots without a new layout
//	          (the data partition is made by the init on first boot in the rest
//	          of the disk)
//
// plus IMAGE.sha256 and IMAGE.bmap (bmaptool). Two builds with the same inputs
// are byte-identical: fixed times (SOURCE_DATE_EPOCH), fixed uids, sorted
// archives, GUIDs derived from names, a fixed FAT volume id. The initramfs is a
// newc cpio written here, holding the same init binary and the board's kernel
// modules in load order (resolved from the modules' .modinfo, rootfs/kmod).
//
// Pinned Debian packages: the board's kernel and systemd-boot-efi,
// ca-certificates, e2fsck-static. External tools (Debian packages): apt-get and dpkg-deb, mksquashfs
// (squashfs-tools), mkfs.vfat (dosfstools), mmd/mcopy (mtools), mkfs.ext4
// (e2fsprogs). No loop mounts, no root needed beyond apt's.
//
// # Usage
//
//	b, _ := board.Lookup("pc-x86_64")
//	res, err := image.Build(ctx, image.Config{Board: b, Out: "out/outpost-pc-x86_64.img",
//		CacheDir: "/var/cache/outpost-image", SourceDir: ".", Version: "v0.1.0", Epoch: 1700000000})
//	fmt.Println(res.Image, res.SHA256)
package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/outpost-ecdn/outpost/board"
	"github.com/outpost-ecdn/outpost/rootfs/kmod"
	"github.com/outpost-ecdn/outpost/rootfs/layout"
)

// CACertificates pins the CA roots every image carries.
var CACertificates = board.Package{Name: "ca-certificates", Version: "20250419~deb12u2"}

// E2fsckStatic pins the static e2fsck that checks the data partition at boot.
var E2fsckStatic = board.Package{Name: "e2fsck-static", Version: "1.47.0-2+b2"}

// BootTries is the boot counter of each new entry: systemd-boot falls back
// after this many boots that never reached "serving".
const BootTries = 3

// templateSize is the ext4 template's size; the init grows it in place.
const templateSize = 64 * mib

// Config configures Build. All fields are required unless noted.
type Config struct {
	Board     *board.Board
	Out       string // image path; .sha256 and .bmap are written next to it
	CacheDir  string // downloaded and unpacked packages
	SourceDir string // the module root, where `go build` runs
	Version   string
	Epoch     int64     // SOURCE_DATE_EPOCH: every timestamp in the image
	Log       io.Writer // progress lines; nil discards
	// KeepWork leaves the work directory (next to Out) for inspection.
	KeepWork bool
}

// Result describes a built image.
type Result struct {
	Image, SHA256File, BmapFile string
	SHA256                      string
	Size                        int64 // bytes of the image (sparse on disk)
	Kernel, Initrd, Root        int64 // bytes per slot of each part
}

// Slot is the bytes one slot occupies: kernel + initramfs on the ESP plus the
// root squashfs.
func (r *Result) Slot() int64 { return r.Kernel + r.Initrd + r.Root }

type builder struct {
	cfg  Config
	work string
}

func (b *builder) logf(format string, args ...any) {
	if b.cfg.Log != nil {
		fmt.Fprintf(b.cfg.Log, "mkimage: "+format+"\n", args...)
	}
}

// Build builds the image.
func Build(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Board == nil {
		return nil, errors.New("image: no board")
	}
	if err := cfg.Board.Validate(); err != nil {
		return nil, err
	}
	if cfg.Out == "" || cfg.CacheDir == "" || cfg.Version == "" || cfg.Epoch <= 0 {
		return nil, errors.New("image: Out, CacheDir, Version and Epoch (SOURCE_DATE_EPOCH) are required")
	}
	for _, tool := range []string{"apt-get", "dpkg-deb", "mksquashfs", "mkfs.vfat", "mmd", "mcopy", "mkfs.ext4"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("image: %s not found: apt-get install squashfs-tools dosfstools mtools e2fsprogs", tool)
		}
	}
	out, err := filepath.Abs(cfg.Out) // commands run in other directories
	if err != nil {
		return nil, err
	}
	cfg.Out = out
	if err := os.MkdirAll(filepath.Dir(cfg.Out), 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(filepath.Dir(cfg.Out), ".mkimage-"+cfg.Board.Name+"-")
	if err != nil {
		return nil, err
	}
	b := &builder{cfg: cfg, work: work}
	if !cfg.KeepWork {
		defer os.RemoveAll(work)
	} else {
		b.logf("work directory: %s", work)
	}
	return b.build(ctx)
}

func (b *builder) build(ctx context.Context) (*Result, error) {
	bd := b.cfg.Board
	kernelTree, err := b.fetch(ctx, bd.Kernel.Package, bd.DebArch)
	if err != nil {
		return nil, err
	}
	bootTree, err := b.fetch(ctx, bd.Bootloader.Package, bd.DebArch)
	if err != nil {
		return nil, err
	}
	caTree, err := b.fetch(ctx, CACertificates, "all")
	if err != nil {
		return nil, err
	}
	fsckTree, err := b.fetch(ctx, E2fsckStatic, bd.DebArch)
	if err != nil {
		return nil, err
	}
	initBin, outpostd, err := b.goBuild(ctx)
	if err != nil {
		return nil, err
	}

	modDir := filepath.Join(kernelTree, "lib/modules", bd.Kernel.Release)
	tree, err := kmod.Open(os.DirFS(modDir))
	if err != nil {
		return nil, err
	}
	mods, err := tree.Resolve(bd.Modules)
	if err != nil {
		return nil, fmt.Errorf("board %s: %w", bd.Name, err)
	}
	m := &layout.Manifest{
		Board:       bd.Name,
		Version:     b.cfg.Version,
		BuildTime:   time.Unix(b.cfg.Epoch, 0).UTC(),
		Kernel:      bd.Kernel.Release,
		DataMinSize: bd.DataMinSize,
		DataType:    board.TypeLinuxData,
	}
	for _, mod := range mods {
		m.Modules = append(m.Modules, path.Join("/lib/modules", bd.Kernel.Release, mod.Path))
	}
	b.logf("%d kernel modules for %s", len(mods), bd.Name)

	initrd, err := b.initramfs(initBin, modDir, mods, m)
	if err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	root, err := b.rootfs(initBin, outpostd, caTree, filepath.Join(fsckTree, "sbin/e2fsck.static"), m)
	if err != nil {
		return nil, fmt.Errorf("root squashfs: %w", err)
	}
	kernel := filepath.Join(kernelTree, bd.Kernel.Image)
	esp, err := b.esp(ctx, filepath.Join(bootTree, bd.Bootloader.File), kernel, initrd)
	if err != nil {
		return nil, fmt.Errorf("ESP: %w", err)
	}
	res := &Result{Image: b.cfg.Out, SHA256File: b.cfg.Out + ".sha256", BmapFile: b.cfg.Out + ".bmap"}
	res.Kernel, res.Initrd, res.Root = fileSize(kernel), fileSize(initrd), fileSize(root)
	if res.Root > bd.RootSize {
		return nil, fmt.Errorf("root squashfs is %d MiB, the board's root partition %d MiB", res.Root>>20, bd.RootSize>>20)
	}
	fatMeta, err := fatMetadata(esp)
	if err != nil {
		return nil, err
	}
	size, err := writeDisk(b.cfg.Out, bd.Name, []part{
		{label: board.LabelESP, typ: board.TypeESP, size: bd.ESPSize, contents: esp, dense: fatMeta},
		{label: board.LabelRootA, typ: bd.RootType, size: bd.RootSize, contents: root, dense: res.Root},
		{label: board.LabelRootB, typ: bd.RootType, size: bd.RootSize, contents: root, dense: res.Root},
	})
	if err != nil {
		return nil, fmt.Errorf("disk image: %w", err)
	}
	res.Size = size
	if res.SHA256, err = writeBmap(res.Image, res.BmapFile); err != nil {
		return nil, fmt.Errorf("bmap: %w", err)
	}
	if err := os.WriteFile(res.SHA256File, []byte(res.SHA256+"  "+filepath.Base(res.Image)+"\n"), 0o644); err != nil {
		return nil, err
	}
	b.logf("wrote %s (%d MiB; per slot: kernel %.1f MiB, initrd %.1f MiB, root %.1f MiB)", res.Image, size>>20,
		float64(res.Kernel)/mib, float64(res.Initrd)/mib, float64(res.Root)/mib)
	return res, nil
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

// goBuild builds the init and outpostd, static, for the board.
func (b *builder) goBuild(ctx context.Context) (initBin, outpostd string, err error) {
	env := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + b.cfg.Board.GOARCH, "GOFLAGS=-buildvcs=false"}
	initBin = filepath.Join(b.work, "init")
	outpostd = filepath.Join(b.work, "outpostd")
	for _, t := range []struct{ out, pkg, ldflags string }{
		{initBin, "./rootfs/cmd/init", "-s -w -buildid="},
		{outpostd, "./appliance/cmd/outpostd", "-s -w -buildid= -X main.version=" + b.cfg.Version},
	} {
		b.logf("go build %s (%s)", t.pkg, b.cfg.Board.GOARCH)
		if err := b.run(ctx, b.cfg.SourceDir, env, "go", "build", "-trimpath", "-ldflags", t.ldflags, "-o", t.out, t.pkg); err != nil {
			return "", "", err
		}
	}
	return initBin, outpostd, nil
}

// initramfs writes the gzip'd newc archive: /init, the manifest, the modules.
func (b *builder) initramfs(initBin, modDir string, mods []kmod.Module, m *layout.Manifest) (string, error) {
	var c CPIO
	bin, err := os.ReadFile(initBin)
	if err != nil {
		return "", err
	}
	c.File("init", 0o755, bin)
	c.File(layout.InitrdMarker, 0o644, nil)
	c.File(layout.ManifestPath, 0o644, m.Marshal())
	for _, d := range []string{"dev", "proc", "sys", "newroot", "tmp"} {
		c.Dir(d, 0o755)
	}
	c.CharDev("dev/console", 0o600, 5, 1)
	c.CharDev("dev/null", 0o666, 1, 3)
	for _, mod := range mods {
		data, err := os.ReadFile(filepath.Join(modDir, mod.Path))
		if err != nil {
			return "", err
		}
		c.File(path.Join("lib/modules", m.Kernel, mod.Path), 0o644, data)
	}
	out := filepath.Join(b.work, "initrd")
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	defer f.Close()
	zw, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		return "", err
	}
	zw.OS = 255 // unknown: the header carries no build-host detail; ModTime stays zero
	if _, err := c.WriteTo(zw, b.cfg.Epoch); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return out, f.Close()
}

// rootfs stages the root tree and packs it with mksquashfs.
func (b *builder) rootfs(initBin, outpostd, caTree, fsck string, m *layout.Manifest) (string, error) {
	stage := filepath.Join(b.work, "root")
	put := func(p string, data []byte, perm os.FileMode) error {
		full := filepath.Join(stage, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, data, perm); err != nil {
			return err
		}
		return os.Chmod(full, perm)
	}
	copyIn := func(p, src string, perm os.FileMode) error {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		return put(p, data, perm)
	}
	if err := copyIn(layout.Init, initBin, 0o755); err != nil {
		return "", err
	}
	if err := copyIn(layout.Outpostd, outpostd, 0o755); err != nil {
		return "", err
	}
	if err := copyIn(layout.Fsck, fsck, 0o755); err != nil {
		return "", err
	}
	// The manifest without the module list (modules live in the initramfs).
	rm := *m
	rm.Modules = nil
	if err := put(layout.ManifestPath, rm.Marshal(), 0o644); err != nil {
		return "", err
	}
	err := fs.WalkDir(layout.Files, "files", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := layout.Files.ReadFile(p)
		if err != nil {
			return err
		}
		return put(strings.TrimPrefix(p, "files"), data, 0o644)
	})
	if err != nil {
		return "", err
	}
	bundle, err := caBundle(caTree)
	if err != nil {
		return "", err
	}
	if err := put(layout.CACerts, bundle, 0o644); err != nil {
		return "", err
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOROOT: %w", err)
	}
	if err := copyIn(layout.ZoneInfo, filepath.Join(strings.TrimSpace(string(goroot)), "lib/time/zoneinfo.zip"), 0o644); err != nil {
		return "", err
	}
	if err := b.dataTemplate(filepath.Join(stage, layout.DataTemplate)); err != nil {
		return "", fmt.Errorf("data template: %w", err)
	}
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "data", "boot/efi", "var"} {
		if err := os.MkdirAll(filepath.Join(stage, d), 0o755); err != nil {
			return "", err
		}
	}
	if err := os.Symlink("../run/resolv.conf", filepath.Join(stage, "etc/resolv.conf")); err != nil {
		return "", err
	}
	if err := os.Symlink("../data/outpostd", filepath.Join(stage, "var/lib")); err != nil {
		return "", err
	}
	// Directory modes must not depend on the builder's umask.
	err = filepath.WalkDir(stage, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return os.Chmod(p, 0o755)
	})
	if err != nil {
		return "", err
	}
	out := filepath.Join(b.work, "root.sqfs")
	epoch := fmt.Sprint(b.cfg.Epoch)
	// mksquashfs refuses SOURCE_DATE_EPOCH together with the explicit times.
	return out, b.run(context.Background(), "", []string{"SOURCE_DATE_EPOCH"}, "mksquashfs", stage, out,
		"-noappend", "-no-progress", "-all-root", "-reproducible", "-mkfs-time", epoch, "-all-time", epoch,
		"-no-xattrs", "-comp", "zstd", "-Xcompression-level", "19", "-b", "256K")
}

// caBundle concatenates Debian's Mozilla roots in name order, as
// update-ca-certificates does.
func caBundle(tree string) ([]byte, error) {
	certs, err := filepath.Glob(filepath.Join(tree, "usr/share/ca-certificates/mozilla/*.crt"))
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("no CA certificates in %s", tree)
	}
	slices.Sort(certs)
	var buf bytes.Buffer
	for _, c := range certs {
		data, err := os.ReadFile(c)
		if err != nil {
			return nil, err
		}
		buf.Write(bytes.TrimSpace(data))
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// dataTemplate makes the empty ext4 the init copies into a new data
// partition: fixed UUID, hash seed and times, a 16 MiB journal, and group
// descriptors reserved for online growth to 2 TiB (beyond, the kernel
// converts to meta_bg while resizing). More reserve does not fit: one resize
// step journals every reserved descriptor block, a journal grants a quarter of
// its blocks per transaction, and 16 TiB worth (1024 blocks) failed with
// "JBD2: init wants too many credits credits:1030 max:1024". MKE2FS_CONFIG=/dev/null keeps the
// build host's mke2fs.conf out of it, so every feature is named here.
func (b *builder) dataTemplate(out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := f.Truncate(templateSize); err != nil {
		f.Close()
		return err
	}
	f.Close()
	epoch := fmt.Sprint(b.cfg.Epoch)
	if err := b.run(context.Background(), "", []string{"E2FSPROGS_FAKE_TIME=" + epoch, "SOURCE_DATE_EPOCH=" + epoch, "MKE2FS_CONFIG=/dev/null"},
		"mkfs.ext4", "-q", "-F", "-L", "data", "-b", "4096", "-m", "1", "-I", "256",
		"-J", "size=16",
		"-O", "has_journal,64bit,resize_inode,dir_index,filetype,extent,flex_bg,sparse_super,large_file,huge_file,dir_nlink,extra_isize,metadata_csum",
		"-U", stableGUID(b.cfg.Board.Name+"/data-fs"),
		"-E", "hash_seed="+stableGUID(b.cfg.Board.Name+"/data-hash")+",root_owner=0:0,lazy_itable_init=0,nodiscard,resize=536870912",
		out); err != nil {
		return err
	}
	return os.Chmod(out, 0o644)
}

// esp builds the FAT ESP with systemd-boot, loader.conf, an entry, kernel and
// initramfs per slot.
func (b *builder) esp(ctx context.Context, loader, kernel, initrd string) (string, error) {
	bd := b.cfg.Board
	img := filepath.Join(b.work, "esp.img")
	f, err := os.Create(img)
	if err != nil {
		return "", err
	}
	if err := f.Truncate(bd.ESPSize); err != nil {
		f.Close()
		return "", err
	}
	f.Close()
	epoch := fmt.Sprint(b.cfg.Epoch)
	env := []string{"SOURCE_DATE_EPOCH=" + epoch, "MTOOLS_SKIP_CHECK=1", "TZ=UTC"}
	if err := b.run(ctx, "", env, "mkfs.vfat", "-F", "32", "-S", "512", "--invariant", "-i", "4f555450", "-n", "ESP", img); err != nil {
		return "", err
	}
	files := map[string]string{} // ESP path -> host file
	stage := filepath.Join(b.work, "esp")
	write := func(p string, data []byte) error {
		full := filepath.Join(stage, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		files[p] = full
		return os.WriteFile(full, data, 0o644)
	}
	files["EFI/BOOT/"+bd.Bootloader.Removable] = loader
	if err := write(layout.LoaderConf, []byte("# Outpost: boot the best slot at once; entries count their tries (outpost-a+3.conf).\ntimeout 0\nconsole-mode keep\neditor no\nauto-entries no\nauto-firmware no\n")); err != nil {
		return "", err
	}
	for _, slot := range []string{"a", "b"} {
		files[layout.SlotDir(slot)+"/vmlinuz"] = kernel
		files[layout.SlotDir(slot)+"/initrd"] = initrd
		// Slot A sorts first (systemd-boot orders by version, newest first;
		// "~" sorts before anything). The updater gives the slot it writes a
		// higher version and a fresh counter.
		version := b.cfg.Version
		if slot == "b" {
			version += "~b"
		}
		entry := fmt.Sprintf("title Outpost %s (slot %s)\nsort-key outpost\nversion %s\nlinux /%s/vmlinuz\ninitrd /%s/initrd\noptions %s\n",
			b.cfg.Version, strings.ToUpper(slot), version, layout.SlotDir(slot), layout.SlotDir(slot), bd.KernelCmdline(slot))
		if err := write(layout.EntriesDir+"/"+layout.EntryName(slot, BootTries), []byte(entry)); err != nil {
			return "", err
		}
	}
	paths := make([]string, 0, len(files))
	dirs := map[string]bool{}
	for p := range files {
		paths = append(paths, p)
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	slices.Sort(paths)
	var dirList []string
	for d := range dirs {
		dirList = append(dirList, d)
	}
	slices.Sort(dirList) // parents first
	args := []string{"-i", img}
	for _, d := range dirList {
		args = append(args, "::/"+d)
	}
	if err := b.run(ctx, "", env, "mmd", args...); err != nil {
		return "", err
	}
	mtime := time.Unix(b.cfg.Epoch, 0)
	for _, p := range paths {
		src := files[p]
		// mcopy -m keeps the source's mtime: copy it to a file we may touch.
		staged := filepath.Join(b.work, "esp-src", p)
		if err := os.MkdirAll(filepath.Dir(staged), 0o755); err != nil {
			return "", err
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(staged, data, 0o644); err != nil {
			return "", err
		}
		if err := os.Chtimes(staged, mtime, mtime); err != nil {
			return "", err
		}
		if err := b.run(ctx, "", env, "mcopy", "-m", "-i", img, staged, "::/"+p); err != nil {
			return "", err
		}
	}
	return img, nil
}
