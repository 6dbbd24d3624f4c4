package demoorigin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outpost-ecdn/outpost/tools/demoorigin"
)

// probe is the part of ffprobe's JSON the tests read.
type probe struct {
	Streams []struct {
		CodecName string `json:"codec_name"`
		CodecType string `json:"codec_type"`
		Profile   string `json:"profile"`
		Level     int    `json:"level"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

func ffprobe(t *testing.T, name string) probe {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe not installed (apt-get install ffmpeg)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-print_format", "json",
		"-show_streams", "-show_format", name).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", name, err)
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("decode ffprobe output: %v", err)
	}
	return p
}

// TestSegmentsPlayable checks every rendition with ffprobe and a full
// decode, and that the advertised CODECS matches the stream.
func TestSegmentsPlayable(t *testing.T) {
	needMedia(t)
	_, ts, _ := newOrigin(t, nil)
	master := string(get(t, ts.URL+"/vod/master.m3u8", 200).body) + string(get(t, ts.URL+"/live/master.m3u8", 200).body)
	dir := demoorigin.EncodeDir(t, baseConfig())
	for _, r := range []demoorigin.Rendition{lo, hi, big} {
		t.Run(r.Name, func(t *testing.T) {
			seg := filepath.Join(dir, r.Name, "seg-1.ts")
			p := ffprobe(t, seg)
			got := map[string]bool{}
			for _, s := range p.Streams {
				got[s.CodecType+"/"+s.CodecName] = true
				if s.CodecType != "video" {
					continue
				}
				if s.Width != r.Width || s.Height != r.Height {
					t.Errorf("size %dx%d, want %dx%d", s.Width, s.Height, r.Width, r.Height)
				}
				codec := fmt.Sprintf("avc1.%s%02x", map[string]string{
					"Main": "4d40", "Constrained Baseline": "42c0", "Baseline": "4200", "High": "6400",
				}[s.Profile], s.Level)
				if !strings.Contains(master, fmt.Sprintf("RESOLUTION=%dx%d,CODECS=\"%s,mp4a.40.2\"", r.Width, r.Height, codec)) {
					t.Errorf("no variant with CODECS %s (profile %q level %d) in\n%s", codec, s.Profile, s.Level, master)
				}
			}
			if !got["video/h264"] || !got["audio/aac"] || len(p.Streams) != 2 {
				t.Errorf("streams %v, want video/h264 and audio/aac", got)
			}
			d, err := strconv.ParseFloat(p.Format.Duration, 64)
			if err != nil || d < testSegment.Seconds()-0.1 || d > testSegment.Seconds()+0.1 {
				t.Errorf("duration %q, want about %v", p.Format.Duration, testSegment)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-nostdin", "-i", seg, "-f", "null", "-").CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("decode %s: %v %s", seg, err, out)
			}
		})
	}
}

func TestPrepareReusesEncode(t *testing.T) {
	needMedia(t)
	// A complete encode needs no ffmpeg: a bogus path must not matter.
	if err := demoorigin.Prepare(context.Background(), baseConfig(), "/nonexistent/ffmpeg"); err != nil {
		t.Fatalf("Prepare over a complete encode: %v", err)
	}
	// A different encode does, and names the fix.
	cfg := baseConfig()
	cfg.MediaDir = t.TempDir()
	err := demoorigin.Prepare(context.Background(), cfg, "/nonexistent/ffmpeg")
	if !errors.Is(err, demoorigin.ErrFFmpegNotFound) || !strings.Contains(err.Error(), "apt-get install ffmpeg") {
		t.Fatalf("Prepare without ffmpeg: %v, want ErrFFmpegNotFound naming apt-get", err)
	}
	if _, err := demoorigin.New(cfg); !errors.Is(err, demoorigin.ErrNotPrepared) {
		t.Fatalf("New before Prepare: %v, want ErrNotPrepared", err)
	}
}

// TestPrepareConcurrentAndRepair runs two Prepares at once on a directory
// holding only a stale temporary encode (without the overlay font), then
// breaks the encode and checks
// that New refuses it and Prepare repairs it.
func TestPrepareConcurrentAndRepair(t *testing.T) {
	needMedia(t)
	demoorigin.SetFontFiles(t, nil)
	cfg := demoorigin.Config{
		MediaDir:        t.TempDir(),
		SegmentDuration: 400 * time.Millisecond,
		ClipSegments:    2,
		Renditions:      []demoorigin.Rendition{lo},
		VODRenditions:   []demoorigin.Rendition{lo},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A temporary encode left by a killed process is cleaned up.
	key := strings.TrimPrefix(filepath.Base(demoorigin.EncodeDir(t, cfg)), "enc-")
	if err := os.MkdirAll(filepath.Join(cfg.MediaDir, ".tmp-"+key+"-killed", "lo"), 0o755); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { errs[i] = demoorigin.Prepare(ctx, cfg, "") })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Prepare %d: %v", i, err)
		}
	}
	entries, err := os.ReadDir(cfg.MediaDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if want := filepath.Base(demoorigin.EncodeDir(t, cfg)); len(names) != 1 || names[0] != want {
		t.Fatalf("media dir holds %v, want only %s", names, want)
	}
	if _, err := demoorigin.New(cfg); err != nil {
		t.Fatalf("New after Prepare: %v", err)
	}

	seg := filepath.Join(demoorigin.EncodeDir(t, cfg), "lo", "seg-1.ts")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff // same size, different bytes
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := demoorigin.New(cfg); !errors.Is(err, demoorigin.ErrNotPrepared) {
		t.Fatalf("New over a corrupted segment: %v, want ErrNotPrepared", err)
	}
	if err := os.Remove(seg); err != nil {
		t.Fatal(err)
	}
	if err := demoorigin.Prepare(ctx, cfg, ""); err != nil {
		t.Fatalf("Prepare over a broken encode: %v", err)
	}
	if _, err := demoorigin.New(cfg); err != nil {
		t.Fatalf("New after repair: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	ok := demoorigin.Rendition{Name: "ok", Width: 160, Height: 90, VideoKbps: 100}
	tests := []struct {
		name string
		cfg  demoorigin.Config
	}{
		{"no media dir", demoorigin.Config{}},
		{"segment not whole frames", demoorigin.Config{MediaDir: "x", SegmentDuration: 1010 * time.Millisecond}},
		{"segment too short", demoorigin.Config{MediaDir: "x", SegmentDuration: 40 * time.Millisecond}},
		{"segment too long", demoorigin.Config{MediaDir: "x", SegmentDuration: time.Minute}},
		{"negative clip", demoorigin.Config{MediaDir: "x", ClipSegments: -1}},
		{"negative window", demoorigin.Config{MediaDir: "x", Window: -2}},
		{"negative rate", demoorigin.Config{MediaDir: "x", RateBitsPerSecond: -1}},
		{"negative latency", demoorigin.Config{MediaDir: "x", Latency: -time.Second}},
		{"bad name", demoorigin.Config{MediaDir: "x", Renditions: []demoorigin.Rendition{{Name: "../x", Width: 160, Height: 90, VideoKbps: 100}}}},
		{"odd width", demoorigin.Config{MediaDir: "x", Renditions: []demoorigin.Rendition{{Name: "a", Width: 161, Height: 90, VideoKbps: 100}}}},
		{"no bitrate", demoorigin.Config{MediaDir: "x", Renditions: []demoorigin.Rendition{{Name: "a", Width: 160, Height: 90}}}},
		{"duplicate", demoorigin.Config{MediaDir: "x", Renditions: []demoorigin.Rendition{ok, ok}}},
		{"live and vod differ", demoorigin.Config{MediaDir: "x", Renditions: []demoorigin.Rendition{ok},
			VODRenditions: []demoorigin.Rendition{{Name: "ok", Width: 320, Height: 180, VideoKbps: 100}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := demoorigin.New(tt.cfg); !errors.Is(err, demoorigin.ErrInvalidConfig) {
				t.Errorf("New: %v, want ErrInvalidConfig", err)
			}
			if err := demoorigin.Prepare(context.Background(), tt.cfg, "/nonexistent"); !errors.Is(err, demoorigin.ErrInvalidConfig) {
				t.Errorf("Prepare: %v, want ErrInvalidConfig", err)
			}
		})
	}
}
