package demoorigin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/outpost-ecdn/outpost/tools/demoorigin"
)

var segmentNameTests = []struct {
	name string
	seq  uint64
	ok   bool
}{
	{"seg-0.ts", 0, true},
	{"seg-7.ts", 7, true},
	{"seg-1234567.ts", 1234567, true},
	{"seg-18446744073709551615.ts", 18446744073709551615, true},
	{"seg-18446744073709551616.ts", 0, false}, // overflows
	{"seg-00.ts", 0, false},
	{"seg-07.ts", 0, false},
	{"seg-+7.ts", 0, false},
	{"seg--7.ts", 0, false},
	{"seg-.ts", 0, false},
	{"seg-7.TS", 0, false},
	{"seg-7.ts.ts", 0, false},
	{"seg-7", 0, false},
	{"seg-1_000.ts", 0, false},
	{"Seg-7.ts", 0, false},
	{"", 0, false},
	{"index.m3u8", 0, false},
}

func TestParseSegmentName(t *testing.T) {
	for _, tt := range segmentNameTests {
		seq, ok := demoorigin.ParseSegmentName(tt.name)
		if seq != tt.seq || ok != tt.ok {
			t.Errorf("ParseSegmentName(%q) = %d, %v; want %d, %v", tt.name, seq, ok, tt.seq, tt.ok)
		}
	}
}

// FuzzParseSegmentName checks that accepted names are exactly the
// canonical ones: each sequence number has one URI.
func FuzzParseSegmentName(f *testing.F) {
	for _, tt := range segmentNameTests {
		f.Add(tt.name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		seq, ok := demoorigin.ParseSegmentName(name)
		if canonical := "seg-" + strconv.FormatUint(seq, 10) + ".ts"; ok != (name == canonical) {
			t.Errorf("ParseSegmentName(%q) = %d, %v", name, seq, ok)
		}
	})
}

// FuzzServeHTTP sends arbitrary request targets (the origin's network
// input: path, segment names, _HLS_msn) with a context that is already
// cancelled, so waits and endless bodies end at once. Every request must
// get a sane status, never panic except to abort on purpose, and be
// counted exactly in Stats.
func FuzzServeHTTP(f *testing.F) {
	seeds := []string{
		"/live/master.m3u8", "/live/lo/index.m3u8", "/live/lo/seg-9.ts", "/live/hi/seg-99999999999999999999.ts",
		"/live/lo/index.m3u8?_HLS_msn=10", "/live/lo/index.m3u8?_HLS_msn=-1&_HLS_part=2", "/live/lo/index.m3u8?_HLS_part=x",
		"/abs/live/lo/index.m3u8?_HLS_msn=9", "/abs/live/master.m3u8", "/vod/master.m3u8", "/vod/big/seg-3.ts",
		"/vod/lo/index.m3u8", "/fault/500/x", "/fault/reset/y", "/fault/slow/vod/lo/seg-0.ts",
		"/fault/truncate/vod/lo/seg-1.ts", "/fault/huge/x.ts", "/fault/malformed.m3u8", "/fault/notfound",
		"/fault/redirect//x", "/stats", "/stats/reset", "/../live/%2e%2e/lo/index.m3u8", "/live/lo/seg-%30.ts",
	}
	for _, tt := range segmentNameTests {
		seeds = append(seeds, "/live/lo/"+tt.name, "/vod/lo/"+tt.name)
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	needMedia(f)
	clock := &fakeClock{now: testEpoch.Add(10 * testSegment)}
	cfg := baseConfig()
	cfg.Epoch = testEpoch
	cfg.Now = clock.Now
	cfg.BlockingReload = true
	srv, err := demoorigin.New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	methods := []string{"GET", "HEAD", "POST", "PUT"}
	f.Fuzz(func(t *testing.T, method uint8, target string) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req, err := http.NewRequestWithContext(ctx, methods[int(method)%len(methods)], "http://origin.test"+target, nil)
		if err != nil || !strings.HasPrefix(req.URL.Path, "/") {
			return
		}
		before := srv.Stats()
		rec := httptest.NewRecorder()
		aborted := serveRecovering(t, srv, rec, req)
		if !aborted && (rec.Code < 200 || rec.Code > 599) {
			t.Errorf("%s %q: status %d", req.Method, target, rec.Code)
		}
		// A held blocking reload writes nothing once the client is gone.
		if rec.Code == 200 && rec.Body.Len() > 0 && req.Method == "GET" && strings.HasSuffix(req.URL.Path, ".m3u8") &&
			!strings.HasPrefix(req.URL.Path, "/fault/") && !strings.HasPrefix(rec.Body.String(), "#EXTM3U\n") {
			t.Errorf("%q: playlist body %.100q", target, rec.Body.String())
		}
		if req.URL.Path == "/stats" || req.URL.Path == "/stats/reset" {
			return
		}
		after := srv.Stats()
		if got := after.Bytes - before.Bytes; got != int64(rec.Body.Len()) {
			t.Errorf("%q: Stats counted %d bytes, recorder got %d", target, got, rec.Body.Len())
		}
	})
}

// serveRecovering serves req, treating http.ErrAbortHandler (reset and
// truncate faults) as an intended abort.
func serveRecovering(t *testing.T, h http.Handler, w http.ResponseWriter, req *http.Request) (aborted bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				t.Fatalf("%s %s: panic %v", req.Method, req.URL, v)
			}
			aborted = true
		}
	}()
	h.ServeHTTP(w, req)
	return false
}
