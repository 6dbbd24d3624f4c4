package cache

import (
	"errors"
	"io/fs"
	"os"
)

// insertLocked adds e to the index as the most recently used object,
// replacing any entry for the same key (whose files the caller removes).
func (c *Cache) insertLocked(e *entry) (old *entry) {
	if old = c.index[e.key]; old != nil {
		c.unlinkLocked(old)
	}
	c.index[e.key] = e
	e.diskElem = c.lru.PushFront(e)
	c.bytes += e.size
	return old
}

// unlinkLocked removes e from the index and the memory tier. Its files stay
// until removeFiles; open handles keep reading them.
func (c *Cache) unlinkLocked(e *entry) {
	if e.removed {
		return
	}
	e.removed = true
	if c.index[e.key] == e {
		delete(c.index, e.key)
	}
	c.lru.Remove(e.diskElem)
	e.diskElem = nil
	c.bytes -= e.size
	c.dropMemLocked(e)
}

func (c *Cache) touchLocked(e *entry) {
	c.lru.MoveToFront(e.diskElem)
	if e.memElem != nil {
		c.memLRU.MoveToFront(e.memElem)
	}
}

// memFits reports whether an object of size n may enter the memory tier.
func (c *Cache) memFits(n int64) bool {
	return c.cfg.MemoryBytes > 0 && n <= c.cfg.MemoryObjectMax && n <= c.cfg.MemoryBytes
}

// memInsertLocked puts e's body into the memory tier, evicting the least
// recently used bodies to stay under MemoryBytes.
func (c *Cache) memInsertLocked(e *entry, body []byte) {
	if e.removed || e.mem != nil || !c.memFits(e.size) || int64(len(body)) != e.size {
		return
	}
	e.mem = body
	e.memElem = c.memLRU.PushFront(e)
	c.memBytes += e.size
	for c.memBytes > c.cfg.MemoryBytes {
		c.dropMemLocked(c.memLRU.Back().Value.(*entry))
	}
}

func (c *Cache) dropMemLocked(e *entry) {
	if e.memElem == nil {
		return
	}
	c.memLRU.Remove(e.memElem)
	e.memElem = nil
	e.mem = nil
	c.memBytes -= e.size
}

// evictLocked unlinks least recently used objects until the disk bound holds
// and returns them for removeFiles. Fills in flight are not in the index and
// so are never evicted.
func (c *Cache) evictLocked() []*entry {
	var victims []*entry
	for c.bytes > c.maxBytes && c.lru.Len() > 0 {
		e := c.lru.Back().Value.(*entry)
		c.unlinkLocked(e)
		victims = append(victims, e)
		c.evictions.Add(1)
	}
	return victims
}

// removeFiles deletes the files of unlinked entries. The caller holds fsMu,
// so no commit of the same key runs meanwhile; a newer entry for the key
// keeps the shared sidecar path and, when its content is the same, the data
// file.
func (c *Cache) removeFiles(victims []*entry) {
	for _, v := range victims {
		c.mu.Lock()
		cur := c.index[v.key]
		c.mu.Unlock()
		if cur == nil {
			c.remove(c.metaPath(v.hash))
		}
		if cur == nil || cur.dataName != v.dataName {
			c.remove(c.dataPath(v))
		}
	}
}

func (c *Cache) remove(path string) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("remove cache file", "path", path, "err", err)
	}
}

// dropCorrupt removes an object that failed verification.
func (c *Cache) dropCorrupt(e *entry, cause error) {
	c.fsMu.Lock()
	defer c.fsMu.Unlock()
	c.mu.Lock()
	wasIndexed := !e.removed
	c.unlinkLocked(e)
	c.mu.Unlock()
	if !wasIndexed {
		return
	}
	c.corruptDropped.Add(1)
	c.log.Warn("dropped corrupt object", "key", e.key, "err", cause)
	c.removeFiles([]*entry{e})
}
