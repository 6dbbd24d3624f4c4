package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The Chromium test re-executes the test binary under `unshare --net` so that
// the box, the demo origin and the browser share a namespace whose only
// interface is lo (notes/browser-webrtc-tests.md: elsewhere Chromium offers the
// machine's external addresses). These variables pass the set-up to the child.
const (
	browserNetnsEnv  = "OUTPOST_BROWSER_NETNS"  // "1" in the child
	browserPlayerEnv = "OUTPOST_BROWSER_PLAYER" // directory of the player bundles
)

var browserTestDir = filepath.Join("..", "..", "..", "tools", "browsertest")

// browserPrereq skips (locally) or fails (CI set) when the test cannot run.
func browserPrereq(t *testing.T) {
	t.Helper()
	missing := func(msg string) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	needFFmpeg(t)
	if os.Geteuid() != 0 {
		missing("the Chromium p2p test needs root for unshare --net")
	}
	for _, tool := range []string{"unshare", "ip", "node"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(tool + " is not installed (CI: apt-get install nodejs util-linux iproute2)")
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		missing("/usr/bin/chromium is missing (CI: apt-get install chromium)")
	}
	for _, dep := range []string{"playwright-core", "esbuild", "hls.js", "p2pml23-hlsjs", "p2pml22-hlsjs"} {
		if _, err := os.Stat(filepath.Join(browserTestDir, "node_modules", dep, "package.json")); err != nil {
			missing("tools/browsertest/node_modules lacks " + dep + ": run `npm ci --ignore-scripts` in tools/browsertest")
		}
	}
}

// TestP2PBrowser plays the demo live stream in headless Chromium pages that
// load hls.js + p2p-media-loader (2.3.x, then 2.2.x, then 2.3.x over
// https/wss) from the box and are set up by the box's /sdk/outpost-p2p.js; it
// checks playback advanced and that most segment bytes came from the box's
// super-peer over WebRTC, verified against the box's hashes. A last run puts
// the tracker in mesh mode with a page that uploads corrupted segments
// (browserMesh, p2p_browser_mesh_linux_test.go). `-run TestP2PBrowser/mesh`
// runs one subtest.
func TestP2PBrowser(t *testing.T) {
	if os.Getenv(browserNetnsEnv) == "1" {
		browserChild(t)
		return
	}
	if testing.Short() {
		t.Skip("Chromium p2p test: not in -short mode")
	}
	browserPrereq(t)
	player := t.TempDir()
	esbuild := filepath.Join(browserTestDir, "node_modules", ".bin", "esbuild")
	for _, v := range []string{"22", "23"} {
		cmd := exec.Command(esbuild, filepath.Join("page", "entry"+v+".mjs"), "--bundle", "--format=iife", "--minify",
			"--conditions=p2pml:core-as-bundle", "--log-level=warning", "--outfile="+filepath.Join(player, "p2pml"+v+".js"))
		cmd.Dir = browserTestDir
		cmd.Args[0] = "esbuild"
		cmd.Path, _ = filepath.Abs(esbuild)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("esbuild player %s: %v\n%s", v, err, out)
		}
	}
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute) // hang guard (generous: CI hosts may be loaded)
	defer cancel()
	// -run 'TestP2PBrowser/mesh' selects the child's subtests too.
	run := "^TestP2PBrowser$"
	if f := flag.Lookup("test.run"); f != nil && strings.Contains(f.Value.String(), "/") {
		run = f.Value.String()
	}
	cmd := exec.CommandContext(ctx, "unshare", "--net", "--", os.Args[0], "-test.run="+run, "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), browserNetnsEnv+"=1", browserPlayerEnv+"="+player, "HOME="+home)
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if strings.Contains(line, "p2p_browser") || strings.HasPrefix(strings.TrimSpace(line), "---") || strings.Contains(line, "FAIL") {
			t.Log(strings.TrimSpace(line))
		}
	}
	if err != nil {
		t.Fatalf("browser test in a network namespace: %v\n%s", err, out.String())
	}
}

