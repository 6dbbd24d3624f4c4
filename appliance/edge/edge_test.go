package edge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/cache"
	"github.com/outpost-ecdn/outpost/appliance/origin"
)

// fakeOrigin is a real HTTP origin on loopback whose answers the test scripts.
type fakeOrigin struct {
	srv      *httptest.Server
	mu       sync.Mutex
	objects  map[string][]byte // path -> body
	status   map[string]int    // path -> forced status
	gate     map[string]chan struct{}
	requests map[string]int
	down     atomic.Bool
}

func newFakeOrigin(t testing.TB) *fakeOrigin {
	o := &fakeOrigin{objects: map[string][]byte{}, status: map[string]int{}, gate: map[string]chan struct{}{}, requests: map[string]int{}}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *fakeOrigin) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.requests[r.URL.Path]++
	body, ok := o.objects[r.URL.Path]
	code := o.status[r.URL.Path]
	gate := o.gate[r.URL.Path]
	o.mu.Unlock()
	if o.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if code != 0 {
		http.Error(w, "scripted", code)
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	if gate != nil {
		half := len(body) / 2
		w.Write(body[:half])
		w.(http.Flusher).Flush()
		<-gate
		w.Write(body[half:])
		return
	}
	w.Write(body)
}

func (o *fakeOrigin) set(path string, body []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.objects[path] = body
}

func (o *fakeOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.requests[path]
}

type testBox struct {
	edge   *Server
	srv    *httptest.Server
	cache  *cache.Cache
	origin *fakeOrigin
	now    atomic.Int64 // fake clock for the cache, unix nanos
}

