package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Source is what a fill produces.
type Source struct {
	// Body is read to its end and closed by the cache. Close may be called
	// concurrently with Read, to abort the fill when its context ends.
	Body io.ReadCloser
	// Size is the expected size, -1 if unknown (chunked). A body of another
	// length is discarded.
	Size        int64
	ContentType string
	// TTL is how long the object stays fresh; 0: it never expires (segments).
	TTL time.Duration
	// StaleTTL is how long after expiry the old copy may still be served when
	// a refill fails before producing a Source.
	StaleTTL time.Duration
}

// FillFunc fetches an object. ctx is the fill's own: it ends when the cache
// closes or after Config.FillTimeout, never because a viewer left.
type FillFunc func(ctx context.Context) (*Source, error)

const readBufSize = 32 << 10

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, readBufSize)
	return &b
}}

// fill is one running fetch of a key, shared by every Get that wants it.
type fill struct {
	key   string
	hash  string
	stale *entry // expired entry this fill refreshes, or nil

	// srcReady is closed once the FillFunc returned: with pin set, or with
	// srcErr set.
	srcReady chan struct{}
	srcErr   error

	mu         sync.Mutex
	reserved   int64       // waiters that joined before pin existed
	pin        *pinnedFile // the temp file the body is written to
	meta       Meta
	staleUntil time.Time
	written    int64
	waiting    bool          // a reader waits on progress
	progress   chan struct{} // closed and replaced when written or state changes
	err        error         // the body failed; readers return it
	finished   bool          // the fill ended and the disk is settled: readers get io.EOF
	stored     bool
	tooLarge   bool   // streamed to its waiters but too large to keep
	path       string // data path once stored
	mem        []byte // the body, when small enough for the memory tier
}

// startFillLocked registers a fill for key and starts it. c.mu is held.
func (c *Cache) startFillLocked(key string, stale *entry, fn FillFunc) *fill {
	f := &fill{key: key, hash: keyHash(key), stale: stale, srcReady: make(chan struct{})}
	c.fills[key] = f
	c.wg.Add(1)
	go c.runFill(f, fn)
	return f
}

func (c *Cache) forgetFillLocked(f *fill) {
	if c.fills[f.key] == f {
		delete(c.fills, f.key)
	}
}

func (c *Cache) runFill(f *fill, fn FillFunc) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.FillTimeout)
	defer cancel()

	src, err := fn(ctx)
	if err == nil {
		err = checkSource(src)
	}
	var body *onceCloser
	if src != nil && src.Body != nil {
		body = &onceCloser{ReadCloser: src.Body}
		defer body.Close()
		closed := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			body.Close()
			close(closed)
		})
		defer func() {
			if !stop() {
				<-closed // the AfterFunc ran: let it finish before wg.Done
			}
		}()
	}
	if err != nil {
		c.failSource(f, f.wrap(ctx, err))
		return
	}
	c.mu.Lock()
	limit := c.maxBytes
	c.mu.Unlock()
	passThrough := src.Size > limit
	keepMem := !passThrough && c.memFits(src.Size) // memFits(-1): worth trying

	pin, err := createTemp(c.tmpDir)
	if err != nil {
		c.failSource(f, f.wrap(ctx, err))
		return
	}
	f.start(pin, src, c.cfg.Now())
	res, err := c.copyBody(ctx, f, body, src.Size, limit, keepMem)
	if err != nil {
		c.failBody(f, f.wrap(ctx, err))
		return
	}
	f.endBody(res.n, res.sum)
	c.commit(f, res, passThrough)
}

func checkSource(src *Source) error {
	switch {
	case src == nil:
		return errors.New("FillFunc returned no source")
	case src.Body == nil:
		return errors.New("source has no body")
	case src.Size < -1:
		return fmt.Errorf("source size %d", src.Size)
	}
	return nil
}

// wrap makes err the error every waiter sees: it wraps ErrFillFailed, the
// cause (the FillFunc's own error stays reachable), and why ctx ended.
func (f *fill) wrap(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
		return fmt.Errorf("fill %q: %w: %w: %w", f.key, ErrFillFailed, err, cause)
	}
	return fmt.Errorf("fill %q: %w: %w", f.key, ErrFillFailed, err)
}

