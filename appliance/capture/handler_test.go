package capture

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const testToken = "s3cret-token"

func newTestServer(t *testing.T, cfg HandlerConfig) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("/api/v1/diag/", http.StripPrefix("/api/v1/diag", Handler(cfg)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, path, token string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestHandlerAuthAndErrors(t *testing.T) {
	frames := frameN(t, 3)
	cases := []struct {
		name     string
		cfg      HandlerConfig
		path     string
		token    string
		openErr  error
		wantCode int
		wantBody string
	}{
		{"no token configured", HandlerConfig{}, "/capture?iface=wan0", testToken, nil, 403, "disabled"},
		{"no credentials", HandlerConfig{Token: testToken}, "/capture?iface=wan0", "", nil, 401, "API token"},
		{"wrong token", HandlerConfig{Token: testToken}, "/capture?iface=wan0", "s3cret-tokeN", nil, 401, "API token"},
		{"top needs token too", HandlerConfig{Token: testToken}, "/top", "nope", nil, 401, "API token"},
		{"bad filter", HandlerConfig{Token: testToken}, "/capture?iface=wan0&filter=" + url.QueryEscape("tcp port x"), testToken, nil, 400, "column 10"},
		{"bad seconds", HandlerConfig{Token: testToken}, "/capture?iface=wan0&seconds=ten", testToken, nil, 400, "seconds"},
		{"seconds over max", HandlerConfig{Token: testToken}, "/capture?iface=wan0&seconds=301", testToken, nil, 400, "seconds"},
		{"max_bytes over max", HandlerConfig{Token: testToken}, fmt.Sprintf("/capture?iface=wan0&max_bytes=%d", MaxBytes+1), testToken, nil, 400, "max_bytes"},
		{"iface missing", HandlerConfig{Token: testToken}, "/capture", testToken, nil, 400, "iface"},
		{"iface not allowed", HandlerConfig{Token: testToken, Interfaces: []string{"wan0"}}, "/capture?iface=lan0", testToken, nil, 403, "not allowed"},
		{"no such interface", HandlerConfig{Token: testToken}, "/capture?iface=nope0", testToken, fmt.Errorf("%w: nope0", ErrNoInterface), 404, "no such interface"},
		{"not root", HandlerConfig{Token: testToken}, "/capture?iface=wan0", testToken, fmt.Errorf("open: %w", ErrPermission), 503, "CAP_NET_RAW"},
		{"internal error hidden", HandlerConfig{Token: testToken}, "/capture?iface=wan0", testToken, fmt.Errorf("setsockopt: secret detail"), 500, "capture failed"},
		{"top disabled", HandlerConfig{Token: testToken}, "/top", testToken, nil, 404, "not enabled"},
		{"ok", HandlerConfig{Token: testToken}, "/capture?iface=wan0&max_packets=2", testToken, nil, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			useFakeSource(t, newFakeSource(frames...), tc.openErr)
			srv := newTestServer(t, tc.cfg)
			resp, body := get(t, srv, "/api/v1/diag"+tc.path, tc.token)
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, tc.wantCode)
			}
			if !strings.Contains(body, tc.wantBody) {
				t.Errorf("body %q lacks %q", body, tc.wantBody)
			}
			if strings.Contains(body, "secret detail") {
				t.Error("internal error text leaked to the client")
			}
			if tc.wantCode == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestHandlerStreamsPcap(t *testing.T) {
	frames := frameN(t, 5)
	opts := useFakeSource(t, newFakeSource(frames...), nil)
	srv := newTestServer(t, HandlerConfig{Token: testToken, DefaultInterface: "wan0"})
	q := url.Values{"filter": {"udp"}, "seconds": {"2"}, "max_packets": {"4"}, "max_bytes": {"100000"}, "snaplen": {"200"}}
	resp, body := get(t, srv, "/api/v1/diag/capture?"+q.Encode(), testToken)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.tcpdump.pcap" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="outpost-wan0-`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	if got, want := *opts, (Options{Interface: "wan0", Filter: "udp", Duration: 2 * time.Second, MaxPackets: 4,
		MaxBytes: 100000, Snaplen: 200}); got != want {
		t.Errorf("Open got options %+v, want %+v", got, want)
	}
	r, pkts := readPcap(t, []byte(body))
	if len(pkts) != 4 || r.Snaplen() != 200 {
		t.Errorf("pcap: %d packets, snaplen %d; want 4, 200", len(pkts), r.Snaplen())
	}
	if resp.Trailer.Get("X-Capture-Packets") != "4" || resp.Trailer.Get("X-Capture-Stop") != "packets" {
		t.Errorf("trailers %v", resp.Trailer)
	}
}

func TestHandlerOneCaptureAtATime(t *testing.T) {
	src := newFakeSource()
	useFakeSource(t, src, nil)
	srv := newTestServer(t, HandlerConfig{Token: testToken})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/diag/capture?iface=wan0&max_packets=1&seconds=60", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	first, err := srv.Client().Do(req) // returns once headers are flushed: the capture runs
	if err != nil {
		t.Fatal(err)
	}
	defer first.Body.Close()
	resp, body := get(t, srv, "/api/v1/diag/capture?iface=wan0", testToken)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("second capture: status %d (%q), want 429", resp.StatusCode, body)
	}
	src.more <- frameN(t, 1)[0] // the first capture reaches max_packets and ends
	if _, err := io.ReadAll(first.Body); err != nil {
		t.Fatal(err)
	}
	if first.Trailer.Get("X-Capture-Stop") != "packets" {
		t.Errorf("first capture trailers %v", first.Trailer)
	}
}

func TestHandlerTop(t *testing.T) {
	now := time.Unix(1700000000, 0)
	top := &TopTalkers{Interface: "wan0", Now: func() time.Time { return now }}
	f := buildFrame(t, frameSpec{proto: "tcp", src: "10.0.0.1", dst: "203.0.113.5", sport: 40000, dport: 443})
	top.Observe(f, 1000, now.Add(-time.Second))
	srv := newTestServer(t, HandlerConfig{Token: testToken, Top: top})
	resp, body := get(t, srv, "/api/v1/diag/top?n=5", testToken)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got Top
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.LANHosts) != 1 || got.LANHosts[0].Name != "10.0.0.1" || got.Services[0].Name != "203.0.113.5:443/tcp" {
		t.Errorf("top = %+v", got)
	}
	if resp, _ := get(t, srv, "/api/v1/diag/top?n=0", testToken); resp.StatusCode != 400 {
		t.Errorf("n=0: status %d, want 400", resp.StatusCode)
	}
}

func TestSecretRedacts(t *testing.T) {
	s := Secret("hunter2")
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("cfg", "token", s)
	if out := b.String() + fmt.Sprintf("%v %s", s, s); strings.Contains(out, "hunter2") {
		t.Errorf("secret leaked: %s", out)
	}
}