// pageReport is window.outpostTest of the test page (appliance/p2pweb/static/test.html).
type pageReport struct {
	Version       string           `json:"version"`
	Ready         bool             `json:"ready"`
	Error         string           `json:"error"`
	Bytes         map[string]int64 `json:"bytes"`
	BytesPlaying  map[string]int64 `json:"bytesPlaying"` // after playback began
	Segments      map[string]int64 `json:"segments"`
	SegmentErrors int              `json:"segmentErrors"`
	PeerConnects  int              `json:"peerConnects"`
	Fatal         []string         `json:"fatal"`
	TrackerErrors []string         `json:"trackerErrors"`
	CurrentTime   float64          `json:"currentTime"`
	PlayStart     *float64         `json:"playStart"` // currentTime when playback began`
	Stalls        int              `json:"stalls"`
	Validation    struct {
		Verified, Rejected, Unverifiable int
	} `json:"validation"`
	SHA256Check string `json:"sha256Check"`
	Core        struct {
		AnnounceTrackers     []string `json:"announceTrackers"`
		HighDemandTimeWindow float64  `json:"highDemandTimeWindow"`
	} `json:"core"`
	Mesh *meshReport `json:"mesh"` // mesh runs only (page/mesh-init.js)
}

type browserRun struct {
	name, url       string
	pages, seconds  int
	insecure        bool
	minP2PShare     float64
	minPlayingShare float64 // of the bytes after playback began; 0: not checked
	wantTrackerHead string
	mesh            *meshOpts // browser-to-browser run with a poisoning page
}

func browserChild(t *testing.T) {
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v: %s", err, out)
	}
	if out, _ := exec.Command("ip", "-o", "addr").Output(); strings.Contains(string(out), "eth") {
		t.Fatalf("not in a fresh network namespace:\n%s", out)
	}
	p2pPlayer = os.DirFS(os.Getenv(browserPlayerEnv))
	t.Cleanup(func() { p2pPlayer = nil })

	s := newSite(t)
	certFile, keyFile, _ := writeSelfSigned(t, s.dir)
	s.write(t, fmt.Sprintf(`tls: {listen: "127.0.0.1:0", cert_file: %q, key_file: %q}
tracker: {enabled: true}
superpeer:
  enabled: true
  udp_listen: "127.0.0.1:0"
  loopback_candidates: true
`, certFile, keyFile))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	type addrs struct{ lan, tls net.Addr }
	ready := make(chan addrs, 1)
	go func() { done <- run(ctx, s.cfgPath, io.Discard, func(a, b net.Addr) { ready <- addrs{a, b} }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("outpostd: %v", err)
		}
	}()
	var a addrs
	select {
	case a = <-ready:
	case err := <-done:
		t.Fatalf("outpostd did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("outpostd did not start within 30 s")
	}
	b := &box{url: "http://" + a.lan.String()}
	runs := []browserRun{
		{name: "p2pml 2.3.x", url: b.url + "/sdk/test.html?v=23", pages: 3, seconds: 40, minP2PShare: 0.6, minPlayingShare: 0.9, wantTrackerHead: "ws://"},
		{name: "p2pml 2.2.x", url: b.url + "/sdk/test.html?v=22", pages: 3, seconds: 25, minP2PShare: 0.6, wantTrackerHead: "ws://"},
		{name: "p2pml 2.3.x https+wss", url: "https://" + a.tls.String() + "/sdk/test.html?v=23", pages: 2, seconds: 20,
			insecure: true, minP2PShare: 0.6, wantTrackerHead: "wss://"},
	}
	for _, r := range runs {
		t.Run(strings.NewReplacer(" ", "_", "+", "_").Replace(r.name), func(t *testing.T) { browserPlay(t, b, s, r) })
	}
	t.Run("p2pml_2.3.x_mesh_poison", browserMesh)
}