// start publishes the source to the waiters.
func (f *fill) start(pin *pinnedFile, src *Source, now time.Time) {
	f.mu.Lock()
	pin.refs.Add(f.reserved)
	f.reserved = 0
	f.pin = pin
	f.meta = Meta{ContentType: src.ContentType, Size: src.Size, Stored: now}
	if src.TTL != 0 {
		f.meta.Expires = now.Add(src.TTL)
		f.staleUntil = f.meta.Expires.Add(max(src.StaleTTL, 0))
	}
	f.progress = make(chan struct{})
	f.mu.Unlock()
	close(f.srcReady)
}

// join reserves a file reference for a waiter. c.mu is held and f is in
// c.fills, so the fill still holds its own reference.
func (f *fill) join() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pin != nil {
		f.pin.refs.Add(1)
	} else {
		f.reserved++
	}
}

// leave gives back a reservation of a waiter that stopped waiting.
func (f *fill) leave() {
	f.mu.Lock()
	p := f.pin
	if p == nil {
		f.reserved--
	}
	f.mu.Unlock()
	if p != nil {
		p.release()
	}
}

func (f *fill) advance(n int64) {
	f.mu.Lock()
	f.written = n
	f.notifyLocked()
	f.mu.Unlock()
}

func (f *fill) endBody(n int64, sum string) {
	f.mu.Lock()
	f.meta.Size = n
	f.meta.SHA256 = sum
	f.notifyLocked()
	f.mu.Unlock()
}

func (f *fill) notifyLocked() {
	if f.waiting {
		close(f.progress)
		f.progress = make(chan struct{})
		f.waiting = false
	}
}

type bodyResult struct {
	n   int64
	sum string
	mem []byte
}

