package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/outpost-ecdn/outpost/tools/demoorigin"
)

// TestShaperFailureKeepsServing: a WAN interface that does not exist (or no root)
// turns kernel shaping off with a clear status, and the box keeps serving.
func TestShaperFailureKeepsServing(t *testing.T) {
	needFFmpeg(t)
	_, originURL := startOrigin(t, demoorigin.Config{})
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "outpost.yaml")
	cfg := strings.Replace(siteConfig(filepath.Join(dir, "data"), originURL, "diag:\n  api_token: 0123456789abcdef0123\n"),
		"  max_mbps: 200\n", "  max_mbps: 20\n  interface: nonexistent0\n  link_mbps: 100\n", 1)
	writeConfig(t, cfgPath, cfg)
	b := startBox(t, cfgPath)
	st := b.status(t)
	sh, ok := st.Shaper.(map[string]any)
	if !ok || sh["installed"] != false || !strings.Contains(sh["error"].(string), "nonexistent0") {
		t.Fatalf("shaper status = %#v, want installed=false with an error naming the interface", st.Shaper)
	}
	if code, _ := get(t, b.url+"/o/demo/vod/240p/index.m3u8"); code != 200 {
		t.Fatalf("box stopped serving after a shaper failure: %d", code)
	}
	// The diagnostics API is mounted and refuses requests without the token.
	if code, _ := get(t, b.url+"/api/v1/diag/top"); code != 401 && code != 403 {
		t.Errorf("diag API without token: %d, want 401/403", code)
	}
}