// browserPlay runs one set of pages and checks and reports the figures.
func browserPlay(t *testing.T, b *box, s *site, r browserRun) []pageReport {
	before := p2pStatusOf(t, b)
	s.origin.ResetStats()
	opts, _ := json.Marshal(map[string]any{"url": r.url, "pages": r.pages, "seconds": r.seconds, "staggerMs": 1500, "insecure": r.insecure, "mesh": r.mesh})
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.seconds+150)*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("page", "drive.mjs"), string(opts))
	cmd.Dir = browserTestDir
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("drive.mjs: %v\n%s", err, stderr.String())
	}
	var res struct {
		Pages []pageReport `json:"pages"`
		Logs  []string     `json:"logs"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("drive.mjs output: %v: %s", err, out)
	}
	after := p2pStatusOf(t, b)
	var httpB, p2pB, httpSeg, p2pSeg, httpPlay, p2pPlay int64
	for i, p := range res.Pages {
		played := 0.0
		if p.PlayStart != nil {
			played = p.CurrentTime - *p.PlayStart
		}
		t.Logf("page %d: played %.1f s, %d stalls, http %d B/%d seg, p2p %d B/%d seg, peers %d, verified %d rejected %d, window %.1f s, tracker %v",
			i, played, p.Stalls, p.Bytes["http"], p.Segments["http"], p.Bytes["p2p"], p.Segments["p2p"],
			p.PeerConnects, p.Validation.Verified, p.Validation.Rejected, p.Core.HighDemandTimeWindow, p.Core.AnnounceTrackers)
		switch {
		case !p.Ready || p.Error != "":
			t.Errorf("page %d did not start: %q", i, p.Error)
		case len(p.Fatal) > 0:
			t.Errorf("page %d: fatal hls.js errors %v", i, p.Fatal)
		case played < float64(r.seconds)/2:
			t.Errorf("page %d played only %.1f s in %d s", i, played, r.seconds)
		}
		if len(p.Core.AnnounceTrackers) != 1 || !strings.HasPrefix(p.Core.AnnounceTrackers[0], r.wantTrackerHead) {
			t.Errorf("page %d: announceTrackers %v, want the box's %s.../announce", i, p.Core.AnnounceTrackers, r.wantTrackerHead)
		}
		if p.Validation.Rejected > 0 && r.mesh == nil { // mesh: see meshCheck
			t.Errorf("page %d: %d segments from the box failed the hash check", i, p.Validation.Rejected)
		}
		if p.SHA256Check != "ok" {
			t.Errorf("page %d: JS SHA-256 fallback check %q", i, p.SHA256Check)
		}
		httpB, p2pB = httpB+p.Bytes["http"], p2pB+p.Bytes["p2p"]
		httpPlay, p2pPlay = httpPlay+p.BytesPlaying["http"], p2pPlay+p.BytesPlaying["p2p"]
		httpSeg, p2pSeg = httpSeg+p.Segments["http"], p2pSeg+p.Segments["p2p"]
	}
	if len(res.Logs) > 0 {
		t.Logf("browser logs: %q", res.Logs)
	}
	share := float64(p2pB) / float64(max(1, httpB+p2pB))
	// Once playing: start-up segments come over HTTP before any peer connects.
	playShare := float64(p2pPlay) / float64(max(1, httpPlay+p2pPlay))
	var spBytes, spUploads int64
	if after.SuperPeer != nil && before.SuperPeer != nil {
		spBytes = after.SuperPeer.UploadBytes - before.SuperPeer.UploadBytes
		spUploads = after.SuperPeer.Uploads - before.SuperPeer.Uploads
	}
	// Origin copies: requests per live segment path the demo origin served.
	var segs, copies int64
	for p, c := range s.origin.Stats().Paths {
		if strings.HasSuffix(p, ".ts") {
			segs++
			copies += c.Requests
		}
	}
	t.Logf("p2p_browser %s: %d pages x %d s: P2P share %.1f%% of bytes (%d of %d B; %d p2p + %d http segments), %.1f%% once playing (%d of %d B); super-peer sent %d B in %d uploads; origin copies per segment %.2f (%d segments)",
		r.name, r.pages, r.seconds, 100*share, p2pB, httpB+p2pB, p2pSeg, httpSeg, 100*playShare, p2pPlay, httpPlay+p2pPlay, spBytes, spUploads,
		float64(copies)/float64(max(1, segs)), segs)
	if r.minPlayingShare > 0 && playShare < r.minPlayingShare {
		t.Errorf("P2P share once playing %.1f%% < %.0f%%", 100*playShare, 100*r.minPlayingShare)
	}
	if share < r.minP2PShare {
		t.Errorf("P2P share %.1f%% < %.0f%%", 100*share, 100*r.minP2PShare)
	}
	if spBytes < p2pB/2 && r.mesh == nil {
		t.Errorf("the box's super-peer sent %d B, pages got %d B over P2P: the box should be the main peer", spBytes, p2pB)
	}
	if segs > 0 && float64(copies)/float64(segs) > 1.05 {
		t.Errorf("origin sent %.2f copies per segment, want 1", float64(copies)/float64(segs))
	}
	return res.Pages
}
