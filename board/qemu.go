package board

import (
	"fmt"
	"strings"
)

// VM is one boot test machine: the files and ports the board's qemu command
// line needs.
type VM struct {
	Disk     string // raw disk image, written by the guest
	Vars     string // a writable copy of QEMU.FirmwareVars
	Serial   string // file receiving the serial console
	QMP      string // unix socket for QMP (power button, quit)
	HostPort int    // 127.0.0.1:HostPort forwards to the guest's port 80
	// Accel is "tcg" (default) or "kvm".
	Accel  string
	Memory int // MiB; 0 means 1024
	CPUs   int // 0 means 2
	// LonelyNIC adds a second NIC on a hub with nothing else on it: no DHCP
	// server answers there, so the box must fall back to link-local.
	LonelyNIC bool
	// NoWatchdog leaves out the board's watchdog device (-device i6300esb), so
	// the box boots as on hardware without one.
	NoWatchdog bool
}

// QEMUCommand returns the qemu binary and arguments that boot the board's
// image like a real box: UEFI firmware, the disk on the board's disk model,
// one NIC behind qemu's user network restricted to the forwarded port (the
// guest reaches nothing outside), serial console to a file, no display.
// qemu exits instead of rebooting, so every reset ends a test run.
func (b *Board) QEMUCommand(vm VM) (string, []string) {
	q := b.QEMU
	accel := vm.Accel
	if accel == "" {
		accel = "tcg"
	}
	mem, cpus := vm.Memory, vm.CPUs
	if mem == 0 {
		mem = 1024
	}
	if cpus == 0 {
		cpus = 2
	}
	cpu := q.CPU
	if accel == "kvm" {
		cpu = "host"
	}
	args := []string{
		"-machine", strings.Join(q.Machine, ",") + ",accel=" + accel,
		"-cpu", cpu,
		"-m", fmt.Sprint(mem),
		"-smp", fmt.Sprint(cpus),
		"-display", "none", "-monitor", "none", "-no-reboot",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + q.FirmwareCode,
		"-drive", "if=pflash,format=raw,unit=1,file=" + vm.Vars,
		"-drive", "if=none,id=disk0,format=raw,cache=unsafe,file=" + vm.Disk,
		"-device", q.DiskDevice + ",drive=disk0",
		"-netdev", fmt.Sprintf("user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:80", vm.HostPort),
		"-device", q.NICDevice + ",netdev=net0",
		"-serial", "file:" + vm.Serial,
		"-qmp", "unix:" + vm.QMP + ",server=on,wait=off",
	}
	if vm.LonelyNIC {
		args = append(args, "-netdev", "hubport,id=net1,hubid=1", "-device", q.NICDevice+",netdev=net1")
	}
	for i := 0; i < len(q.Args); i++ {
		if vm.NoWatchdog && q.Args[i] == "-device" && i+1 < len(q.Args) && strings.HasPrefix(q.Args[i+1], "i6300esb") {
			i++
			continue
		}
		args = append(args, q.Args[i])
	}
	return q.Binary, args
}
