package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outpost-ecdn/outpost/tools/demoorigin"
	"go.uber.org/goleak"
)

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		noPath  bool
		wantErr string
	}{
		{"ffmpeg flag missing", []string{"-ffmpeg", "/nonexistent/ffmpeg"}, false, "apt-get install ffmpeg"},
		{"ffmpeg not in PATH", nil, true, "apt-get install ffmpeg"},
		{"unknown flag", []string{"-nope"}, false, "-nope"},
		{"extra argument", []string{"serve"}, false, "unexpected arguments"},
		{"negative rate", []string{"-rate-mbps", "-1"}, false, "rate-mbps"},
		{"bad segment", []string{"-ffmpeg", "/nonexistent/ffmpeg", "-segment", "1.01s"}, false, "SegmentDuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.noPath {
				t.Setenv("PATH", t.TempDir())
			}
			args := append([]string{"-media-dir", t.TempDir(), "-listen", "127.0.0.1:0"}, tt.args...)
			err := run(t.Context(), args, io.Discard, io.Discard, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("run: %v, want an error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefaultMediaDir(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	if got, want := defaultMediaDir(), filepath.Join(cache, "outpost-demo"); got != want {
		t.Errorf("with XDG_CACHE_HOME: %q, want %q", got, want)
	}
	home := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", home)
	if got, want := defaultMediaDir(), filepath.Join(home, ".cache", "outpost-demo"); got != want {
		t.Errorf("without XDG_CACHE_HOME: %q, want %q", got, want)
	}
}

// TestRunServesAndStops starts the command on a loopback port with tiny
// renditions, fetches the live playlist from the printed URL and stops it
// by cancelling its context (what SIGTERM does).
func TestRunServesAndStops(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed (apt-get install ffmpeg); CI installs it")
	}
	defer goleak.VerifyNone(t)
	tiny := []demoorigin.Rendition{{Name: "tiny", Width: 160, Height: 90, VideoKbps: 100}}
	mod := func(c *demoorigin.Config) {
		c.ClipSegments = 2
		c.Renditions = tiny
		c.VODRenditions = tiny
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"-media-dir", t.TempDir(), "-listen", "127.0.0.1:0", "-segment", "400ms"}, pw, io.Discard, mod)
		pw.Close()
		done <- err
	}()

	var base string
	sc := bufio.NewScanner(pr)
	for base == "" && sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "serving on "); ok {
			base = rest
		}
	}
	go io.Copy(io.Discard, pr) // keep the rest of the output flowing
	if base == "" {
		cancel()
		t.Fatalf("no URL printed: %v", <-done)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(base + "/live/tiny/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	client.CloseIdleConnections()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "seg-") {
		t.Errorf("live playlist: %d\n%s", resp.StatusCode, body)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel: %v", err)
	}
}
