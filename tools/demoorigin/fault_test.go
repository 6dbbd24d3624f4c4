package demoorigin_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/grafov/m3u8"
	"github.com/outpost-ecdn/outpost/tools/demoorigin"
)

func TestFaultStatus(t *testing.T) {
	leakGuard(t)
	_, ts, _ := newOrigin(t, nil)
	tests := []struct {
		path string
		want int
	}{
		{"/fault/500/live/lo/index.m3u8", 500},
		{"/fault/503/x.ts", 503},
		{"/fault/404/a/b/c", 404},
		{"/fault/200/x", 404}, // only 4xx and 5xx
		{"/fault/600/x", 404},
		{"/fault/5000/x", 404},
		{"/fault/abc/x", 404},
		{"/fault/notfound", 404},
		{"/fault/slow/fault/500/x", 404},           // faults do not nest
		{"/fault/truncate/stats", 404},             // only media paths
		{"/fault/redirect/vod/lo/index.m3u8", 200}, // followed by the client
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			get(t, ts.URL+tt.path, tt.want)
		})
	}
}

func TestFaultRedirectStaysLocal(t *testing.T) {
	leakGuard(t)
	_, ts, _ := newOrigin(t, nil)
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(client.CloseIdleConnections)
	// The mux cleans paths first (307), then the fault answers 302; every
	// hop must stay on this host.
	for path, want := range map[string]string{
		"/fault/redirect/vod/lo/index.m3u8?a=1":   "/vod/lo/index.m3u8?a=1",
		"/fault/redirect//evil.example/x":         "/evil.example/x",
		"/fault/redirect/vod/../live/master.m3u8": "/live/master.m3u8",
	} {
		url := ts.URL + path
		var last int
		var loc string
		for hop := 0; hop < 3 && last != http.StatusFound; hop++ {
			resp, err := client.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			last, loc = resp.StatusCode, resp.Header.Get("Location")
			if len(loc) < 1 || loc[0] != '/' || len(loc) > 1 && (loc[1] == '/' || loc[1] == '\\') {
				t.Fatalf("%s: %d to %q leaves the host", path, last, loc)
			}
			url = ts.URL + loc
		}
		if last != http.StatusFound || loc != want {
			t.Errorf("%s: %d to %q, want 302 to %q", path, last, loc, want)
		}
	}
}

func TestFaultMalformedPlaylist(t *testing.T) {
	_, ts, _ := newOrigin(t, nil)
	r := get(t, ts.URL+"/fault/malformed.m3u8", 200)
	if r.header.Get("Content-Type") != "application/vnd.apple.mpegurl" {
		t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
	}
	if _, _, err := m3u8.DecodeFrom(bytes.NewReader(r.body), true); err == nil {
		t.Errorf("strict decode accepted the malformed playlist:\n%s", r.body)
	}
}

func TestFaultReset(t *testing.T) {
	leakGuard(t)
	_, ts, _ := newOrigin(t, nil)
	resp, err := http.Get(ts.URL + "/fault/reset/live/lo/index.m3u8")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got a response (%d), want a connection error", resp.StatusCode)
	}
}

func TestFaultTruncate(t *testing.T) {
	leakGuard(t)
	_, ts, _ := newOrigin(t, nil)
	full := get(t, ts.URL+"/vod/big/seg-0.ts", 200).body
	resp, err := http.Get(ts.URL + "/fault/truncate/vod/big/seg-0.ts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read: %v, want unexpected EOF", err)
	}
	if resp.ContentLength != int64(len(full)) || !bytes.Equal(got, full[:len(full)/2]) {
		t.Errorf("Content-Length %d, got %d bytes; want %d claimed and the first %d delivered",
			resp.ContentLength, len(got), len(full), len(full)/2)
	}
}

// TestFaultHuge reads the start of the 10 GiB body and hangs up; the
// handler must stop (leak guard) having sent only what was read plus
// buffers.
func TestFaultHuge(t *testing.T) {
	leakGuard(t)
	srv, ts, _ := newOrigin(t, nil)
	h := fetch(t, http.MethodHead, ts.URL+"/fault/huge/x.ts")
	if h.status != 200 || h.header.Get("Content-Length") != strconv.Itoa(demoorigin.HugeSize) || h.header.Get("Content-Type") != "video/mp2t" {
		t.Fatalf("HEAD: %d %v", h.status, h.header)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", ts.URL+"/fault/huge/x.ts", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	const read = 1 << 20
	buf := make([]byte, read)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	for i := 0; i+4 <= read; i += 188 {
		if buf[i] != 0x47 || buf[i+1] != 0x1f || buf[i+2] != 0xff {
			t.Fatalf("byte %d: not an MPEG-TS null packet: % x", i, buf[i:i+4])
		}
	}
	ts.Close() // waits for the handler
	sent := srv.Stats().Paths["/fault/huge/x.ts"].Bytes
	if sent < read || sent > 64<<20 {
		t.Errorf("server counted %d bytes for a client that read %d", sent, read)
	}
}

// TestFaultSlowPacing serves a slow segment inside a bubble: the body is
// intact and took exactly one interval per chunk after the first.
func TestFaultSlowPacing(t *testing.T) {
	needMedia(t)
	synctest.Test(t, func(t *testing.T) {
		srv := newBubbleOrigin(t, nil)
		direct := <-serveAsync(t.Context(), srv, "/vod/lo/seg-0.ts")
		start := time.Now()
		slow := <-serveAsync(t.Context(), srv, "/fault/slow/vod/lo/seg-0.ts")
		n := direct.rec.Body.Len()
		if !bytes.Equal(slow.rec.Body.Bytes(), direct.rec.Body.Bytes()) || slow.rec.Code != 200 {
			t.Fatalf("slow body differs (%d vs %d bytes, status %d)", slow.rec.Body.Len(), n, slow.rec.Code)
		}
		chunks := (n + demoorigin.SlowChunk - 1) / demoorigin.SlowChunk
		if want := time.Duration(chunks-1) * demoorigin.SlowInterval; slow.at.Sub(start) != want || chunks < 2 {
			t.Errorf("%d bytes took %v, want %v (%d chunks)", n, slow.at.Sub(start), want, chunks)
		}
	})
}
