// Command init is the Outpost init, PID 1 of the appliance image: the same
// static binary is /init in the initramfs (stage 1: load modules, find and
// mount the root slot, switch root) and /bin/init in each root slot (stage 2:
// data partition, network, clock, watchdog, services). See rootfs/pid1.
//
// In: the kernel command line (outpost.slot=a|b) and /etc/outpost/manifest.json.
// Out: a running box; on a fatal error, a reboot (the boot loader's try counter
// then falls back to the other slot).
package main

import (
	"fmt"
	"os"

	"github.com/outpost-ecdn/outpost/rootfs/pid1"
)

func main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "init: the Outpost init runs only as PID 1")
		os.Exit(2)
	}
	log, console := pid1.NewLogger(os.Stderr)
	defer func() {
		if r := recover(); r != nil {
			pid1.Reboot(log, fmt.Errorf("panic: %v", r))
		}
	}()
	var err error
	if pid1.InInitramfs() {
		err = pid1.Stage1(log)
	} else {
		err = pid1.Stage2(log, console)
	}
	pid1.Reboot(log, err)
}
