package cache

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// Status says how Get found the object.
type Status int

const (
	// StatusHit: a fresh stored object, from memory or disk.
	StatusHit Status = iota
	// StatusMiss: this call started the fill.
	StatusMiss
	// StatusCoalesced: this call joined a fill another call started.
	StatusCoalesced
	// StatusStale: an expired copy, served because its refill failed.
	StatusStale
)

func (s Status) String() string {
	switch s {
	case StatusHit:
		return "hit"
	case StatusMiss:
		return "miss"
	case StatusCoalesced:
		return "coalesced"
	case StatusStale:
		return "stale"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Handle is one caller's view of an object: a stored one, or a fill that is
// still running. The caller must Close it. Its methods other than Close are
// safe for concurrent use.
type Handle struct {
	status Status
	ctx    context.Context // bounds waits of Reader on a fill

	// A stored object: entry with mem (memory tier) or disk (verified file).
	entry *entry
	mem   []byte
	disk  *pinnedFile
	path  string

	fill *fill // a fill this handle joined or started

	closed atomic.Bool
}

func memHandle(e *entry, body []byte, st Status) *Handle {
	return &Handle{status: st, entry: e, mem: body}
}

// Status reports how Get found the object.
func (h *Handle) Status() Status { return h.status }

// Meta describes the object. For a fill in flight Size is -1 until known
// and SHA256 "" until the body is complete.
func (h *Handle) Meta() Meta {
	if f := h.fill; f != nil {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.meta
	}
	return h.entry.meta()
}

// Complete reports whether the object is fully stored and verified, so that
// Open succeeds.
func (h *Handle) Complete() bool {
	if f := h.fill; f != nil {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.stored
	}
	return true
}

// ETag returns a strong, quoted ETag derived from the object's SHA-256 once
// it is complete, else "".
func (h *Handle) ETag() string {
	if f := h.fill; f != nil {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.stored {
			return ""
		}
		return etagOf(f.meta.SHA256)
	}
	return h.entry.etag
}

// Open returns a seekable reader of a complete object: an *os.File for disk
// objects (so http.ServeContent can use sendfile), or a reader over memory.
// It fails with ErrIncomplete while a fill runs or after it failed, and with
// ErrTooLarge (and ErrIncomplete) for an object streamed but not kept. The
// reader stays valid after the handle is closed or the object evicted.
func (h *Handle) Open() (io.ReadSeekCloser, error) {
	if h.closed.Load() {
		return nil, fmt.Errorf("open cached object: %w", os.ErrClosed)
	}
	if f := h.fill; f != nil {
		f.mu.Lock()
		stored, tooLarge, ferr, mem, path, size := f.stored, f.tooLarge, f.err, f.mem, f.path, f.meta.Size
		f.mu.Unlock()
		switch {
		case ferr != nil:
			return nil, fmt.Errorf("open %q: %w: %w", f.key, ErrIncomplete, ferr)
		case tooLarge:
			return nil, fmt.Errorf("open %q: %w: %w", f.key, ErrIncomplete, ErrTooLarge)
		case !stored:
			return nil, fmt.Errorf("open %q: %w", f.key, ErrIncomplete)
		case mem != nil:
			return newMemReader(mem), nil
		}
		return openPinned(path, f.pin, size)
	}
	if h.mem != nil {
		return newMemReader(h.mem), nil
	}
	return openPinned(h.path, h.disk, h.entry.size)
}

// Reader streams the object from byte 0. For a fill in flight it returns
// bytes as they arrive, blocking until more are written, the fill ends, the
// Get's context ends or the reader is closed. If the fill fails, Read returns
// an error wrapping ErrFillFailed. io.EOF comes only once the object is
// stored, so a Get after it is a hit.
func (h *Handle) Reader() io.ReadCloser {
	if h.closed.Load() {
		return errReader{fmt.Errorf("read cached object: %w", os.ErrClosed)}
	}
	if f := h.fill; f != nil {
		if !f.pin.acquire() {
			return errReader{fmt.Errorf("read cached object: %w", os.ErrClosed)}
		}
		return &fillReader{f: f, ctx: h.ctx, closed: make(chan struct{})}
	}
	r, err := h.Open()
	if err != nil {
		return errReader{err}
	}
	return r
}

// Close releases the handle's hold on the object's file.
func (h *Handle) Close() error {
	if h.closed.Swap(true) {
		return nil
	}
	switch {
	case h.fill != nil:
		h.fill.pin.release()
	case h.disk != nil:
		h.disk.release()
	}
	return nil
}

// pinnedFile is an open data file shared by a fill or disk handle and the
// readers made from it; the last release closes it. Evicting or replacing
// the object removes its name, not this open file.
type pinnedFile struct {
	f    *os.File
	fi   os.FileInfo // identity, for os.SameFile
	refs atomic.Int64
}

func newPinned(f *os.File, refs int64) (*pinnedFile, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	p := &pinnedFile{f: f, fi: fi}
	p.refs.Store(refs)
	return p, nil
}

// acquire takes another reference unless the file is already closed.
func (p *pinnedFile) acquire() bool {
	for {
		n := p.refs.Load()
		if n <= 0 {
			return false
		}
		if p.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (p *pinnedFile) release() {
	if p.refs.Add(-1) == 0 {
		p.f.Close()
	}
}

// openPinned opens path as a fresh *os.File if it still names the pinned
// file; after an eviction or replacement it falls back to a reader over the
// pinned file itself.
func openPinned(path string, p *pinnedFile, size int64) (io.ReadSeekCloser, error) {
	if f, err := os.Open(path); err == nil {
		if fi, err := f.Stat(); err == nil && os.SameFile(fi, p.fi) {
			return f, nil
		}
		f.Close()
	}
	if !p.acquire() {
		return nil, fmt.Errorf("open cached object: %w", os.ErrClosed)
	}
	return &pinnedReader{SectionReader: io.NewSectionReader(p.f, 0, size), p: p}, nil
}

type pinnedReader struct {
	*io.SectionReader
	p    *pinnedFile
	once sync.Once
}

func (r *pinnedReader) Close() error {
	r.once.Do(r.p.release)
	return nil
}

// memReader serves a memory-tier body; it never copies or re-hashes it.
type memReader struct{ bytes.Reader }

func newMemReader(b []byte) *memReader {
	r := new(memReader)
	r.Reset(b)
	return r
}

func (*memReader) Close() error { return nil }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
func (r errReader) Close() error             { return nil }

// fillReader reads a fill's temp file up to what has been written so far.
type fillReader struct {
	f      *fill
	ctx    context.Context
	pos    int64
	closed chan struct{}
	once   sync.Once
}

func (r *fillReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	f := r.f
	for {
		select {
		case <-r.closed:
			return 0, fmt.Errorf("read %q: %w", f.key, os.ErrClosed)
		default:
		}
		f.mu.Lock()
		if f.err != nil {
			err := f.err
			f.mu.Unlock()
			return 0, err
		}
		if avail := f.written - r.pos; avail > 0 {
			f.mu.Unlock()
			n, err := f.pin.f.ReadAt(p[:min(int64(len(p)), avail)], r.pos)
			r.pos += int64(n)
			if err != nil {
				return n, fmt.Errorf("read %q: %w", f.key, err)
			}
			return n, nil
		}
		if f.finished {
			// The body is complete and the object stored (or dropped as too
			// large): a Get after this EOF hits the cache.
			f.mu.Unlock()
			return 0, io.EOF
		}
		f.waiting = true
		ch := f.progress
		f.mu.Unlock()
		select {
		case <-ch:
		case <-r.ctx.Done():
			return 0, fmt.Errorf("read %q: %w", f.key, r.ctx.Err())
		case <-r.closed:
			return 0, fmt.Errorf("read %q: %w", f.key, os.ErrClosed)
		}
	}
}

func (r *fillReader) Close() error {
	r.once.Do(func() {
		close(r.closed)
		r.f.pin.release()
	})
	return nil
}
