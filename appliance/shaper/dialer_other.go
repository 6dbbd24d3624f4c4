//go:build !linux

package shaper

import "syscall"

// MarkDialer returns a Control function that does nothing: marks are Linux-only.
func MarkDialer(mark uint32) func(network, address string, c syscall.RawConn) error {
	return func(string, string, syscall.RawConn) error { return nil }
}
