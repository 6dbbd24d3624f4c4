package demoorigin_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/outpost-ecdn/outpost/tools/demoorigin"
	"go.uber.org/goleak"
)

var (
	// tempRoot is this test binary's scratch directory.
	tempRoot string
	// prepareOnce encodes the media shared by all tests of this binary,
	// on first use, so tests and fuzz targets that need none start at once.
	prepareOnce sync.Once
	// mediaDir holds the shared encode once prepared.
	mediaDir string
	// ffmpegMissing explains why media tests skip.
	ffmpegMissing string
	prepareErr    error
)

// Tiny renditions keep the one encode per test binary around a second.
var (
	lo  = demoorigin.Rendition{Name: "lo", Width: 160, Height: 90, VideoKbps: 100, AudioKbps: 32}
	hi  = demoorigin.Rendition{Name: "hi", Width: 320, Height: 180, VideoKbps: 300}
	big = demoorigin.Rendition{Name: "big", Width: 320, Height: 180, VideoKbps: 2000}
)

const (
	testSegment = time.Second
	testClip    = 4
	testWindow  = 3
)

// testEpoch is the live epoch of tests with a fake clock.
var testEpoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func baseConfig() demoorigin.Config {
	return demoorigin.Config{
		MediaDir:        mediaDir,
		SegmentDuration: testSegment,
		ClipSegments:    testClip,
		Window:          testWindow,
		Renditions:      []demoorigin.Rendition{lo, hi},
		VODRenditions:   []demoorigin.Rendition{lo, big},
	}
}

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "demoorigin-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		tempRoot = dir
		return m.Run()
	}()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// needMedia prepares the shared media once, or skips t when ffmpeg is
// missing.
func needMedia(t testing.TB) {
	t.Helper()
	prepareOnce.Do(func() {
		if _, err := exec.LookPath("ffmpeg"); err != nil {
			ffmpegMissing = "ffmpeg not installed (apt-get install ffmpeg); CI installs it"
			return
		}
		mediaDir = filepath.Join(tempRoot, "media")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		prepareErr = demoorigin.Prepare(ctx, baseConfig(), "")
	})
	if ffmpegMissing != "" {
		t.Skip(ffmpegMissing)
	}
	if prepareErr != nil {
		t.Fatalf("prepare test media: %v", prepareErr)
	}
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// newOrigin returns a server on a fake clock at testEpoch, adjusted by mod,
// behind a loopback httptest server.
func newOrigin(t *testing.T, mod func(*demoorigin.Config)) (*demoorigin.Server, *httptest.Server, *fakeClock) {
	t.Helper()
	needMedia(t)
	clock := &fakeClock{now: testEpoch}
	cfg := baseConfig()
	cfg.Epoch = testEpoch
	cfg.Now = clock.Now
	if mod != nil {
		mod(&cfg)
	}
	srv, err := demoorigin.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts, clock
}

// response is a fetched response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// fetch does method on url and reads the whole body.
func fetch(t testing.TB, method, url string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// get fetches url and fails t unless the status is want.
func get(t testing.TB, url string, want int) response {
	t.Helper()
	r := fetch(t, http.MethodGet, url)
	if r.status != want {
		t.Fatalf("GET %s: status %d, want %d (body %.200q)", url, r.status, want, r.body)
	}
	return r
}

// leakGuard fails t if goroutines started during it outlive it; register
// it first so it runs after the other cleanups.
func leakGuard(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}
