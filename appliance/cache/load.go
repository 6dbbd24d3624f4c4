package cache

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// load scans objects/ and returns the valid entries, least recently stored
// first. Everything else the scan finds is removed: files the cache never
// writes, data without a sidecar, sidecars that do not parse or whose data is
// missing or has the wrong size, and objects past their stale window.
func (c *Cache) load() (entries []*entry, dropped int, err error) {
	dirs, err := os.ReadDir(c.objDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("load index: %w", err)
	}
	now := c.cfg.Now()
	for _, d := range dirs {
		path := filepath.Join(c.objDir, d.Name())
		if !d.IsDir() || !isLowerHex(d.Name(), 2) {
			c.removeAll(path)
			dropped++
			continue
		}
		es, n, err := c.loadDir(path, d.Name(), now)
		if err != nil {
			return nil, 0, err
		}
		entries = append(entries, es...)
		dropped += n
	}
	slices.SortFunc(entries, func(a, b *entry) int { return a.stored.Compare(b.stored) })
	return entries, dropped, nil
}

// group collects the files of one key hash in a fan-out directory.
type group struct {
	meta bool
	data map[string]int64 // data file name -> size
}

func (c *Cache) loadDir(dir, prefix string, now time.Time) (entries []*entry, dropped int, err error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("load index: %w", err)
	}
	groups := make(map[string]*group)
	for _, de := range des {
		path := filepath.Join(dir, de.Name())
		hash, isMeta, ok := parseName(de.Name())
		if !ok || !de.Type().IsRegular() || hash[:2] != prefix {
			c.removeAll(path)
			dropped++
			continue
		}
		g := groups[hash]
		if g == nil {
			g = &group{data: make(map[string]int64)}
			groups[hash] = g
		}
		if isMeta {
			g.meta = true
			continue
		}
		info, err := de.Info()
		if err != nil {
			c.removeAll(path)
			dropped++
			continue
		}
		g.data[de.Name()] = info.Size()
	}
	// Visit hashes in a fixed order so logs are reproducible.
	for _, hash := range slices.Sorted(maps.Keys(groups)) {
		g := groups[hash]
		e, err := c.loadOne(dir, hash, g, now)
		if err != nil {
			c.log.Debug("dropping cache object", "hash", hash, "err", err)
			dropped++
			if g.meta {
				c.remove(filepath.Join(dir, hash+metaSuffix))
			}
		} else {
			entries = append(entries, e)
		}
		for name := range g.data {
			if e == nil || name != e.dataName {
				c.remove(filepath.Join(dir, name))
			}
		}
	}
	return entries, dropped, nil
}

// loadOne builds the entry for one key hash from its sidecar.
func (c *Cache) loadOne(dir, hash string, g *group, now time.Time) (*entry, error) {
	if !g.meta {
		return nil, errors.New("data without sidecar")
	}
	b, err := readLimited(filepath.Join(dir, hash+metaSuffix), maxSidecarBytes)
	if err != nil {
		return nil, err
	}
	s, err := decodeSidecar(b, hash)
	if err != nil {
		return nil, err
	}
	size, ok := g.data[s.Data]
	switch {
	case !ok:
		return nil, errors.New("sidecar without data")
	case size != s.Size:
		return nil, fmt.Errorf("data is %d bytes, sidecar says %d", size, s.Size)
	case !s.Expires.IsZero() && now.After(s.Expires) && !now.Before(s.StaleUntil):
		return nil, errors.New("expired beyond its stale window")
	}
	return &entry{
		key:         s.key(),
		hash:        hash,
		dataName:    s.Data,
		size:        s.Size,
		sha:         s.SHA256,
		etag:        etagOf(s.SHA256),
		contentType: s.ContentType,
		stored:      s.Stored,
		expires:     s.Expires,
		staleUntil:  s.StaleUntil,
	}, nil
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read sidecar: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read sidecar: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("read sidecar: larger than %d bytes", limit)
	}
	return b, nil
}

func (c *Cache) removeAll(path string) {
	if err := os.RemoveAll(path); err != nil {
		c.log.Warn("remove stray cache file", "path", path, "err", err)
	}
}
