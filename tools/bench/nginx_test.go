package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestRenderNginxGolden(t *testing.T) {
	got, err := RenderNginx(NginxConfig{Prefix: "/tmp/bench-edge/nginx", Listen: "127.0.0.1:8090", Origin: "127.0.0.1:8081"})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "nginx.conf.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("nginx.conf (-golden +got), run with -update if intended:\n%s", diff)
	}
}

func TestRenderNginx(t *testing.T) {
	base := NginxConfig{Prefix: "/tmp/p", Listen: "127.0.0.1:8090", Origin: "127.0.0.1:8081"}
	tests := []struct {
		name    string
		mod     func(*NginxConfig)
		want    []string // lines the config must contain
		wantErr error
	}{
		{name: "defaults", mod: func(*NginxConfig) {}, want: []string{
			"worker_processes auto;", "listen 127.0.0.1:8090 backlog=4096 reuseport;", "server 127.0.0.1:8081;",
			"proxy_cache_lock on;", "proxy_cache_lock_timeout 5s;", "proxy_cache_valid 200 1s;", "proxy_cache_valid 200 10m;",
			"location /o/demo/ {", "proxy_cache_use_stale updating", "keepalive 64;", "sendfile on;", "open_file_cache max=",
			"pid /tmp/p/nginx.pid;", "daemon off;", "proxy_temp_path /tmp/p/tmp/proxy;",
		}},
		{name: "IPv6 loopback and tuning", mod: func(c *NginxConfig) {
			c.Listen, c.OriginName, c.PlaylistValid, c.Workers = "[::1]:9000", "cdn", "500ms", "2"
		}, want: []string{"listen [::1]:9000 ", "location /o/cdn/ {", "proxy_cache_valid 200 500ms;", "worker_processes 2;"}},
		{name: "public listen address", mod: func(c *NginxConfig) { c.Listen = "0.0.0.0:8090" }, wantErr: ErrNotLoopback},
		{name: "host name listen address", mod: func(c *NginxConfig) { c.Listen = "localhost:8090" }, wantErr: ErrNotLoopback},
		{name: "relative prefix", mod: func(c *NginxConfig) { c.Prefix = "p" }, wantErr: ErrConfig},
		{name: "prefix with a semicolon", mod: func(c *NginxConfig) { c.Prefix = "/tmp/p;evil" }, wantErr: ErrConfig},
		{name: "origin name injection", mod: func(c *NginxConfig) { c.OriginName = "demo/ { return 200; }" }, wantErr: ErrConfig},
		{name: "origin host name", mod: func(c *NginxConfig) { c.Origin = "origin.example:80" }, wantErr: ErrConfig},
		{name: "bad validity", mod: func(c *NginxConfig) { c.SegmentValid = "10 m" }, wantErr: ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.mod(&c)
			got, err := RenderNginx(c)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("RenderNginx: %v, want %v", err, tt.wantErr)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(got), w) {
					t.Errorf("config lacks %q", w)
				}
			}
		})
	}
}

func nginxBin(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if bin, err := exec.LookPath(p); err == nil {
			return bin
		}
	}
	t.Skip("nginx not installed")
	return ""
}

// nginxPrefix returns a fresh prefix that nginx workers running as nobody can reach
// (t.TempDir's parent is private to the test's user).
func nginxPrefix(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bench-nginx-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestNginxEdge starts the rendered nginx in front of an httptest origin and checks the
// URL mapping, the cache and the request coalescing.
func TestNginxEdge(t *testing.T) {
	bin := nginxBin(t)
	defer goleak.VerifyNone(t)
	var (
		mu   sync.Mutex
		hits = map[string]int{}
	)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		switch {
		case strings.HasSuffix(r.URL.Path, ".m3u8"):
			io.WriteString(w, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg-1.ts\n")
		case strings.HasSuffix(r.URL.Path, ".ts"):
			time.Sleep(50 * time.Millisecond) // so concurrent misses overlap
			w.Header().Set("Cache-Control", "no-store")
			w.Write(make([]byte, 100_000))
		default:
			http.NotFound(w, r)
		}
	}))
	defer origin.Close()

	prefix := nginxPrefix(t)
	listen, err := FreeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	conf, err := RenderNginx(NginxConfig{Prefix: prefix, Listen: listen, Origin: strings.TrimPrefix(origin.URL, "http://"), Workers: "1"})
	if err != nil {
		t.Fatal(err)
	}
	ng, err := StartNginx(bin, prefix, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer ng.Stop(5 * time.Second)
	edge := "http://" + listen
	if err := ng.WaitHTTP(t.Context(), edge+"/o/demo/live/index.m3u8", 10*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
		t.Fatalf("%v\n%s", err, log[max(0, len(log)-2000):])
	}

	// Eight concurrent misses on one segment (Cache-Control: no-store is ignored).
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			resp, err := http.Get(edge + "/o/demo/live/seg-1.ts")
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			n, err := io.Copy(io.Discard, resp.Body)
			if err == nil && (resp.StatusCode != http.StatusOK || n != 100_000) {
				err = fmt.Errorf("status %s, %d bytes", resp.Status, n)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	resp, err := http.Get(edge + "/o/demo/live/seg-1.ts")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := resp.Header.Get("X-Cache-Status"); got != "HIT" {
		t.Errorf("X-Cache-Status = %q, want HIT", got)
	}
	resp, err = http.Get(edge + "/elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /elsewhere = %s, want 404", resp.Status)
	}
	mu.Lock()
	defer mu.Unlock()
	if hits["/live/seg-1.ts"] != 1 || hits["/live/index.m3u8"] != 1 || len(hits) != 2 {
		t.Errorf("origin hits = %v, want one per object under the mapped path", hits)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestStartNginxBadConfig(t *testing.T) {
	bin := nginxBin(t)
	prefix := nginxPrefix(t)
	ng, err := StartNginx(bin, prefix, []byte("daemon off; error_log stderr; events {} http { nonsense; }\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer ng.Stop(time.Second)
	err = ng.WaitHTTP(t.Context(), "http://127.0.0.1:1/", 10*time.Second)
	if !errors.Is(err, ErrExited) {
		t.Errorf("WaitHTTP: %v, want ErrExited", err)
	}
}

func TestStartNginxUnreachablePrefix(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root's nginx drops to nobody")
	}
	parent := t.TempDir()
	if err := os.Chmod(parent, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := StartNginx("/nonexistent/nginx", filepath.Join(parent, "nginx"), nil)
	if !errors.Is(err, ErrConfig) {
		t.Errorf("StartNginx: %v, want ErrConfig", err)
	}
}
