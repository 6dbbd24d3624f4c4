//go:build !linux

package bench

import (
	"errors"
	"syscall"
	"time"
)

// Memory is the resident memory of a process or a process tree, in bytes.
type Memory struct {
	RSS int64
	PSS int64
}

var errNoProc = errors.New("bench: process memory needs Linux /proc")

func sysProcAttr() *syscall.SysProcAttr { return nil }

// TreeMemory is available on Linux only.
func TreeMemory(pid int) (Memory, error) { return Memory{}, errNoProc }

// Children is available on Linux only.
func Children(pid int) ([]int, error) { return nil, errNoProc }

// TreeCPU is available on Linux only.
func TreeCPU(pid int) (time.Duration, error) { return 0, errNoProc }
