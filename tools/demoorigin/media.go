package demoorigin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// media is one rendition's clip, loaded into memory.
type media struct {
	Rendition
	codecs   string
	segs     []segment
	peakBPS  int // highest segment bit rate, bits/s
	avgBPS   int // whole-clip bit rate, bits/s
	maxDurS  float64
	playlist []byte // the VOD media playlist
}

// segment is one clip segment.
type segment struct {
	data     []byte
	duration float64 // seconds
	etag     string
}

// loadMedia reads and verifies the segments of r from the encode in dir.
func loadMedia(dir string, r Rendition, rm renditionMedia) (*media, error) {
	m := &media{Rendition: r, codecs: rm.Codecs}
	var total int64
	var totalDur float64
	for _, sf := range rm.Segments {
		b, err := os.ReadFile(filepath.Join(dir, r.Name, sf.Name))
		if err != nil {
			return nil, fmt.Errorf("read segment: %w", err)
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != sf.SHA256 {
			return nil, fmt.Errorf("segment %s/%s: checksum mismatch", r.Name, sf.Name)
		}
		m.segs = append(m.segs, segment{
			data:     b,
			duration: sf.Duration,
			etag:     `"` + hex.EncodeToString(sum[:8]) + `"`,
		})
		m.peakBPS = max(m.peakBPS, int(math.Ceil(float64(len(b))*8/sf.Duration)))
		m.maxDurS = max(m.maxDurS, sf.Duration)
		total += int64(len(b))
		totalDur += sf.Duration
	}
	m.avgBPS = int(math.Ceil(float64(total) * 8 / totalDur))
	return m, nil
}

// loadAll loads every rendition of the encode set described by man.
func loadAll(dir string, p encodeParams, man *manifest) (map[string]*media, error) {
	out := make(map[string]*media, len(p.Renditions))
	for _, r := range p.Renditions {
		m, err := loadMedia(dir, r, man.Renditions[r.Name])
		if err != nil {
			return nil, err
		}
		out[r.Name] = m
	}
	return out, nil
}
