// Package board describes the hardware Outpost images are built for, as data.
//
// In: a board name ("pc-x86_64", "arm64-efi"). Out: a *Board saying which Go
// architecture to build, which pinned Debian packages supply the kernel and the
// bootloader, which kernel modules the init loads, the console, the partition
// sizes and the qemu arguments the boot test uses. Nothing here runs anything:
// tools/image turns a Board into a disk image and rootfs reads the parts of it
// that the image builder writes into the initramfs.
//
// # Usage
//
//	b, err := board.Lookup("pc-x86_64")
//	if err != nil {
//		return err // board: unknown board "pc-x86-64" (known: arm64-efi, pc-x86_64)
//	}
//	fmt.Println(b.Kernel.Package, b.GOARCH)
package board

import (
	"fmt"
	"slices"
	"strings"
)

// MiB is one mebibyte, the unit of every partition size.
const MiB = 1 << 20

// Partition labels (GPT partition names). The init finds partitions by these
// names, the image builder writes them, the updater switches between the roots.
const (
	LabelESP   = "ESP"
	LabelRootA = "root-a"
	LabelRootB = "root-b"
	LabelData  = "data"
)

// GPT partition type GUIDs (UEFI spec and the Discoverable Partitions Specification).
const (
	TypeESP       = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	TypeRootX8664 = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
	TypeRootARM64 = "B921B045-1DF0-41C3-AF44-4C6F280D3FAE"
	TypeLinuxData = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
)

// Package pins one Debian binary package: name and exact version, so that two
// builds of one commit fetch the same bytes.
type Package struct {
	Name    string // e.g. "linux-image-6.1.0-56-amd64"
	Version string // e.g. "6.1.192-2"
}

// String returns the apt-get spelling, name=version.
func (p Package) String() string { return p.Name + "=" + p.Version }

// Kernel is the Debian kernel a board boots.
type Kernel struct {
	Package Package
	// Release is `uname -r` of the kernel, the directory under /lib/modules.
	Release string
	// Image is the kernel's path inside the package, e.g. "boot/vmlinuz-6.1.0-56-amd64".
	Image string
}

// Bootloader is the UEFI boot manager and where it comes from.
type Bootloader struct {
	Package Package
	// File is the EFI binary's path inside the package.
	File string
	// Removable is the file name under /EFI/BOOT that firmware boots without
	// any NVRAM entry: BOOTX64.EFI or BOOTAA64.EFI.
	Removable string
}

// QEMU is how the boot test starts this board in qemu. Paths are those of
// Debian's qemu-system-*, ovmf and qemu-efi-aarch64 packages.
type QEMU struct {
	Binary  string   // qemu-system-x86_64
	Machine []string // -machine value(s) joined by ",", without accel
	CPU     string   // -cpu under TCG
	// FirmwareCode is the read-only UEFI code; FirmwareVars is copied per run.
	FirmwareCode, FirmwareVars string
	// Args are extra device arguments (watchdog, rng, disk and NIC models). The
	// boot test adds drives, network, serial and firmware itself.
	Args []string
	// DiskDevice and NICDevice are the -device models for the disk and NIC.
	DiskDevice, NICDevice string
}

// Board is one target. Every field is data; the zero value of a field is an
// error for the image builder (Validate says which).
type Board struct {
	Name   string
	GOARCH string // Go architecture of the init and the services
	// DebArch is Debian's architecture name (amd64, arm64).
	DebArch    string
	Kernel     Kernel
	Bootloader Bootloader
	// Modules are loaded by the init in the initramfs, dependencies first. The
	// image builder resolves dependencies from the modules' own .modinfo and
	// skips modules built into the kernel. Modules absent from the kernel
	// package are an error, so a typo never ships silently.
	Modules []string
	// Console is the kernel console=... value for the serial port; the last
	// console= on the command line is /dev/console.
	Console []string
	// Cmdline is added to every boot entry's kernel command line.
	Cmdline []string
	// RootType is the GPT type GUID of the root partitions.
	RootType string
	// ESPSize and RootSize are partition sizes in bytes (multiples of 1 MiB).
	// The data partition is not in the image: the init creates it on first
	// boot in the rest of the disk, at least DataMinSize bytes.
	ESPSize, RootSize, DataMinSize int64
	// QEMU is the boot test's machine.
	QEMU QEMU
}

// storageModules are the block drivers of generic UEFI boxes: NVMe, SATA, USB
// sticks, eMMC, and qemu's virtio.
var storageModules = []string{
	"virtio_pci", "virtio_blk", "virtio_scsi", "sd_mod",
	"nvme", "ahci", "xhci_pci", "usb_storage", "uas",
	"mmc_block", "sdhci_pci", "sdhci_acpi",
}

// fsModules are the filesystems: squashfs roots, the ext4 data partition with
// its checksum algorithm (ext4 asks for "crc32c" through the crypto API, which
// no modprobe answers in our init), the FAT ESP with its code pages, efivarfs
// for systemd-boot's variables. (Debian's vfat defaults to iocharset=ascii,
// which needs nls_ascii, and codepage 437.)
var fsModules = []string{
	"squashfs", "ext4", "crc32c_generic", "vfat", "nls_cp437", "nls_ascii", "nls_utf8", "efivarfs",
}

// nicModules are Ethernet drivers of common mini-PCs plus qemu's.
var nicModules = []string{"virtio_net", "e1000", "e1000e", "igb", "igc", "r8169"}

