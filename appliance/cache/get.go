package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// errRetry makes Get look the key up again: the entry it found was evicted,
// replaced or dropped as corrupt while it was being opened.
var errRetry = errors.New("cache: entry changed, retry")

// maxGetAttempts bounds the retries; each one follows an eviction or a
// dropped corrupt object, after which the next attempt fills.
const maxGetAttempts = 4

// Get returns the object for key: from memory, from disk, by joining an
// in-flight fill, or by starting one with fill. A nil fill never starts a
// fill; Get then fails with ErrFillFailed when the object is neither stored
// and fresh nor being filled.
//
// ctx bounds only this caller's wait: when it ends before the fill produced
// its Source, Get returns ctx.Err(); the fill itself runs on. Fill errors
// are returned wrapping ErrFillFailed and the FillFunc's own error. After a
// failed refill of an expired object, the old copy is returned with
// StatusStale while its stale window lasts.
func (c *Cache) Get(ctx context.Context, key string, fill FillFunc) (*Handle, error) {
	for range maxGetAttempts - 1 {
		h, err := c.get(ctx, key, fill)
		if !errors.Is(err, errRetry) {
			return h, err
		}
	}
	h, err := c.get(ctx, key, fill)
	if errors.Is(err, errRetry) {
		return nil, fmt.Errorf("get %q: object kept changing", key)
	}
	return h, err
}

func (c *Cache) get(ctx context.Context, key string, fn FillFunc) (*Handle, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	e := c.index[key]
	if e != nil && e.fresh(c.cfg.Now()) {
		c.touchLocked(e)
		mem := e.mem
		c.mu.Unlock()
		if mem != nil {
			c.hits.Add(1)
			c.memoryHits.Add(1)
			return memHandle(e, mem, StatusHit), nil
		}
		h, err := c.open(e, StatusHit)
		if err != nil {
			return nil, err
		}
		c.hits.Add(1)
		return h, nil
	}
	f := c.fills[key]
	status := StatusCoalesced
	if f == nil {
		if fn == nil {
			c.mu.Unlock()
			return nil, fmt.Errorf("get %q: %w: no FillFunc", key, ErrFillFailed)
		}
		f = c.startFillLocked(key, e, fn)
		status = StatusMiss
	}
	f.join()
	c.mu.Unlock()
	if status == StatusMiss {
		c.misses.Add(1)
	} else {
		c.coalesced.Add(1)
	}

	select {
	case <-f.srcReady:
	case <-ctx.Done():
		f.leave()
		return nil, ctx.Err()
	}
	if f.srcErr != nil {
		if st := f.stale; st != nil && st.staleOK(c.cfg.Now()) {
			if h, err := c.open(st, StatusStale); err == nil {
				c.staleServed.Add(1)
				return h, nil
			}
		}
		return nil, f.srcErr
	}
	return &Handle{status: status, ctx: ctx, fill: f}, nil
}

// Peek returns a complete, fresh object without ever filling; ok is false
// when there is none. It does not count as a hit or a miss.
func (c *Cache) Peek(key string) (*Handle, bool) {
	c.mu.Lock()
	e := c.index[key]
	if c.closed || e == nil || !e.fresh(c.cfg.Now()) {
		c.mu.Unlock()
		return nil, false
	}
	c.touchLocked(e)
	mem := e.mem
	c.mu.Unlock()
	if mem != nil {
		return memHandle(e, mem, StatusHit), true
	}
	h, err := c.open(e, StatusHit)
	return h, err == nil
}

// open serves a stored entry that was not in memory at lookup. Small
// objects are read whole, verified and promoted to the memory tier (once,
// however many callers arrive together); large ones are verified and their
// open file pinned to the handle. A corrupt object is dropped and errRetry
// returned, so Get refills it.
func (c *Cache) open(e *entry, st Status) (*Handle, error) {
	if c.memFits(e.size) {
		e.loadMu.Lock()
		defer e.loadMu.Unlock()
		c.mu.Lock()
		mem, removed := e.mem, e.removed
		c.mu.Unlock()
		switch {
		case mem != nil:
			return memHandle(e, mem, st), nil
		case removed:
			return nil, errRetry
		}
		body, err := readVerified(c.dataPath(e), e.size, e.sha)
		if err != nil {
			return nil, c.failOpen(e, err)
		}
		e.verifiedAt = c.cfg.Now()
		c.mu.Lock()
		c.memInsertLocked(e, body)
		c.mu.Unlock()
		return memHandle(e, body, st), nil
	}

	trusted := false
	if c.cfg.ReverifyAfter > 0 {
		// Hash once for all callers arriving together; the next ones trust it.
		e.loadMu.Lock()
		defer e.loadMu.Unlock()
		trusted = !e.verifiedAt.IsZero() && c.cfg.Now().Sub(e.verifiedAt) < c.cfg.ReverifyAfter
	}
	path := c.dataPath(e)
	f, err := os.Open(path)
	if err != nil {
		return nil, c.failOpen(e, err)
	}
	p, err := newPinned(f, 1)
	if err == nil && p.fi.Size() != e.size {
		err = fmt.Errorf("data is %d bytes, want %d", p.fi.Size(), e.size)
	}
	if err == nil && !trusted {
		err = verifyFile(f, e.sha)
	}
	if err != nil {
		f.Close()
		return nil, c.failOpen(e, err)
	}
	if c.cfg.ReverifyAfter > 0 && !trusted {
		e.verifiedAt = c.cfg.Now()
	}
	return &Handle{status: st, entry: e, disk: p, path: path}, nil
}

// failOpen tells an entry that vanished under the reader (evicted or
// replaced: retry) from one that is corrupt (drop it, then retry).
func (c *Cache) failOpen(e *entry, err error) error {
	c.mu.Lock()
	removed := e.removed
	c.mu.Unlock()
	if !removed {
		c.dropCorrupt(e, err)
	}
	return errRetry
}

// readVerified reads a whole data file and checks its size and SHA-256.
func readVerified(path string, size int64, sum string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if fi.Size() != size {
		return nil, fmt.Errorf("verify: data is %d bytes, want %d", fi.Size(), size)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(f, body); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	got := sha256.Sum256(body)
	if hex.EncodeToString(got[:]) != sum {
		return nil, errors.New("verify: checksum mismatch")
	}
	return body, nil
}

// verifyFile hashes f from its start, compares the digest with sum and
// rewinds f.
func verifyFile(f *os.File, sum string) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	h := sha256.New()
	// Hide f's WriteTo, which would bypass the pooled buffer.
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, *bp); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if hex.EncodeToString(h.Sum(nil)) != sum {
		return errors.New("verify: checksum mismatch")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	return nil
}
