package cache

import (
	"container/list"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// Cache maps keys to objects on disk. It is safe for concurrent use.
type Cache struct {
	cfg    Config
	log    *slog.Logger
	objDir string
	tmpDir string

	// ctx is the parent of every fill; Close cancels it with ErrClosed.
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup // fill goroutines

	// fsMu serialises renames into and removals from objects/, so a removal
	// never races a commit of the same key. Lock order: fsMu, mu, fill.mu.
	fsMu sync.Mutex

	// mu guards the index; the hit path holds it only for a map lookup and
	// two list moves.
	mu       sync.Mutex
	closed   bool
	maxBytes int64
	index    map[string]*entry
	fills    map[string]*fill
	lru      list.List // of *entry, most recently used at the front
	memLRU   list.List // of *entry in the memory tier
	bytes    int64
	memBytes int64

	hits, memoryHits, misses, coalesced, staleServed atomic.Int64
	evictions, corruptDropped, fillErrors            atomic.Int64
}

// Stats is a snapshot of the cache's counters and gauges.
type Stats struct {
	Hits           int64 // Gets served fresh from the store (memory or disk)
	MemoryHits     int64 // of Hits, served from the memory tier
	Misses         int64 // Gets that started a fill
	Coalesced      int64 // Gets that joined a fill already running
	StaleServed    int64 // Gets answered with an expired copy after a failed refill
	Evictions      int64 // objects removed to stay under MaxBytes
	CorruptDropped int64 // stored objects that failed verification and were removed
	FillErrors     int64 // fills that failed or could not be stored
	Objects        int64 // objects stored
	Bytes          int64 // sum of their sizes
	MemoryBytes    int64 // bytes held in the memory tier
	InFlight       int64 // fills running
}

// Open opens or creates the cache in cfg.Dir. It rebuilds the index from the
// sidecars, removes temp leftovers, orphans and invalid sidecars, and evicts
// down to cfg.MaxBytes.
func Open(cfg Config) (*Cache, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open cache: %w", err)
	}
	c := &Cache{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "cache"),
		objDir:   filepath.Join(cfg.Dir, "objects"),
		tmpDir:   filepath.Join(cfg.Dir, "tmp"),
		maxBytes: cfg.MaxBytes,
		index:    make(map[string]*entry),
		fills:    make(map[string]*fill),
	}
	if err := os.RemoveAll(c.tmpDir); err != nil {
		return nil, fmt.Errorf("open cache: clear temp dir: %w", err)
	}
	for _, dir := range []string{c.tmpDir, c.objDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("open cache: %w", err)
		}
	}
	entries, dropped, err := c.load()
	if err != nil {
		return nil, fmt.Errorf("open cache: %w", err)
	}
	c.fsMu.Lock()
	c.mu.Lock()
	for _, e := range entries {
		c.insertLocked(e)
	}
	victims := c.evictLocked()
	c.mu.Unlock()
	c.removeFiles(victims)
	c.fsMu.Unlock()
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	c.log.Info("cache opened", "dir", cfg.Dir, "objects", len(entries)-len(victims),
		"dropped", dropped, "evicted", len(victims))
	return c, nil
}

// Close cancels in-flight fills and waits for their goroutines. Sidecars are
// written as each object is stored, so nothing else needs flushing. Handles
// obtained before Close stay readable until they are closed.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel(ErrClosed)
	c.wg.Wait()
	return nil
}

// SetMaxBytes changes the disk bound (config reload) and evicts down to it.
// Non-positive values are ignored. Fills in flight are not affected; one that
// ends up larger than the bound is streamed to its waiters but not kept.
func (c *Cache) SetMaxBytes(n int64) {
	if n <= 0 {
		c.log.Warn("ignoring non-positive MaxBytes", "max_bytes", n)
		return
	}
	c.fsMu.Lock()
	defer c.fsMu.Unlock()
	c.mu.Lock()
	c.maxBytes = n
	victims := c.evictLocked()
	c.mu.Unlock()
	c.removeFiles(victims)
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	s := Stats{
		Objects:     int64(len(c.index)),
		Bytes:       c.bytes,
		MemoryBytes: c.memBytes,
		InFlight:    int64(len(c.fills)),
	}
	c.mu.Unlock()
	s.Hits = c.hits.Load()
	s.MemoryHits = c.memoryHits.Load()
	s.Misses = c.misses.Load()
	s.Coalesced = c.coalesced.Load()
	s.StaleServed = c.staleServed.Load()
	s.Evictions = c.evictions.Load()
	s.CorruptDropped = c.corruptDropped.Load()
	s.FillErrors = c.fillErrors.Load()
	return s
}

func (c *Cache) dataPath(e *entry) string {
	return filepath.Join(c.objDir, e.hash[:2], e.dataName)
}

func (c *Cache) metaPath(hash string) string {
	return filepath.Join(c.objDir, hash[:2], hash+metaSuffix)
}