var boards = map[string]*Board{
	"pc-x86_64": {
		Name:    "pc-x86_64",
		GOARCH:  "amd64",
		DebArch: "amd64",
		Kernel: Kernel{
			Package: Package{Name: "linux-image-6.1.0-56-amd64", Version: "6.1.192-2"},
			Release: "6.1.0-56-amd64",
			Image:   "boot/vmlinuz-6.1.0-56-amd64",
		},
		Bootloader: Bootloader{
			Package:   Package{Name: "systemd-boot-efi", Version: "252.39-1~deb12u2"},
			File:      "usr/lib/systemd/boot/efi/systemd-bootx64.efi",
			Removable: "BOOTX64.EFI",
		},
		Modules: concat(storageModules, fsModules, nicModules, []string{
			"crc32c_intel", "virtio_rng", "i6300esb", "iTCO_wdt", "button", "evdev",
		}),
		Console:     []string{"tty0", "ttyS0,115200"},
		Cmdline:     []string{"panic=10", "loglevel=4"},
		RootType:    TypeRootX8664,
		ESPSize:     128 * MiB,
		RootSize:    192 * MiB,
		DataMinSize: 128 * MiB,
		QEMU: QEMU{
			Binary:       "qemu-system-x86_64",
			Machine:      []string{"q35"},
			CPU:          "max",
			FirmwareCode: "/usr/share/OVMF/OVMF_CODE_4M.fd",
			FirmwareVars: "/usr/share/OVMF/OVMF_VARS_4M.fd",
			Args:         []string{"-device", "i6300esb", "-device", "virtio-rng-pci"},
			DiskDevice:   "virtio-blk-pci",
			NICDevice:    "virtio-net-pci",
		},
	},
	"arm64-efi": {
		Name:    "arm64-efi",
		GOARCH:  "arm64",
		DebArch: "arm64",
		Kernel: Kernel{
			Package: Package{Name: "linux-image-6.1.0-56-arm64", Version: "6.1.192-2"},
			Release: "6.1.0-56-arm64",
			Image:   "boot/vmlinuz-6.1.0-56-arm64",
		},
		Bootloader: Bootloader{
			Package:   Package{Name: "systemd-boot-efi", Version: "252.39-1~deb12u2"},
			File:      "usr/lib/systemd/boot/efi/systemd-bootaa64.efi",
			Removable: "BOOTAA64.EFI",
		},
		Modules: concat(storageModules, fsModules, nicModules, []string{
			"virtio_mmio", "virtio_rng", "i6300esb", "evdev", "gpio_keys",
		}),
		Console:     []string{"tty0", "ttyAMA0,115200"},
		Cmdline:     []string{"panic=10", "loglevel=4"},
		RootType:    TypeRootARM64,
		ESPSize:     128 * MiB,
		RootSize:    192 * MiB,
		DataMinSize: 128 * MiB,
		QEMU: QEMU{
			Binary:       "qemu-system-aarch64",
			Machine:      []string{"virt"},
			CPU:          "max",
			FirmwareCode: "/usr/share/AAVMF/AAVMF_CODE.fd",
			FirmwareVars: "/usr/share/AAVMF/AAVMF_VARS.fd",
			Args:         []string{"-device", "i6300esb", "-device", "virtio-rng-pci"},
			DiskDevice:   "virtio-blk-pci",
			NICDevice:    "virtio-net-pci",
		},
	},
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Names returns the known board names, sorted.
func Names() []string {
	var names []string
	for n := range boards {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Lookup returns a copy of the named board, safe to modify.
func Lookup(name string) (*Board, error) {
	b, ok := boards[name]
	if !ok {
		return nil, fmt.Errorf("board: unknown board %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	c := *b
	c.Modules = slices.Clone(b.Modules)
	c.Console = slices.Clone(b.Console)
	c.Cmdline = slices.Clone(b.Cmdline)
	c.QEMU.Machine = slices.Clone(b.QEMU.Machine)
	c.QEMU.Args = slices.Clone(b.QEMU.Args)
	return &c, nil
}

// Validate reports the first field that makes the board unusable.
func (b *Board) Validate() error {
	switch {
	case b.Name == "":
		return fmt.Errorf("board: name is empty")
	case b.GOARCH == "" || b.DebArch == "":
		return fmt.Errorf("board %s: GOARCH and DebArch are required", b.Name)
	case b.Kernel.Package.Name == "" || b.Kernel.Package.Version == "" || b.Kernel.Release == "" || b.Kernel.Image == "":
		return fmt.Errorf("board %s: kernel package, version, release and image are required", b.Name)
	case b.Bootloader.Package.Name == "" || b.Bootloader.File == "" || b.Bootloader.Removable == "":
		return fmt.Errorf("board %s: bootloader package, file and removable name are required", b.Name)
	case len(b.Console) == 0:
		return fmt.Errorf("board %s: console is required", b.Name)
	case b.RootType == "":
		return fmt.Errorf("board %s: root partition type is required", b.Name)
	}
	for what, size := range map[string]int64{"ESP": b.ESPSize, "root": b.RootSize, "data": b.DataMinSize} {
		if size <= 0 || size%MiB != 0 {
			return fmt.Errorf("board %s: %s size %d must be a positive multiple of 1 MiB", b.Name, what, size)
		}
	}
	return nil
}

// KernelCmdline is the command line of the boot entry for slot ("a" or "b").
func (b *Board) KernelCmdline(slot string) string {
	var args []string
	for _, c := range b.Console {
		args = append(args, "console="+c)
	}
	args = append(args, b.Cmdline...)
	args = append(args, "outpost.slot="+slot)
	return strings.Join(args, " ")
}
