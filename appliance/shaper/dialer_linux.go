package shaper

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// MarkDialer returns a net.Dialer Control function that sets SO_MARK on every
// socket it dials, so the kernel tree classifies the box's origin fetches as
// video. Setting a mark needs CAP_NET_ADMIN: without it the dial fails, so plug it
// in only when the shaper is enabled.
//
//	d := &net.Dialer{Control: shaper.MarkDialer(cfg.Mark)}
func MarkDialer(mark uint32) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(mark))
		}); err != nil {
			return fmt.Errorf("set SO_MARK: %w", err)
		}
		if serr != nil {
			return fmt.Errorf("set SO_MARK %#x: %w", mark, serr)
		}
		return nil
	}
}