func newTestBox(t testing.TB, cors ...string) *testBox {
	t.Helper()
	b := &testBox{origin: newFakeOrigin(t)}
	b.now.Store(time.Now().UnixNano())
	c, err := cache.Open(cache.Config{Dir: t.TempDir(), MaxBytes: 64 << 20,
		Now: func() time.Time { return time.Unix(0, b.now.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	u, _ := url.Parse(b.origin.srv.URL + "/media/")
	set, err := origin.NewSet([]origin.Origin{{Name: "demo", URL: u}})
	if err != nil {
		t.Fatal(err)
	}
	client := &origin.Client{Set: func() *origin.Set { return set }, Retries: -1,
		HeaderTimeout: 2 * time.Second, IdleTimeout: 2 * time.Second, MaxObjectBytes: 8 << 20}
	b.cache = c
	b.edge = &Server{Cache: c, Client: client, Origins: func() *origin.Set { return set }}
	if len(cors) > 0 {
		b.edge.CORSOrigins = func() []string { return cors }
	}
	b.srv = httptest.NewServer(b.edge)
	t.Cleanup(b.srv.Close)
	return b
}

func (b *testBox) advance(d time.Duration) { b.now.Add(int64(d)) }

func (b *testBox) get(t *testing.T, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.srv.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func segmentBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestSegmentMissThenHit(t *testing.T) {
	b := newTestBox(t)
	seg := segmentBytes(300_000)
	b.origin.set("/media/live/seg-1.ts", seg)

	resp, body := b.get(t, "/o/demo/live/seg-1.ts")
	if resp.StatusCode != 200 || !bytes.Equal(body, seg) {
		t.Fatalf("first GET: %d, %d bytes", resp.StatusCode, len(body))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "video/mp2t" {
		t.Errorf("Content-Type = %q", ct)
	}
	resp, body = b.get(t, "/o/demo/live/seg-1.ts")
	if resp.Header.Get("X-Cache") != "HIT" || !bytes.Equal(body, seg) {
		t.Fatalf("second GET: X-Cache %q", resp.Header.Get("X-Cache"))
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "public") {
		t.Errorf("ETag %q Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
	}
	if resp, _ := b.get(t, "/o/demo/live/seg-1.ts", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	resp, body = b.get(t, "/o/demo/live/seg-1.ts", "Range", "bytes=1000-1999")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, seg[1000:2000]) {
		t.Errorf("Range: %d, %d bytes", resp.StatusCode, len(body))
	}
	if n := b.origin.count("/media/live/seg-1.ts"); n != 1 {
		t.Errorf("origin requests = %d, want 1", n)
	}
	if st := b.edge.Stats(); st.LANBytes < int64(2*len(seg)) {
		t.Errorf("LANBytes = %d", st.LANBytes)
	}
}

func TestCoalescedStreamingFill(t *testing.T) {
	b := newTestBox(t)
	seg := segmentBytes(1 << 20)
	b.origin.set("/media/live/seg-2.ts", seg)
	gate := make(chan struct{})
	b.origin.mu.Lock()
	b.origin.gate["/media/live/seg-2.ts"] = gate
	b.origin.mu.Unlock()

	const viewers = 20
	var wg sync.WaitGroup
	got := make([][]byte, viewers)
	firstBytes := make(chan struct{}, viewers)
	ctxQuit, quit := context.WithCancel(context.Background())
	for i := range viewers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			if i == 0 {
				ctx = ctxQuit // this viewer hangs up mid-transfer
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.srv.URL+"/o/demo/live/seg-2.ts", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				firstBytes <- struct{}{}
				return
			}
			defer resp.Body.Close()
			buf := make([]byte, 1000)
			if _, err := io.ReadFull(resp.Body, buf); err == nil {
				firstBytes <- struct{}{}
			}
			rest, _ := io.ReadAll(resp.Body)
			got[i] = append(buf, rest...)
		}()
	}
	// Every viewer receives bytes while the origin still holds back the second half.
	for range viewers {
		select {
		case <-firstBytes:
		case <-time.After(10 * time.Second):
			t.Fatal("viewers did not receive the first bytes before the fill completed")
		}
	}
	quit()
	close(gate)
	wg.Wait()
	for i := 1; i < viewers; i++ {
		if !bytes.Equal(got[i], seg) {
			t.Fatalf("viewer %d got %d bytes, want %d", i, len(got[i]), len(seg))
		}
	}
	if n := b.origin.count("/media/live/seg-2.ts"); n != 1 {
		t.Errorf("origin requests = %d, want 1", n)
	}
	resp, body := b.get(t, "/o/demo/live/seg-2.ts")
	if resp.Header.Get("X-Cache") != "HIT" || !bytes.Equal(body, seg) {
		t.Error("object not stored after a viewer hung up")
	}
}

func TestErrors(t *testing.T) {
	b := newTestBox(t)
	b.origin.set("/media/bad.m3u8", []byte("this is not a playlist"))
	b.origin.set("/media/bad2.m3u8", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:abc\n#EXTINF:2,\n"))
	b.origin.mu.Lock()
	b.origin.status["/media/boom.ts"] = 500
	b.origin.mu.Unlock()
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/o/nope/live/x.ts", 404},
		{"/o/demo/../../etc/passwd", 400},
		{"/o/demo/live/%2e%2e/%2e%2e/etc/passwd", 400},
		{"/o/demo/live/..%2fsecret.ts", 400},
		{"/o/demo/missing.ts", 404},
		{"/o/demo/boom.ts", 502},
		{"/o/demo/bad.m3u8", 502},
		{"/o/demo/bad2.m3u8", 502},
		{"/elsewhere", 404},
	} {
		req, _ := http.NewRequest(http.MethodGet, b.srv.URL+tc.path, nil)
		req.URL.Opaque = tc.path // keep the path exactly as written
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s: %d %q, want %d", tc.path, resp.StatusCode, body, tc.code)
		}
		if strings.Contains(string(body), "127.0.0.1") {
			t.Errorf("%s: error leaks the origin address: %q", tc.path, body)
		}
	}
	if n := b.origin.count("/etc/passwd"); n != 0 {
		t.Error("traversal reached the origin")
	}
	// An invalid playlist is never cached: the next request asks the origin again.
	before := b.origin.count("/media/bad.m3u8")
	b.get(t, "/o/demo/bad.m3u8")
	if b.origin.count("/media/bad.m3u8") != before+1 {
		t.Error("invalid playlist was cached")
	}
	req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/o/demo/x.ts", nil)
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

func TestHugeObjectRefused(t *testing.T) {
	b := newTestBox(t)
	b.origin.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(int64(10)<<30)) // a 10 GB "segment"
		w.Write(make([]byte, 1024))
	})
	resp, _ := b.get(t, "/o/demo/huge.ts")
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("10 GB segment: %d, want 502", resp.StatusCode)
	}
	if st := b.cache.Stats(); st.Objects != 0 {
		t.Errorf("cache holds %d objects after a refused fill", st.Objects)
	}
}

const livePlaylist = `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:10
#EXTINF:2.000,
seg-10.ts
#EXTINF:2.000,
%s/media/live/seg-11.ts
#EXTINF:2.000,
/media/live/seg-12.ts
#EXTINF:2.000,
https://cdn.elsewhere.example/seg-13.ts
`

func TestPlaylistRewriteTTLAndStale(t *testing.T) {
	b := newTestBox(t)
	b.origin.set("/media/live/index.m3u8", []byte(fmt.Sprintf(livePlaylist, b.origin.srv.URL)))
	resp, body := b.get(t, "/o/demo/live/index.m3u8")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.apple.mpegurl" {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"\nseg-10.ts\n", "\n/o/demo/live/seg-11.ts\n", "\n/o/demo/live/seg-12.ts\n", "\nhttps://cdn.elsewhere.example/seg-13.ts\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("rewritten playlist lacks %q:\n%s", want, body)
		}
	}
	if b.edge.Stats().UnmappedURIs != 1 {
		t.Errorf("UnmappedURIs = %d, want 1", b.edge.Stats().UnmappedURIs)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" && !strings.HasPrefix(cc, "max-age=") {
		t.Errorf("playlist Cache-Control %q", cc)
	}
	// Fresh for a fraction of the target duration: no second origin request.
	b.get(t, "/o/demo/live/index.m3u8")
	if n := b.origin.count("/media/live/index.m3u8"); n != 1 {
		t.Fatalf("origin playlist requests = %d, want 1", n)
	}
	// Expired: refetched.
	b.advance(time.Second)
	b.get(t, "/o/demo/live/index.m3u8")
	if n := b.origin.count("/media/live/index.m3u8"); n != 2 {
		t.Fatalf("after expiry origin requests = %d, want 2", n)
	}
	// Origin down: the last playlist is served while younger than a few target durations.
	b.origin.down.Store(true)
	b.advance(time.Second)
	resp, body = b.get(t, "/o/demo/live/index.m3u8")
	if resp.StatusCode != 200 || resp.Header.Get("X-Cache") != "STALE" || !strings.Contains(string(body), "seg-10.ts") {
		t.Fatalf("origin down, recent playlist: %d %q", resp.StatusCode, resp.Header.Get("X-Cache"))
	}
	b.advance(10 * time.Second)
	if resp, _ := b.get(t, "/o/demo/live/index.m3u8"); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("origin down, old playlist: %d, want 502", resp.StatusCode)
	}
}

