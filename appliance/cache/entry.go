package cache

import (
	"container/list"
	"sync"
	"time"
)

// Meta describes an object.
type Meta struct {
	ContentType string
	// Size is -1 until known.
	Size int64
	// SHA256 is the hex digest of the body, "" until the whole body arrived.
	SHA256 string
	// Stored is when the fill obtained its source.
	Stored time.Time
	// Expires is when the object stops being fresh; zero: never.
	Expires time.Time
}

// entry is a complete object in the index. Its identity fields never change;
// the fields marked c.mu are guarded by Cache.mu.
type entry struct {
	key         string
	hash        string // keyHash(key)
	dataName    string // file name in the fan-out directory
	size        int64
	sha         string
	etag        string
	contentType string
	stored      time.Time
	expires     time.Time // zero: never
	staleUntil  time.Time // zero: no stale serving

	diskElem *list.Element // c.mu; in Cache.lru
	memElem  *list.Element // c.mu; in Cache.memLRU when mem != nil
	mem      []byte        // c.mu; the body when in the memory tier
	removed  bool          // c.mu; no longer in the index

	// loadMu serialises loading this entry from disk, so concurrent first
	// reads hash the file once. verifiedAt is guarded by it.
	loadMu     sync.Mutex
	verifiedAt time.Time
}

// fresh reports whether e may be served without a refill at now.
func (e *entry) fresh(now time.Time) bool {
	return e.expires.IsZero() || !now.After(e.expires)
}

// staleOK reports whether e may be served at now after a failed refill.
func (e *entry) staleOK(now time.Time) bool {
	return !e.expires.IsZero() && now.Before(e.staleUntil)
}

func (e *entry) meta() Meta {
	return Meta{ContentType: e.contentType, Size: e.size, SHA256: e.sha, Stored: e.stored, Expires: e.expires}
}

func etagOf(sum string) string {
	return `"` + sum + `"`
}
