package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procRoot is the proc file system; tests point it at a fake tree.
var procRoot = "/proc"

// sysProcAttr puts each child in its own process group (a terminal's ^C reaches only the
// harness, which then stops the children in order) and asks the kernel to send it
// SIGTERM if the harness dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// Memory is the resident memory of a process or a process tree, in bytes.
type Memory struct {
	// RSS is the sum of VmRSS: shared pages count once per process.
	RSS int64
	// PSS is the sum of the proportional set size: shared pages are split between the
	// processes that map them. Zero when smaps_rollup is unreadable.
	PSS int64
}

// TreeMemory returns the memory of pid and its direct children (an nginx master and its
// workers).
func TreeMemory(pid int) (Memory, error) {
	m, err := processMemory(pid)
	if err != nil {
		return m, err
	}
	kids, err := Children(pid)
	if err != nil {
		return m, err
	}
	for _, k := range kids {
		km, err := processMemory(k)
		if err != nil {
			continue // a worker that just exited
		}
		m.RSS += km.RSS
		m.PSS += km.PSS
	}
	return m, nil
}

// processMemory reads VmRSS from /proc/PID/status and Pss from /proc/PID/smaps_rollup.
func processMemory(pid int) (Memory, error) {
	var m Memory
	status, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "status"))
	if err != nil {
		return m, fmt.Errorf("read memory of pid %d: %w", pid, err)
	}
	if m.RSS, err = kBField(status, "VmRSS:"); err != nil {
		return m, fmt.Errorf("read memory of pid %d: %w", pid, err)
	}
	if rollup, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "smaps_rollup")); err == nil {
		m.PSS, _ = kBField(rollup, "Pss:")
	}
	return m, nil
}

// kBField finds "Name:   1234 kB" in a /proc file and returns the value in bytes.
func kBField(data []byte, name string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("parse %q", line)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("parse %q", line)
		}
		return n * 1024, nil
	}
	return 0, fmt.Errorf("no %s line", name)
}

// Children returns the PIDs whose parent is pid, by scanning /proc/*/stat.
func Children(pid int) ([]int, error) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var kids []int
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "stat"))
		if err != nil {
			continue
		}
		if ppid, ok := parentPID(stat); ok && ppid == pid {
			kids = append(kids, child)
		}
	}
	return kids, nil
}

// parentPID reads the ppid field of /proc/PID/stat: "pid (comm) state ppid ...", where
// comm may contain spaces and parentheses.
func parentPID(stat []byte) (int, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat (100 on every
// Linux architecture Go supports).
const clockTicks = 100

// TreeCPU returns the CPU time (user + system) that pid and its direct children used.
func TreeCPU(pid int) (time.Duration, error) {
	total, err := processCPU(pid)
	if err != nil {
		return 0, err
	}
	kids, err := Children(pid)
	if err != nil {
		return 0, err
	}
	for _, k := range kids {
		if c, err := processCPU(k); err == nil {
			total += c
		}
	}
	return total, nil
}

// processCPU reads utime and stime (fields 14 and 15) of /proc/PID/stat.
func processCPU(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, fmt.Errorf("read cpu of pid %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse stat of pid %d", pid)
	}
	f := strings.Fields(string(stat[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("parse stat of pid %d", pid)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse stat of pid %d: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
