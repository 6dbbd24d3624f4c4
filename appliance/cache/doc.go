// Package cache stores objects on disk under string keys and fills missing
// ones exactly once, however many callers ask at the same moment.
//
// In: a key and a [FillFunc] that knows how to fetch the object (the cache
// knows nothing about HTTP or origins). Out: a [Handle] that serves the object
// from memory, from disk, or streams it while the single fill is still
// running. Objects are written to a temporary file, hashed with SHA-256 on the
// way in and renamed into place with a JSON sidecar next to them, so a restart
// rebuilds the index from the directory alone and no truncated or corrupted
// object is ever served. The disk is bounded by [Config.MaxBytes] with LRU
// eviction; a small memory tier keeps the hottest objects (the live edge) so
// they are served without disk I/O or re-hashing.
//
// # Usage
//
//	c, err := cache.Open(cache.Config{Dir: "/data/cache", MaxBytes: 8 << 30})
//	if err != nil { ... }
//	defer c.Close()
//
//	h, err := c.Get(r.Context(), key, func(ctx context.Context) (*cache.Source, error) {
//		resp, err := client.Do(req.WithContext(ctx)) // ctx is the fill's own, not the viewer's
//		if err != nil {
//			return nil, err
//		}
//		return &cache.Source{Body: resp.Body, Size: resp.ContentLength, TTL: ttl}, nil
//	})
//	if err != nil { ... } // wraps ErrFillFailed and the FillFunc's own error
//	defer h.Close()
//	if h.Complete() {
//		f, _ := h.Open() // *os.File or memory reader: http.ServeContent
//		...
//	} else {
//		io.Copy(w, h.Reader()) // bytes as they arrive from the single fill
//	}
//
// # On disk
//
//	Dir/tmp/                          fills and sidecars being written (wiped by Open)
//	Dir/objects/ab/<hash>.meta        JSON sidecar; hash = hex(sha256(key)), ab = hash[:2]
//	Dir/objects/ab/<hash>.<sum>.data  object bytes; sum = first 16 hex digits of their SHA-256
//
// The data file is renamed into place before its sidecar, and a replaced
// object's old data file is removed only after the new sidecar is in place,
// so a crash at any point leaves either the old or the new object, plus
// orphans that the next Open removes.
package cache
