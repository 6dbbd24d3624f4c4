package cache

// Internals reached by the external tests.

type Sidecar = sidecar

var (
	KeyHash       = keyHash
	DecodeSidecar = decodeSidecar
	DataName      = dataName
)

// DataPath returns the path of key's stored data file, "" if not stored.
func DataPath(c *Cache, key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.index[key]
	if e == nil {
		return ""
	}
	return c.dataPath(e)
}

// MetaPath returns where key's sidecar lives.
func MetaPath(c *Cache, key string) string {
	return c.metaPath(keyHash(key))
}

// SidecarKey returns the key a decoded sidecar describes.
func SidecarKey(s Sidecar) string { return s.key() }
