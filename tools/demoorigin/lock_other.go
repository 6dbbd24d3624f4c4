//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package demoorigin

import "context"

// lockFile is a no-op where flock is unavailable; Prepare stays correct
// through rename-into-place, it may just encode twice.
func lockFile(ctx context.Context, name string) (unlock func(), locked bool, err error) {
	return func() {}, false, nil
}
