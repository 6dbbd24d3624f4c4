package demoorigin

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// fontFiles are tried in order for the burnt-in running timestamp; tests
// swap this to exercise the encode without an overlay.
var fontFiles = []string{
	"/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
	"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
	"/usr/share/fonts/TTF/DejaVuSansMono.ttf",
	"/usr/share/fonts/dejavu/DejaVuSansMono.ttf",
	"/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
	"/System/Library/Fonts/Supplemental/Courier New.ttf",
}

// ffmpegTimeout bounds each ffmpeg run.
const ffmpegTimeout = 5 * time.Minute

// ffmpeg runs one ffmpeg binary.
type ffmpeg struct {
	path string
}

// findFFmpeg resolves path (empty: "ffmpeg" from PATH), checks that it runs
// and returns it with its version line.
func findFFmpeg(ctx context.Context, path string) (ffmpeg, string, error) {
	if path == "" {
		path = "ffmpeg"
	}
	resolved, err := exec.LookPath(path)
	if err != nil {
		return ffmpeg{}, "", fmt.Errorf("%w: %w", ErrFFmpegNotFound, err)
	}
	f := ffmpeg{path: resolved}
	out, err := f.run(ctx, "-hide_banner", "-version")
	if err != nil {
		return ffmpeg{}, "", fmt.Errorf("%w: %w", ErrFFmpegNotFound, err)
	}
	version, _, _ := strings.Cut(string(out), "\n")
	return f, strings.TrimSpace(version), nil
}

// run runs ffmpeg with args and returns its standard output. The error
// carries the tail of its standard error.
func (f ffmpeg) run(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, ffmpegTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.path, args...)
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 2048}
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, fmt.Errorf("run %s: %w: %s", f.path, err, msg)
		}
		return nil, fmt.Errorf("run %s: %w", f.path, err)
	}
	return stdout.Bytes(), nil
}

// overlayFont returns the font file for the drawtext overlay, or "" when
// ffmpeg lacks drawtext or no font is installed.
func (f ffmpeg) overlayFont(ctx context.Context) string {
	out, err := f.run(ctx, "-hide_banner", "-filters")
	if err != nil || !bytes.Contains(out, []byte(" drawtext ")) {
		return ""
	}
	for _, name := range fontFiles {
		if strings.ContainsAny(name, `':\`) {
			continue // would need filtergraph escaping
		}
		if fi, err := os.Stat(name); err == nil && fi.Mode().IsRegular() {
			return name
		}
	}
	return ""
}

// encodeArgs builds the arguments that encode r into dir/seg-%d.ts plus
// dir/index.m3u8 (ffmpeg's own VOD playlist, read for the durations).
func encodeArgs(p encodeParams, r Rendition, font, dir string) []string {
	segDur := time.Duration(p.SegmentDurationMs) * time.Millisecond
	seconds := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
	video := fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", r.Width, r.Height, p.FPS)
	if font != "" {
		size := max(12, r.Height/12)
		video += fmt.Sprintf(",drawtext=fontfile=%s:text='%s %%{pts\\:hms}':fontsize=%d:fontcolor=white:box=1:boxcolor=black@0.6:x=%d:y=%d",
			font, r.Name, size, size/2, size/2)
	}
	gop := strconv.Itoa(int(segDur / frameDuration))
	vk := strconv.Itoa(r.VideoKbps) + "k"
	preset := "veryfast"
	if r.Width*r.Height > 1280*720 {
		preset = "ultrafast" // keeps the big VOD rendition within a few seconds
	}
	return []string{
		"-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", video,
		"-f", "lavfi", "-i", "sine=frequency=440:beep_factor=4:sample_rate=48000",
		"-t", seconds(segDur * time.Duration(p.ClipSegments)),
		"-map", "0:v:0", "-map", "1:a:0",
		"-c:v", "libx264", "-preset", preset, "-profile:v", "main",
		"-level:v", h264Level(r.Width, r.Height, p.FPS, r.VideoKbps), "-pix_fmt", "yuv420p",
		"-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
		"-b:v", vk, "-minrate", vk, "-maxrate", vk, "-bufsize", vk, "-x264-params", "nal-hrd=cbr",
		"-c:a", "aac", "-b:a", strconv.Itoa(r.AudioKbps) + "k", "-ar", "48000",
		"-f", "hls", "-hls_time", seconds(segDur), "-hls_list_size", "0",
		"-hls_playlist_type", "vod", "-hls_segment_type", "mpegts",
		"-hls_segment_filename", dir + "/seg-%d.ts", dir + "/index.m3u8",
	}
}

// codecs returns the CODECS attribute for the encode in segment, reading
// profile, constraint flags and level from its first SPS.
func (f ffmpeg) codecs(ctx context.Context, segment string) (string, error) {
	raw, err := f.run(ctx, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", segment,
		"-map", "0:v:0", "-c:v", "copy", "-frames:v", "1", "-f", "h264", "pipe:1")
	if err != nil {
		return "", fmt.Errorf("extract h264 from %s: %w", segment, err)
	}
	avc, err := avcCodec(raw)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", segment, err)
	}
	return avc + ",mp4a.40.2", nil
}

// avcCodec finds the first SPS in an Annex B stream and formats its
// profile_idc, constraint flags and level_idc as "avc1.PPCCLL".
func avcCodec(annexB []byte) (string, error) {
	for i := 0; i+6 < len(annexB); i++ {
		if annexB[i] == 0 && annexB[i+1] == 0 && annexB[i+2] == 1 && annexB[i+3]&0x1f == 7 {
			return fmt.Sprintf("avc1.%02x%02x%02x", annexB[i+4], annexB[i+5], annexB[i+6]), nil
		}
	}
	return "", fmt.Errorf("%w: no SPS", ErrBadEncode)
}

// h264Level returns the smallest H.264 level (3.0 or above, for player
// compatibility) whose Table A-1 limits admit the stream.
func h264Level(w, h, fps, kbps int) string {
	levels := []struct {
		name               string
		maxMBPS, maxFS, br int
	}{
		{"3.0", 40500, 1620, 10000},
		{"3.1", 108000, 3600, 14000},
		{"3.2", 216000, 5120, 20000},
		{"4.0", 245760, 8192, 20000},
		{"4.2", 522240, 8704, 50000},
		{"5.0", 589824, 22080, 135000},
		{"5.1", 983040, 36864, 240000},
	}
	fs := ((w + 15) / 16) * ((h + 15) / 16)
	for _, l := range levels {
		if fs <= l.maxFS && fs*fps <= l.maxMBPS && kbps <= l.br {
			return l.name
		}
	}
	return "5.1"
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
