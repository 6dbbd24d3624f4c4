package demoorigin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// manifestFormat is bumped whenever the on-disk layout or the encoder
// arguments change, so older encodes are not reused.
const manifestFormat = 1

const manifestName = "manifest.json"

// encodeParams are everything that determines the encoded bytes. Their
// hash names the encode's directory under MediaDir.
type encodeParams struct {
	Format            int         `json:"format"`
	SegmentDurationMs int64       `json:"segment_duration_ms"`
	ClipSegments      int         `json:"clip_segments"`
	FPS               int         `json:"fps"`
	Renditions        []Rendition `json:"renditions"` // sorted by name
}

// manifest is written last into a finished encode; its presence with
// matching params and files marks the encode complete.
type manifest struct {
	Params        encodeParams              `json:"params"`
	Created       time.Time                 `json:"created"`
	FFmpegVersion string                    `json:"ffmpeg_version"`
	FontFile      string                    `json:"font_file,omitempty"` // drawtext overlay font; empty: no overlay
	Renditions    map[string]renditionMedia `json:"renditions"`
}

type renditionMedia struct {
	// Codecs is the RFC 6381 CODECS value, from the encoded SPS.
	Codecs   string        `json:"codecs"`
	Segments []segmentFile `json:"segments"`
}

type segmentFile struct {
	Name     string  `json:"name"` // relative to the rendition directory
	Size     int64   `json:"size"`
	Duration float64 `json:"duration"` // seconds, as ffmpeg reported
	SHA256   string  `json:"sha256"`
}

func (c Config) encodeParams() encodeParams {
	rs, _ := c.encodes() // validated by withDefaults
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b Rendition) int { return strings.Compare(a.Name, b.Name) })
	return encodeParams{
		Format:            manifestFormat,
		SegmentDurationMs: c.SegmentDuration.Milliseconds(),
		ClipSegments:      c.ClipSegments,
		FPS:               FPS,
		Renditions:        rs,
	}
}

// key names the encode directory.
func (p encodeParams) key() string {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // plain structs always marshal
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func (p encodeParams) dir(mediaDir string) string {
	return filepath.Join(mediaDir, "enc-"+p.key())
}

// loadManifest reads dir's manifest and checks that it matches p and that
// every segment file is present with its recorded size.
func loadManifest(dir string, p encodeParams) (*manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if !paramsEqual(m.Params, p) {
		return nil, fmt.Errorf("manifest in %s: parameters differ", dir)
	}
	segDur := time.Duration(p.SegmentDurationMs) * time.Millisecond
	for _, r := range p.Renditions {
		rm, ok := m.Renditions[r.Name]
		if !ok || len(rm.Segments) != p.ClipSegments || rm.Codecs == "" {
			return nil, fmt.Errorf("manifest in %s: rendition %q incomplete", dir, r.Name)
		}
		for _, s := range rm.Segments {
			if err := checkSegmentFile(filepath.Join(dir, r.Name), s, segDur); err != nil {
				return nil, fmt.Errorf("manifest in %s: %w", dir, err)
			}
		}
	}
	return &m, nil
}

func paramsEqual(a, b encodeParams) bool {
	return a.Format == b.Format && a.SegmentDurationMs == b.SegmentDurationMs &&
		a.ClipSegments == b.ClipSegments && a.FPS == b.FPS && slices.Equal(a.Renditions, b.Renditions)
}

func checkSegmentFile(dir string, s segmentFile, segDur time.Duration) error {
	if s.Name != filepath.Base(s.Name) || !strings.HasSuffix(s.Name, ".ts") {
		return fmt.Errorf("segment name %q", s.Name)
	}
	if math.Abs(s.Duration-segDur.Seconds()) > frameDuration.Seconds()/2 {
		return fmt.Errorf("%w: segment %s lasts %.3fs, want %v", ErrBadEncode, s.Name, s.Duration, segDur)
	}
	fi, err := os.Stat(filepath.Join(dir, s.Name))
	if err != nil {
		return fmt.Errorf("stat segment: %w", err)
	}
	if fi.Size() != s.Size {
		return fmt.Errorf("segment %s has %d bytes, manifest says %d", s.Name, fi.Size(), s.Size)
	}
	return nil
}

func writeManifest(dir string, m *manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	return writeFileSync(filepath.Join(dir, manifestName), b)
}

// writeFileSync writes and fsyncs a file.
func writeFileSync(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	return nil
}
