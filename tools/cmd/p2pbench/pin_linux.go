package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pinClients keeps this process (the client peers) off the box's CPUs.
func pinClients(boxCPUs string) error {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return err
	}
	for f := range strings.SplitSeq(boxCPUs, ",") {
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil {
			return fmt.Errorf("bad CPU list %q", boxCPUs)
		}
		for c := a; c <= b; c++ {
			set.Clear(c)
		}
	}
	if set.Count() == 0 {
		return fmt.Errorf("no CPU left for the clients after %q", boxCPUs)
	}
	// sched_setaffinity is per thread: set it on every thread the runtime
	// started so far; later threads inherit it from their creator.
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil {
			return fmt.Errorf("pin thread %d: %w", tid, err)
		}
	}
	runtime.GOMAXPROCS(set.Count())
	return nil
}
