package clock

import (
	"time"

	"golang.org/x/sys/unix"
)

// SetSystem sets the system clock (CLOCK_REALTIME).
func SetSystem(t time.Time) error {
	tv := unix.NsecToTimeval(t.UnixNano())
	return unix.Settimeofday(&tv)
}