// copyBody streams the body into the temp file, hashing it and keeping a
// copy in memory while it is small enough for the memory tier.
func (c *Cache) copyBody(ctx context.Context, f *fill, body io.Reader, size, limit int64, keepMem bool) (bodyResult, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	h := sha256.New()
	var r bodyResult
	if keepMem && size >= 0 {
		r.mem = make([]byte, 0, size)
	}
	for {
		if err := ctx.Err(); err != nil {
			return r, fmt.Errorf("read body after %d bytes: %w", r.n, err)
		}
		m, rerr := body.Read(buf)
		if m > 0 {
			chunk := buf[:m]
			switch {
			case size >= 0 && r.n+int64(m) > size:
				return r, fmt.Errorf("body longer than its declared %d bytes", size)
			case size < 0 && r.n+int64(m) > limit:
				return r, fmt.Errorf("body of unknown size exceeds %d bytes: %w", limit, ErrTooLarge)
			}
			if _, err := f.pin.f.Write(chunk); err != nil {
				return r, fmt.Errorf("write temp file: %w", err)
			}
			h.Write(chunk)
			if keepMem {
				if int64(len(r.mem)+m) > c.cfg.MemoryObjectMax {
					keepMem, r.mem = false, nil
				} else {
					r.mem = append(r.mem, chunk...)
				}
			}
			r.n += int64(m)
			f.advance(r.n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return r, fmt.Errorf("read body after %d bytes: %w", r.n, rerr)
		}
	}
	if size >= 0 && r.n != size {
		return r, fmt.Errorf("body ended after %d of %d bytes", r.n, size)
	}
	r.sum = hex.EncodeToString(h.Sum(nil))
	return r, nil
}

func (c *Cache) failSource(f *fill, err error) {
	c.fillErrors.Add(1)
	c.mu.Lock()
	c.forgetFillLocked(f)
	c.mu.Unlock()
	f.srcErr = err
	close(f.srcReady)
	c.log.Debug("fill failed", "key", f.key, "err", err)
}

// failBody discards a fill whose body broke: the temp file goes first, then
// the readers learn the error, and the next Get fills again.
func (c *Cache) failBody(f *fill, err error) {
	c.fillErrors.Add(1)
	c.remove(f.pin.f.Name())
	c.mu.Lock()
	c.forgetFillLocked(f)
	f.mu.Lock()
	f.err = err
	f.finished = true
	f.notifyLocked()
	f.mu.Unlock()
	c.mu.Unlock()
	f.pin.release()
	c.log.Info("fill failed", "key", f.key, "err", err)
}

// commit moves a complete body into place and into the index, replacing
// the entry it refreshes, or drops it when it is too large to keep.
func (c *Cache) commit(f *fill, r bodyResult, passThrough bool) {
	defer f.pin.release()
	tmpPath := f.pin.f.Name()
	f.mu.Lock()
	e := &entry{
		key:         f.key,
		hash:        f.hash,
		dataName:    dataName(f.hash, r.sum),
		size:        r.n,
		sha:         r.sum,
		etag:        etagOf(r.sum),
		contentType: f.meta.ContentType,
		stored:      f.meta.Stored,
		expires:     f.meta.Expires,
		staleUntil:  f.staleUntil,
		verifiedAt:  c.cfg.Now(),
	}
	f.mu.Unlock()

	c.fsMu.Lock()
	defer c.fsMu.Unlock()
	c.mu.Lock()
	tooLarge := passThrough || r.n > c.maxBytes
	c.mu.Unlock()
	if tooLarge {
		c.remove(tmpPath)
		c.finishUnstored(f, true)
		return
	}
	if err := c.place(e, tmpPath); err != nil {
		c.fillErrors.Add(1)
		c.log.Warn("store object", "key", f.key, "err", err)
		c.remove(tmpPath)
		c.finishUnstored(f, false)
		return
	}
	c.mu.Lock()
	old := c.insertLocked(e)
	c.memInsertLocked(e, r.mem)
	c.forgetFillLocked(f)
	f.mu.Lock()
	f.stored, f.path, f.mem = true, c.dataPath(e), r.mem
	f.mu.Unlock()
	victims := c.evictLocked()
	c.mu.Unlock()
	if old != nil {
		victims = append(victims, old)
	}
	c.removeFiles(victims)
	// Readers see io.EOF only now, when the disk is in its final state.
	f.mu.Lock()
	f.finished = true
	f.notifyLocked()
	f.mu.Unlock()
}

// place renames the data file into its fan-out directory, then writes the
// sidecar. fsMu is held.
func (c *Cache) place(e *entry, tmpPath string) error {
	dst := c.dataPath(e)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("store %q: %w", e.key, err)
	}
	if err := os.Rename(tmpPath, dst); err != nil {
		return fmt.Errorf("store %q: %w", e.key, err)
	}
	if err := writeSidecar(c.tmpDir, c.metaPath(e.hash), e); err != nil {
		c.mu.Lock()
		cur := c.index[e.key]
		c.mu.Unlock()
		if cur == nil || cur.dataName != e.dataName {
			c.remove(dst)
		}
		return fmt.Errorf("store %q: %w", e.key, err)
	}
	return nil
}

func (c *Cache) finishUnstored(f *fill, tooLarge bool) {
	c.mu.Lock()
	c.forgetFillLocked(f)
	f.mu.Lock()
	f.finished, f.tooLarge = true, tooLarge
	f.notifyLocked()
	f.mu.Unlock()
	c.mu.Unlock()
}

// onceCloser lets the body be closed by the fill and by its context's
// AfterFunc without closing it twice.
type onceCloser struct {
	io.ReadCloser
	once sync.Once
	err  error
}

func (o *onceCloser) Close() error {
	o.once.Do(func() { o.err = o.ReadCloser.Close() })
	return o.err
}

// createTemp creates the file a fill writes to, pinned once for the fill.
func createTemp(dir string) (*pinnedFile, error) {
	f, err := os.CreateTemp(dir, "fill-*")
	if err != nil {
		return nil, fmt.Errorf("create temp file: %w", err)
	}
	p, err := newPinned(f, 1)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create temp file: %w", err)
	}
	return p, nil
}
