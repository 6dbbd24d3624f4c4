//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package demoorigin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

const (
	lockPoll = 100 * time.Millisecond // how often a waiting Prepare retries the lock
	lockWait = 30 * time.Minute       // longest wait for another process's encode
)

// lockFile takes an exclusive advisory lock on name (created if missing),
// waiting until it is free or ctx ends. The returned func releases it;
// locked is false when the file system does not support locks, in which
// case the caller goes on unlocked. Rename-into-place keeps encodes atomic
// without it; the lock saves a second process from encoding the same
// media at the same time.
func lockFile(ctx context.Context, name string) (unlock func(), locked bool, err error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("open lock: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, true, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return func() {}, false, nil // e.g. ENOLCK: no locks on this file system
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, false, fmt.Errorf("wait for lock %s: %w", name, ctx.Err())
		case <-t.C:
		}
	}
}