func TestCORS(t *testing.T) {
	b := newTestBox(t, "https://portal.corp.example")
	b.origin.set("/media/a.ts", []byte("x"))
	resp, _ := b.get(t, "/o/demo/a.ts", "Origin", "https://portal.corp.example")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://portal.corp.example" {
		t.Errorf("allowed origin: ACAO %q", got)
	}
	resp, _ = b.get(t, "/o/demo/a.ts", "Origin", "https://evil.example")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("foreign origin: ACAO %q", got)
	}
	req, _ := http.NewRequest(http.MethodOptions, b.srv.URL+"/o/demo/a.ts", nil)
	req.Header.Set("Origin", "https://portal.corp.example")
	req.Header.Set("Access-Control-Request-Headers", "range")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusNoContent || !strings.Contains(r2.Header.Get("Access-Control-Allow-Headers"), "Range") {
		t.Errorf("preflight: %d %q", r2.StatusCode, r2.Header.Get("Access-Control-Allow-Headers"))
	}
}

func TestContentTypeFor(t *testing.T) {
	for _, tc := range []struct{ path, origin, want string }{
		{"a/b.ts", "", "video/mp2t"},
		{"a/b.ts", "application/octet-stream", "video/mp2t"},
		{"a/b.m4s", "", "video/iso.segment"},
		{"a/b.m3u8", "text/plain", "application/vnd.apple.mpegurl"},
		{"a/b.mp4", "video/mp4", "video/mp4"},
		{"a/b.bin", "", "application/octet-stream"},
		{"a/b.vtt", "", "text/vtt"},
	} {
		if got := contentTypeFor(tc.path, tc.origin); got != tc.want {
			t.Errorf("contentTypeFor(%q, %q) = %q, want %q", tc.path, tc.origin, got, tc.want)
		}
	}
}
