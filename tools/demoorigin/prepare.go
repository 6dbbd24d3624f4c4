package demoorigin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/grafov/m3u8"
)

// Prepare makes sure cfg.MediaDir holds a complete encode matching cfg,
// running ffmpeg (ffmpegPath; empty: "ffmpeg" from PATH) only when it does
// not. Each encode lives in its own directory named by a hash of its
// parameters and carries a manifest; it is built in a temporary directory
// and renamed into place, and a lock file keeps two processes from encoding
// the same media at once. Prepare is safe to call concurrently from several
// goroutines and processes.
func Prepare(ctx context.Context, cfg Config, ffmpegPath string) error {
	c, err := cfg.withDefaults()
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	p := c.encodeParams()
	dir := p.dir(c.MediaDir)
	if _, err := loadManifest(dir, p); err == nil {
		return nil
	}
	if err := os.MkdirAll(c.MediaDir, 0o755); err != nil {
		return fmt.Errorf("prepare: create media dir: %w", err)
	}
	unlock, locked, err := lockFile(ctx, filepath.Join(c.MediaDir, ".lock-"+p.key()))
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer unlock()
	if _, err := loadManifest(dir, p); err == nil {
		return nil // another process finished while we waited
	}
	if locked {
		removeStaleTemps(c.MediaDir, p.key())
	}
	ff, version, err := findFFmpeg(ctx, ffmpegPath)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	tmp, err := os.MkdirTemp(c.MediaDir, ".tmp-"+p.key()+"-")
	if err != nil {
		return fmt.Errorf("prepare: create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op once renamed into place

	log := c.Logger.With("component", "demoorigin")
	start := time.Now()
	m := &manifest{
		Params:        p,
		Created:       start.UTC(),
		FFmpegVersion: version,
		FontFile:      ff.overlayFont(ctx),
		Renditions:    make(map[string]renditionMedia, len(p.Renditions)),
	}
	for _, r := range p.Renditions {
		rm, err := encodeRendition(ctx, ff, p, r, m.FontFile, filepath.Join(tmp, r.Name))
		if err != nil {
			return fmt.Errorf("prepare: encode %s: %w", r.Name, err)
		}
		m.Renditions[r.Name] = rm
		log.Info("encoded rendition", "rendition", r.Name, "segments", len(rm.Segments), "codecs", rm.Codecs)
	}
	if err := writeManifest(tmp, m); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	if err := install(tmp, dir, p); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	log.Info("media prepared", "dir", dir, "elapsed", time.Since(start).Round(time.Millisecond), "overlay", m.FontFile != "")
	return nil
}

// encodeRendition encodes r into dir and describes the result.
func encodeRendition(ctx context.Context, ff ffmpeg, p encodeParams, r Rendition, font, dir string) (renditionMedia, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return renditionMedia{}, fmt.Errorf("create dir: %w", err)
	}
	if _, err := ff.run(ctx, encodeArgs(p, r, font, dir)...); err != nil {
		return renditionMedia{}, err
	}
	playlist := filepath.Join(dir, "index.m3u8")
	segs, err := readEncodedPlaylist(playlist)
	if err != nil {
		return renditionMedia{}, err
	}
	if len(segs) != p.ClipSegments {
		return renditionMedia{}, fmt.Errorf("%w: %d segments, want %d", ErrBadEncode, len(segs), p.ClipSegments)
	}
	segDur := time.Duration(p.SegmentDurationMs) * time.Millisecond
	for i := range segs {
		if err := hashAndSync(dir, &segs[i]); err != nil {
			return renditionMedia{}, err
		}
		if err := checkSegmentFile(dir, segs[i], segDur); err != nil {
			return renditionMedia{}, err
		}
	}
	if err := os.Remove(playlist); err != nil {
		return renditionMedia{}, fmt.Errorf("remove encoder playlist: %w", err)
	}
	codecs, err := ff.codecs(ctx, filepath.Join(dir, segs[0].Name))
	if err != nil {
		return renditionMedia{}, err
	}
	return renditionMedia{Codecs: codecs, Segments: segs}, nil
}

// readEncodedPlaylist lists the segments of ffmpeg's VOD playlist.
func readEncodedPlaylist(name string) ([]segmentFile, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open encoder playlist: %w", err)
	}
	defer f.Close()
	pl, typ, err := m3u8.DecodeFrom(f, true)
	if err != nil {
		return nil, fmt.Errorf("decode encoder playlist: %w", err)
	}
	media, ok := pl.(*m3u8.MediaPlaylist)
	if typ != m3u8.MEDIA || !ok {
		return nil, fmt.Errorf("%w: encoder playlist is not a media playlist", ErrBadEncode)
	}
	var segs []segmentFile
	for _, s := range media.Segments {
		if s == nil {
			continue
		}
		segs = append(segs, segmentFile{Name: s.URI, Duration: s.Duration})
	}
	return segs, nil
}

// hashAndSync fills in s's size and SHA-256 and fsyncs the file.
func hashAndSync(dir string, s *segmentFile) error {
	if s.Name != filepath.Base(s.Name) {
		return fmt.Errorf("%w: segment URI %q", ErrBadEncode, s.Name)
	}
	f, err := os.Open(filepath.Join(dir, s.Name))
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("hash %s: %w", s.Name, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", s.Name, err)
	}
	s.Size = n
	s.SHA256 = hex.EncodeToString(h.Sum(nil))
	return nil
}

// install renames the finished encode tmp to dir. A complete encode already
// at dir wins; a broken one is moved aside and removed.
func install(tmp, dir string, p encodeParams) error {
	var err error
	for range 3 {
		if err = os.Rename(tmp, dir); err == nil {
			syncDir(filepath.Dir(dir))
			return nil
		}
		if _, lerr := loadManifest(dir, p); lerr == nil {
			return nil
		}
		stale := fmt.Sprintf("%s.stale-%s", dir, rand.Text()[:8])
		if os.Rename(dir, stale) == nil {
			os.RemoveAll(stale)
		}
	}
	return fmt.Errorf("install encode: %w", err)
}

// removeStaleTemps removes temporary encodes of key left by killed
// processes; only the lock holder may call it.
func removeStaleTemps(mediaDir, key string) {
	stale, _ := filepath.Glob(filepath.Join(mediaDir, ".tmp-"+key+"-*"))
	for _, d := range stale {
		os.RemoveAll(d)
	}
}

// syncDir fsyncs a directory so a rename in it is durable; best effort.
func syncDir(name string) {
	if d, err := os.Open(name); err == nil {
		d.Sync()
		d.Close()
	}
}
