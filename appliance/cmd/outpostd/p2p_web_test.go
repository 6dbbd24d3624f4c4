package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/outpost-ecdn/outpost/appliance/hls"
)

func TestP2PWindows(t *testing.T) {
	s := time.Second
	for _, c := range []struct {
		name       string
		td, window time.Duration
		live, sp   bool
		want       P2PWindows
	}{
		// The demo stream: the notes measured 0% P2P with the default 15 s.
		{"demo 2s x 6 with super-peer", 2 * s, 12 * s, true, true, P2PWindows{HighDemand: 2, HTTP: 2, P2P: 12}},
		{"demo 2s x 6 tracker only", 2 * s, 12 * s, true, false, P2PWindows{HighDemand: 2}},
		{"6s x 5", 6 * s, 30 * s, true, true, P2PWindows{HighDemand: 6, HTTP: 6, P2P: 30}},
		{"short window 10s x 3", 10 * s, 30 * s, true, true, P2PWindows{HighDemand: 5, HTTP: 5, P2P: 30}},
		{"long segments capped", 10 * s, 120 * s, true, true, P2PWindows{HighDemand: 10, HTTP: 10, P2P: 120}},
		{"vod", 6 * s, 600 * s, false, true, P2PWindows{HighDemand: 12}},
		{"vod short segments", 1 * s, 60 * s, false, true, P2PWindows{HighDemand: 4}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, p2pWindows(c.td, c.window, c.live, c.sp)); diff != "" {
				t.Errorf("p2pWindows(%s, %s) (-want +got):\n%s", c.td, c.window, diff)
			}
		})
	}
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	code, body := get(t, url)
	if code == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("%s: %v: %s", url, err, body)
		}
	}
	return code
}

// TestP2PWebEndpoints: the SDK, the hashes of what the box fetched (checked
// against the bytes it serves) and the per-stream windows.
func TestP2PWebEndpoints(t *testing.T) {
	needFFmpeg(t)
	s := newSite(t)
	s.write(t, "tracker: {enabled: true}\n")
	b := startBox(t, s.cfgPath)

	code, sdk := get(t, b.url+"/sdk/outpost-p2p.js")
	if code != http.StatusOK || !strings.Contains(string(sdk), "OutpostP2P") {
		t.Fatalf("/sdk/outpost-p2p.js: %d", code)
	}
	if code, _ := get(t, b.url+"/sdk/player/p2pml23.js"); code != http.StatusNotFound {
		t.Errorf("player bundle in the firmware: %d", code)
	}

	var cfg P2PStreamConfig
	if code := getJSON(t, b.url+"/api/v1/p2p/stream?url="+b.url+"/o/demo/live/master.m3u8?x=1", &cfg); code != http.StatusOK {
		t.Fatalf("stream config: %d", code)
	}
	want := P2PStreamConfig{URL: b.url + "/o/demo/live/master.m3u8?x=1", SwarmID: b.url + "/o/demo/live/master.m3u8",
		Live: true, TargetDuration: 2, WindowDuration: 12, P2PWindows: P2PWindows{HighDemand: 2}}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("stream config (-want +got):\n%s", diff)
	}
	var bad map[string]string
	if code := getJSON(t, b.url+"/api/v1/p2p/stream?url=/elsewhere.m3u8", &bad); code != http.StatusBadRequest {
		t.Errorf("url outside /o/: %d", code)
	}

	_, body := get(t, b.url+"/o/demo/live/240p/index.m3u8")
	pl, err := hls.ParseMedia(body)
	if err != nil {
		t.Fatal(err)
	}
	seg := pl.Segments[len(pl.Segments)-1]
	segPath, _ := resolveBoxPath("/o/demo/live/240p/index.m3u8", seg.URI)
	var h ObjectHash
	if code := getJSON(t, b.url+"/api/v1/hashes/demo/live/240p/seg-999999.ts", &h); code != http.StatusNotFound {
		t.Errorf("hash of a segment the box never fetched: %d", code)
	}
	code, data := get(t, b.url+segPath)
	if code != http.StatusOK {
		t.Fatalf("segment: %d", code)
	}
	sum := sha256.Sum256(data)
	wantHash := ObjectHash{Path: segPath, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
	if code := getJSON(t, b.url+strings.Replace(segPath, "/o/", "/api/v1/hashes/", 1), &h); code != http.StatusOK {
		t.Fatalf("segment hash: %d", code)
	}
	if diff := cmp.Diff(wantHash, h); diff != "" {
		t.Errorf("segment hash (-want +got):\n%s", diff)
	}
	var ph PlaylistHashes
	if code := getJSON(t, b.url+"/api/v1/hashes/demo/live/240p/index.m3u8", &ph); code != http.StatusOK {
		t.Fatalf("playlist hashes: %d", code)
	}
	if diff := cmp.Diff(wantHash, ph.Segments[segPath]); diff != "" {
		t.Errorf("playlist hashes[%s] (-want +got):\n%s\nall: %v", segPath, diff, ph.Segments)
	}
	for _, p := range []string{"/api/v1/hashes/", "/api/v1/hashes/demo"} {
		if code, _ := get(t, b.url+p); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}
}
