package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/hls"
	"github.com/outpost-ecdn/outpost/tools/demoorigin"
)

// mediaDir holds the demo clip encoded once for every test binary of the repository
// (demoorigin.Prepare is safe across processes).
var mediaDir = filepath.Join(os.TempDir(), fmt.Sprintf("outpost-test-media-%d", os.Getuid()))

var ffmpegMissing string

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		ffmpegMissing = "ffmpeg is not installed (apt-get install ffmpeg; .ci/run does it)"
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		err := demoorigin.Prepare(ctx, demoorigin.Config{MediaDir: mediaDir}, "")
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "prepare demo media:", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

func needFFmpeg(t *testing.T) {
	t.Helper()
	if ffmpegMissing != "" {
		if os.Getenv("CI") != "" {
			t.Fatal(ffmpegMissing)
		}
		t.Skip(ffmpegMissing)
	}
}

// startOrigin runs the demo origin on a loopback port.
func startOrigin(t *testing.T, cfg demoorigin.Config) (*demoorigin.Server, string) {
	t.Helper()
	cfg.MediaDir = mediaDir
	o, err := demoorigin.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	return o, srv.URL
}

func writeConfig(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func siteConfig(dataDir, originURL string, extra string) string {
	return fmt.Sprintf(`site: test-site
listen: 127.0.0.1:0
data_dir: %s
origins:
  - name: demo
    url: %s/
wan:
  max_mbps: 200
cache:
  max_bytes: 256MiB
log:
  level: warn
%s`, dataDir, originURL, extra)
}

// site is a demo origin plus a config file and data directory for boxes.
type site struct {
	origin                        *demoorigin.Server
	originURL, dir, cfgPath, data string
}

func newSite(t *testing.T) *site {
	t.Helper()
	s := &site{dir: t.TempDir()}
	s.origin, s.originURL = startOrigin(t, demoorigin.Config{})
	s.cfgPath, s.data = filepath.Join(s.dir, "outpost.yaml"), filepath.Join(s.dir, "data")
	return s
}

// write writes the site config plus extra YAML.
func (s *site) write(t *testing.T, extra string) {
	t.Helper()
	writeConfig(t, s.cfgPath, siteConfig(s.data, s.originURL, extra))
}

// box is a running outpostd (the real run function) on a loopback port.
type box struct {
	url    string
	cancel context.CancelFunc
	done   chan error
}

func startBox(t *testing.T, cfgPath string) *box {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &box{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan net.Addr, 1)
	go func() { b.done <- run(ctx, cfgPath, io.Discard, func(a, _ net.Addr) { ready <- a }) }()
	select {
	case a := <-ready:
		b.url = "http://" + a.String()
	case err := <-b.done:
		cancel()
		t.Fatalf("outpostd did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("outpostd did not start within 30 s")
	}
	t.Cleanup(func() { b.stop(t) })
	return b
}

func (b *box) stop(t *testing.T) {
	if b.cancel == nil {
		return
	}
	b.cancel()
	b.cancel = nil
	select {
	case err := <-b.done:
		if err != nil {
			t.Errorf("outpostd exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("outpostd did not stop within 30 s")
	}
}

func (b *box) status(t *testing.T) Status {
	t.Helper()
	resp, err := http.Get(b.url + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// TestFFmpegViewersOneWANCopy plays the live stream through the box with real ffmpeg
// clients at once and checks the origin served each segment exactly once.
func TestFFmpegViewersOneWANCopy(t *testing.T) {
	needFFmpeg(t)
	s := newSite(t)
	s.write(t, "")
	o, cfgPath := s.origin, s.cfgPath
	b := startBox(t, cfgPath)

	const clients = 3
	url := b.url + "/o/demo/live/360p/index.m3u8"
	var wg sync.WaitGroup
	errs := make([]error, clients)
	outs := make([][]byte, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
				"-i", url, "-t", "12", "-c", "copy", "-f", "null", "-")
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for i := range clients {
		if errs[i] != nil {
			t.Fatalf("ffmpeg client %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	st := o.Stats()
	segments := 0
	for p, c := range st.Paths {
		if strings.HasPrefix(p, "/live/360p/seg-") {
			segments++
			if c.Requests != 1 {
				t.Errorf("origin served %s %d times, want once", p, c.Requests)
			}
		}
	}
	if segments < 5 {
		t.Errorf("origin served %d distinct segments; 12 s of 2 s segments need at least 5", segments)
	}
	bs := b.status(t)
	if bs.LAN.Bytes < 2*bs.WAN.Bytes {
		t.Errorf("LAN bytes %d vs WAN bytes %d: expected about %d copies out per copy in", bs.LAN.Bytes, bs.WAN.Bytes, clients)
	}
	if bs.Prefetch.Warmed == 0 {
		t.Error("live prefetch fetched nothing")
	}
	t.Logf("origin: %d segments, %d bytes; box: LAN %d bytes, WAN %d bytes, offload %.3f, prefetched %d",
		segments, st.Kinds[demoorigin.KindSegment].Bytes, bs.LAN.Bytes, bs.WAN.Bytes, bs.OffloadRatio, bs.Prefetch.Warmed)
}

// TestRestartWarmCache: a restarted box with a warm cache asks the origin for no
// cached segment.
func TestRestartWarmCache(t *testing.T) {
	needFFmpeg(t)
	s := newSite(t)
	s.write(t, "")
	o, cfgPath := s.origin, s.cfgPath

	fetchAll := func(b *box) map[string][]byte {
		code, body := get(t, b.url+"/o/demo/vod/240p/index.m3u8")
		if code != 200 {
			t.Fatalf("VOD playlist: %d", code)
		}
		m, err := hls.ParseMedia(body)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]byte{}
		for _, s := range m.Segments {
			code, seg := get(t, b.url+"/o/demo/vod/240p/"+s.URI)
			if code != 200 {
				t.Fatalf("%s: %d", s.URI, code)
			}
			out[s.URI] = seg
		}
		return out
	}
	b := startBox(t, cfgPath)
	first := fetchAll(b)
	b.stop(t)
	if n := o.Stats().Kinds[demoorigin.KindSegment].Requests; n != int64(len(first)) {
		t.Fatalf("cold cache: %d origin segment requests for %d segments", n, len(first))
	}
	o.ResetStats()

	b = startBox(t, cfgPath)
	second := fetchAll(b)
	if n := o.Stats().Kinds[demoorigin.KindSegment].Requests; n != 0 {
		t.Errorf("warm cache after restart: %d origin segment requests, want 0", n)
	}
	for k, v := range first {
		if !bytes.Equal(second[k], v) {
			t.Errorf("%s differs after restart", k)
		}
	}
}

// TestReload: a config file change and SIGHUP apply in place; an invalid file is
// refused and the running config kept.
func TestReload(t *testing.T) {
	needFFmpeg(t)
	s := newSite(t)
	s.write(t, "")
	originURL, cfgPath, data := s.originURL, s.cfgPath, s.data
	b := startBox(t, cfgPath)
	if code, _ := get(t, b.url+"/o/second/live/master.m3u8"); code != 404 {
		t.Fatalf("unknown origin: %d, want 404", code)
	}
	waitReloads := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for b.status(t).ConfigReloads < n {
			if time.Now().After(deadline) {
				t.Fatalf("config not reloaded (want %d reloads)", n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	second := fmt.Sprintf("  - name: second\n    url: %s/\n", originURL)
	withSecond := strings.Replace(siteConfig(data, originURL, ""), "wan:", second+"wan:", 1)
	writeConfig(t, cfgPath, withSecond)
	waitReloads(1)
	if code, _ := get(t, b.url+"/o/second/live/master.m3u8"); code != 200 {
		t.Fatalf("origin added by reload: %d, want 200", code)
	}
	// A broken file is refused: the count stays, the second origin still serves.
	writeConfig(t, cfgPath, withSecond+"bogus_key: 1\n")
	time.Sleep(time.Second) // give the watcher time to see it (no assertion on time)
	if n := b.status(t).ConfigReloads; n != 1 {
		t.Fatalf("invalid config counted as reload (%d)", n)
	}
	if code, _ := get(t, b.url+"/o/second/live/master.m3u8"); code != 200 {
		t.Fatal("invalid config dropped the running one")
	}
	// SIGHUP after fixing the file (rate change only).
	writeConfig(t, cfgPath, strings.Replace(withSecond, "max_mbps: 200", "max_mbps: 100", 1))
	waitReloads(2)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitReloads(3)
	if st := b.status(t); st.WAN.MaxMbps != 100 {
		t.Errorf("wan.max_mbps after reload = %v, want 100", st.WAN.MaxMbps)
	}
}

func TestConfigErrorAtStart(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.yaml")
	writeConfig(t, p, siteConfig(dir, "http://127.0.0.1:1", "wan:\n  max_mpbs: 5\n"))
	err := run(context.Background(), p, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "wan") {
		t.Fatalf("run with a bad config: %v", err)
	}
	writeConfig(t, p, strings.Replace(siteConfig(dir, "http://127.0.0.1:1", ""), "256MiB", "lots", 1))
	if err := run(context.Background(), p, io.Discard, nil); err == nil || !strings.Contains(err.Error(), "cache.max_bytes") {
		t.Fatalf("run with a bad size: %v", err)
	}
}

// TestDrain: on shutdown an in-flight response completes before run returns.
func TestDrain(t *testing.T) {
	needFFmpeg(t)
	s := newSite(t)
	s.write(t, "")
	b := startBox(t, s.cfgPath)
	// /fault/slow dribbles 1 KiB every 50 ms: the 240p playlist takes a while.
	resp, err := http.Get(b.url + "/o/demo/fault/slow/vod/240p/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b.cancel() // SIGTERM equivalent while the body is still arriving
	b.cancel = nil
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("drained response: %d, %v", resp.StatusCode, err)
	}
	if _, err := hls.ParseMedia(body); err != nil {
		t.Fatalf("drained playlist incomplete: %v", err)
	}
	select {
	case err := <-b.done:
		if err != nil {
			t.Fatalf("run after drain: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after drain")
	}
}
