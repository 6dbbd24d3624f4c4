package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestOriginFaults drives the real daemon against the demo origin's fault endpoints:
// each bad answer becomes a clear status, nothing crashes, nothing bad is cached.
func TestOriginFaults(t *testing.T) {
	needFFmpeg(t)
	s := newSite(t)
	s.write(t, "")
	b := startBox(t, s.cfgPath)
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/o/demo/fault/notfound", 404},
		{"/o/demo/fault/500/x.ts", 502},
		{"/o/demo/fault/503/x.m3u8", 502},
		{"/o/demo/fault/reset/x.ts", 502},
		{"/o/demo/fault/malformed.m3u8", 502},
		{"/o/demo/fault/huge/x.ts", 502}, // 10 GiB "segment" > cache.max_object_bytes
		{"/o/unknown/live/master.m3u8", 404},
		{"/o/demo/live/../../../etc/passwd", 400},
		{"/o/demo/live/%2e%2e/%2e%2e/etc/passwd", 400},
		{"/o/demo/vod/240p/index.m3u8", 200},
	} {
		req, _ := http.NewRequest(http.MethodGet, b.url+tc.path, nil)
		req.URL.Opaque = tc.path
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s: %d %q, want %d", tc.path, resp.StatusCode, body, tc.code)
		}
	}
	// A truncated origin body reaches the viewer as a broken transfer, and is not kept.
	for range 2 {
		resp, err := http.Get(b.url + "/o/demo/fault/truncate/vod/240p/seg-0.ts")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Fatal("truncated origin body served as a complete response")
		}
	}
	st := b.status(t)
	if st.Cache.FillErrors < 2 {
		t.Errorf("fill errors = %d; the truncated object must be refetched, not cached", st.Cache.FillErrors)
	}
	// The box still works and its metrics say what happened.
	code, metrics := get(t, b.url+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{"outpost_wan_bytes_total{origin=\"demo\"}", "outpost_lan_bytes_total",
		"outpost_cache_events_total{event=\"miss\"}", "outpost_offload_ratio", "outpost_origin_errors_total{origin=\"demo\"}"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
