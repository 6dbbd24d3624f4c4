package watchdog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Dog is an open, armed watchdog.
type Dog struct {
	f    *os.File
	info Info
	mu   sync.Mutex
}

const wdiofCardReset = 0x0020

// Open arms the watchdog at path with the timeout (the driver may round it).
func Open(path string, timeout time.Duration) (*Dog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO) {
		return nil, ErrAbsent
	}
	if err != nil {
		return nil, fmt.Errorf("watchdog: open %s: %w", path, err)
	}
	d := &Dog{f: f, info: Info{Present: true}}
	fd := int(f.Fd())
	if id, err := unix.IoctlGetWatchdogInfo(fd); err == nil {
		d.info.Driver = string(bytes.TrimRight(id.Identity[:], "\x00"))
	}
	if err := unix.IoctlSetPointerInt(fd, unix.WDIOC_SETTIMEOUT, int(timeout/time.Second)); err != nil {
		d.info.Problem = "cannot set timeout: " + err.Error()
	}
	if t, err := unix.IoctlGetInt(fd, unix.WDIOC_GETTIMEOUT); err == nil {
		d.info.Timeout = t
	}
	var boot int32
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.WDIOC_GETBOOTSTATUS, uintptr(unsafe.Pointer(&boot))); errno == 0 {
		d.info.LastResetByWatchdog = boot&wdiofCardReset != 0
	}
	return d, nil
}

// Info returns what Open learnt.
func (d *Dog) Info() Info { return d.info }

// Run feeds the watchdog every third of its timeout until ctx ends. It does
// not disarm: if the init stops feeding, the box resets.
func (d *Dog) Run(ctx context.Context) {
	every := time.Duration(max(d.info.Timeout, 3)) * time.Second / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		d.mu.Lock()
		if d.f != nil {
			unix.IoctlWatchdogKeepalive(int(d.f.Fd()))
		}
		d.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close closes the device. With disarm it writes the magic 'V' first so the
// driver stops the timer (a clean poweroff); without, the timer keeps running
// and resets the box if the reboot hangs.
func (d *Dog) Close(disarm bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	if disarm {
		d.f.Write([]byte("V"))
	}
	err := d.f.Close()
	d.f = nil
	return err
}
