//go:build !linux

package pid1

import (
	"errors"
	"io"
	"log/slog"
	"os"
)

var errNotLinux = errors.New("pid1: the Outpost init runs on Linux only")

// InInitramfs is false off Linux.
func InInitramfs() bool { return false }

// Stage1 fails off Linux.
func Stage1(*slog.Logger) error { return errNotLinux }

// Stage2 fails off Linux.
func Stage2(*slog.Logger, io.Writer) error { return errNotLinux }

// Reboot exits off Linux.
func Reboot(log *slog.Logger, why error) {
	log.Error("FATAL", "err", why)
	os.Exit(1)
}
