package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const token = "t0ken"

// pcapBytes is a pcap file header and one 60-byte packet record.
var pcapBytes = append([]byte{
	0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 60, 0, 0, 0}, make([]byte, 60)...)

// fakeBox answers like the daemon's diagnostics API and records the requests.
func fakeBox(t *testing.T) (*httptest.Server, *[]*http.Request) {
	var reqs []*http.Request
	mux := http.NewServeMux()
	auth := func(next http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			reqs = append(reqs, r)
			if r.Header.Get("Authorization") != "Bearer "+token {
				http.Error(w, "missing or wrong API token", http.StatusUnauthorized)
				return
			}
			next(w, r)
		}
	}
	mux.HandleFunc("GET "+apiPrefix+"/capture", auth(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Query().Get("filter"), "bogus") {
			http.Error(w, "bad filter at column 1: unknown keyword \"bogus\"", http.StatusBadRequest)
			return
		}
		w.Header().Set("Trailer", "X-Capture-Packets, X-Capture-Stop, X-Capture-Kernel-Drops")
		w.Header().Set("Content-Type", "application/vnd.tcpdump.pcap")
		w.Write(pcapBytes)
		w.Header().Set("X-Capture-Packets", "1")
		w.Header().Set("X-Capture-Stop", "packets")
		w.Header().Set("X-Capture-Kernel-Drops", "0")
	}))
	mux.HandleFunc("GET "+apiPrefix+"/top", auth(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"interface":"wan0","window_seconds":60,"bytes":3100000,"packets":2100,"running":true,
			"lan_hosts":[{"name":"10.0.0.1","bytes":3000000,"packets":2000,"bits_per_second":400000}],
			"remote_services":[{"name":"203.0.113.5:443/tcp","bytes":3100000,"packets":2100,"bits_per_second":413333}]}`))
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &reqs
}

func runCmd(t *testing.T, envs map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(k string) string { return envs[k] }, client: &http.Client{}}
	code := run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

func TestCapture(t *testing.T) {
	srv, reqs := fakeBox(t)
	path := filepath.Join(t.TempDir(), "out.pcap")
	code, _, stderr := runCmd(t, map[string]string{"OUTPOST_TOKEN": token},
		"capture", "-box", srv.URL+"/", "-iface", "wan0", "-filter", "host 10.0.0.1 and tcp port 443", "-seconds", "3", "-max-packets", "5", "-o", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, pcapBytes) {
		t.Fatalf("file: %v, %d bytes", err, len(got))
	}
	q := (*reqs)[0].URL.Query()
	if q.Get("iface") != "wan0" || q.Get("filter") != "host 10.0.0.1 and tcp port 443" || q.Get("seconds") != "3" ||
		q.Get("max_packets") != "5" || q.Has("max_bytes") || q.Has("snaplen") {
		t.Errorf("query %v", q)
	}
	if !strings.Contains(stderr, "1 packets") || !strings.Contains(stderr, "stopped by packets") {
		t.Errorf("summary %q", stderr)
	}
	if files, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".outpostctl-*")); len(files) != 0 {
		t.Errorf("temporary files left: %v", files)
	}
}

func TestCaptureToStdoutWithTokenFile(t *testing.T) {
	srv, _ := fakeBox(t)
	tf := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tf, []byte(token+"\n"), 0o600)
	code, stdout, stderr := runCmd(t, map[string]string{"OUTPOST_BOX": srv.URL}, "capture", "-token-file", tf, "-o", "-")
	if code != 0 || stdout != string(pcapBytes) {
		t.Fatalf("exit %d, %d bytes on stdout: %s", code, len(stdout), stderr)
	}
}

func TestCaptureErrors(t *testing.T) {
	srv, _ := fakeBox(t)
	dir := t.TempDir()
	cases := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"wrong token", nil, []string{"capture", "-box", srv.URL, "-token", "nope", "-o", filepath.Join(dir, "a.pcap")}, 1, "401 Unauthorized: missing or wrong API token"},
		{"bad filter", nil, []string{"capture", "-box", srv.URL, "-token", token, "-filter", "bogus", "-o", filepath.Join(dir, "b.pcap")}, 1, `unknown keyword "bogus"`},
		{"no output", nil, []string{"capture", "-box", srv.URL, "-token", token}, 2, "-o FILE is required"},
		{"no box", nil, []string{"capture", "-token", token, "-o", "x"}, 1, "no box"},
		{"no token", nil, []string{"capture", "-box", srv.URL, "-o", "x"}, 1, "no API token"},
		{"bad box url", nil, []string{"capture", "-box", "box.branch", "-token", token, "-o", "x"}, 1, "want an http"},
		{"unknown flag", nil, []string{"capture", "-frobnicate"}, 2, "flag provided but not defined"},
		{"stray argument", nil, []string{"capture", "-o", "x", "extra"}, 2, "unexpected arguments"},
		{"unknown command", nil, []string{"reboot"}, 2, `unknown command "reboot"`},
		{"no command", nil, nil, 2, "commands:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, tc.env, tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("failed captures left files: %v", files)
	}
}

func TestTop(t *testing.T) {
	srv, reqs := fakeBox(t)
	code, stdout, stderr := runCmd(t, map[string]string{"OUTPOST_TOKEN": token}, "top", "-box", srv.URL, "-n", "5")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"WAN top talkers on wan0, last 60 s: 3.1 MB in 2100 packets", "10.0.0.1", "3.0 MB",
		"400.0 kbit/s", "REMOTE SERVICE", "203.0.113.5:443/tcp"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if (*reqs)[0].URL.Query().Get("n") != "5" {
		t.Errorf("n not passed: %v", (*reqs)[0].URL)
	}
	code, stdout, _ = runCmd(t, map[string]string{"OUTPOST_TOKEN": token}, "top", "-box", srv.URL, "-json")
	if code != 0 || !strings.HasPrefix(stdout, `{"interface":"wan0"`) {
		t.Errorf("-json: exit %d, %q", code, stdout)
	}
}

// TestCommandTable keeps the subcommand table well-formed for the commands other
// engineers add.
func TestCommandTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range commands {
		if c.name == "" || c.summary == "" || c.run == nil || seen[c.name] {
			t.Errorf("bad or duplicate command %+v", c)
		}
		seen[c.name] = true
	}
}
