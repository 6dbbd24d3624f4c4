package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
	"unicode/utf8"
)

const (
	sidecarVersion  = 1
	maxSidecarBytes = 1 << 20
	metaSuffix      = ".meta"
	dataSuffix      = ".data"
	hashLen         = 2 * sha256.Size
	sumPrefixLen    = 16
)

// sidecar is the JSON file stored next to each object. It is the index: Open
// rebuilds the cache from sidecars alone.
type sidecar struct {
	Version int    `json:"v"`
	Key     string `json:"key,omitempty"`
	// KeyBytes carries keys that are not valid UTF-8, which JSON strings
	// cannot hold without loss.
	KeyBytes    []byte    `json:"key_bytes,omitempty"`
	Data        string    `json:"data"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	ContentType string    `json:"content_type,omitempty"`
	Stored      time.Time `json:"stored"`
	Expires     time.Time `json:"expires,omitzero"`
	StaleUntil  time.Time `json:"stale_until,omitzero"`
}

// key returns the object key the sidecar describes.
func (s *sidecar) key() string {
	if s.KeyBytes != nil {
		return string(s.KeyBytes)
	}
	return s.Key
}

// newSidecar describes e for disk.
func newSidecar(e *entry) sidecar {
	s := sidecar{
		Version:     sidecarVersion,
		Data:        e.dataName,
		Size:        e.size,
		SHA256:      e.sha,
		ContentType: e.contentType,
		Stored:      e.stored.UTC(),
		Expires:     e.expires.UTC(),
		StaleUntil:  e.staleUntil.UTC(),
	}
	if e.expires.IsZero() {
		s.Expires, s.StaleUntil = time.Time{}, time.Time{}
	}
	if utf8.ValidString(e.key) {
		s.Key = e.key
	} else {
		s.KeyBytes = []byte(e.key)
	}
	return s
}

// decodeSidecar parses and validates a sidecar read from the file named
// hash+".meta". Disk may be corrupt or hostile: every field that is later
// used to build a path or to trust bytes is checked.
func decodeSidecar(b []byte, hash string) (sidecar, error) {
	var s sidecar
	if len(b) > maxSidecarBytes {
		return s, fmt.Errorf("decode sidecar: %d bytes, limit %d", len(b), maxSidecarBytes)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("decode sidecar: %w", err)
	}
	switch {
	case s.Version != sidecarVersion:
		return s, fmt.Errorf("decode sidecar: version %d, want %d", s.Version, sidecarVersion)
	case s.KeyBytes != nil && s.Key != "":
		return s, errors.New("decode sidecar: both key and key_bytes")
	case keyHash(s.key()) != hash:
		return s, errors.New("decode sidecar: key does not match file name")
	case !isLowerHex(s.SHA256, hashLen):
		return s, errors.New("decode sidecar: malformed sha256")
	case s.Data != dataName(hash, s.SHA256):
		return s, fmt.Errorf("decode sidecar: data name %q does not match", s.Data)
	case s.Size < 0:
		return s, fmt.Errorf("decode sidecar: negative size %d", s.Size)
	case s.Stored.IsZero():
		return s, errors.New("decode sidecar: no stored time")
	case s.Expires.IsZero() && !s.StaleUntil.IsZero():
		return s, errors.New("decode sidecar: stale_until without expires")
	case !s.StaleUntil.IsZero() && s.StaleUntil.Before(s.Expires):
		return s, errors.New("decode sidecar: stale_until before expires")
	}
	return s, nil
}

// writeSidecar stores e's sidecar atomically: temp file in tmpDir, rename.
func writeSidecar(tmpDir, path string, e *entry) error {
	b, err := json.Marshal(newSidecar(e))
	if err != nil {
		return fmt.Errorf("encode sidecar: %w", err)
	}
	f, err := os.CreateTemp(tmpDir, "meta-*")
	if err != nil {
		return fmt.Errorf("create sidecar: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write sidecar: %w", err)
	}
	return nil
}

// keyHash names a key on disk: any string maps to 64 hex digits.
func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// dataName is the data file's name for a key hash and its content's SHA-256.
// Naming data by content lets a refill rename a new file in before the old
// one is removed.
func dataName(hash, sum string) string {
	return hash + "." + sum[:sumPrefixLen] + dataSuffix
}

// parseName splits a file name in a fan-out directory into the key hash and
// whether it is a sidecar; ok is false for names the cache never writes.
func parseName(name string) (hash string, meta, ok bool) {
	if len(name) < hashLen || !isLowerHex(name[:hashLen], hashLen) {
		return "", false, false
	}
	hash, rest := name[:hashLen], name[hashLen:]
	switch {
	case rest == metaSuffix:
		return hash, true, true
	case len(rest) == 1+sumPrefixLen+len(dataSuffix) && rest[0] == '.' &&
		isLowerHex(rest[1:1+sumPrefixLen], sumPrefixLen) && rest[1+sumPrefixLen:] == dataSuffix:
		return hash, false, true
	}
	return "", false, false
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
