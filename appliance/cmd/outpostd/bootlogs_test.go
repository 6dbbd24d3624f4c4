package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/outpost-ecdn/outpost/appliance/config"
)

const logsToken = "0123456789abcdef0123"

// bootLogsBox serves mountBootLogs over a real socket with the given token and
// OUTPOST_LOG_DIR. The directory sits beside a file it must never give away.
func bootLogsBox(t *testing.T, token, logDir string) (*daemon, string) {
	t.Helper()
	t.Setenv("OUTPOST_LOG_DIR", logDir)
	d := &daemon{log: slog.New(slog.DiscardHandler)}
	d.cfg.Store(&config.Config{Diag: config.Diag{APIToken: token}})
	mux := http.NewServeMux()
	d.mountBootLogs(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return d, srv.URL
}

// logTree makes base/logs with the files the init writes, plus traps: a
// secret beside the directory, a symlink to it, a directory and a non-log file.
func logTree(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	logs := filepath.Join(base, "logs")
	files := map[string]string{
		"x.log":                "SECRET outside the log directory\n",
		"logs/init.log":        "boot 1 line 1\nboot 1 line 2\nboot 2 line 1\n",
		"logs/outpostd.log":    "serving\n",
		"logs/outpostd.log.1":  "older\n",
		"logs/notes.txt":       "not a log\n",
		"logs/sub/nested.log":  "SECRET nested\n",
		"logs/outpostd.log.2":  "SECRET not a name the init writes\n",
		"logs/UPPER.log":       "SECRET upper case\n",
		"logs/no-newline.log":  "a\nb",
		"logs/.hidden.log":     "SECRET hidden\n",
		"logs/empty.log":       "",
		"logs/partial.log.tmp": "SECRET temp\n",
	}
	for name, data := range files {
		p := filepath.Join(base, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../x.log", filepath.Join(logs, "link.log")); err != nil {
		t.Fatal(err)
	}
	return logs
}

func logsGet(t *testing.T, url, token string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// No redirects: a traversal attempt must fail here, not somewhere else.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestBootLogs(t *testing.T) {
	logs := logTree(t)
	cases := []struct {
		name     string
		token    string // configured; "" : none
		logDir   string // OUTPOST_LOG_DIR
		path     string
		send     string // bearer token sent
		code     int
		body     string // exact, or with a leading "~": contained; "mux": ServeMux's own answer, not checked
		textType bool
	}{
		{"no token configured", "", logs, "/api/v1/logs", logsToken, 403, `~set diag.api_token`, false},
		{"no token configured, file", "", logs, "/api/v1/logs/init.log", logsToken, 403, `~set diag.api_token`, false},
		{"no credentials", logsToken, logs, "/api/v1/logs", "", 401, `~missing or wrong API token`, false},
		{"wrong token", logsToken, logs, "/api/v1/logs/init.log", "0123456789abcdef0124", 401, `~missing or wrong API token`, false},
		{"token prefix only", logsToken, logs, "/api/v1/logs/init.log", "0123456789", 401, `~missing or wrong API token`, false},
		{"not in the image", logsToken, "", "/api/v1/logs", logsToken, 404, `{"error":"no log directory (not running in the Outpost image)"}` + "\n", false},
		{"not in the image, file", logsToken, "", "/api/v1/logs/init.log", logsToken, 404, `~no log directory`, false},
		{"list", logsToken, logs, "/api/v1/logs", logsToken, 200, "", false}, // checked below
		{"whole file", logsToken, logs, "/api/v1/logs/init.log", logsToken, 200, "boot 1 line 1\nboot 1 line 2\nboot 2 line 1\n", true},
		{"rotated file", logsToken, logs, "/api/v1/logs/outpostd.log.1", logsToken, 200, "older\n", true},
		{"empty file", logsToken, logs, "/api/v1/logs/empty.log", logsToken, 200, "", true},
		{"tail 2", logsToken, logs, "/api/v1/logs/init.log?tail=2", logsToken, 200, "boot 1 line 2\nboot 2 line 1\n", true},
		{"tail 1 without a final newline", logsToken, logs, "/api/v1/logs/no-newline.log?tail=1", logsToken, 200, "b", true},
		{"tail past the start", logsToken, logs, "/api/v1/logs/init.log?tail=100", logsToken, 200, "boot 1 line 1\nboot 1 line 2\nboot 2 line 1\n", true},
		{"tail 0", logsToken, logs, "/api/v1/logs/init.log?tail=0", logsToken, 400, `~tail must be`, false},
		{"tail not a number", logsToken, logs, "/api/v1/logs/init.log?tail=ten", logsToken, 400, `~tail must be`, false},
		{"missing log", logsToken, logs, "/api/v1/logs/tracker.log", logsToken, 404, `~no such log`, false},
		{"not a log name", logsToken, logs, "/api/v1/logs/notes.txt", logsToken, 400, `~log names look like`, false},
		{"rotation beyond .1", logsToken, logs, "/api/v1/logs/outpostd.log.2", logsToken, 400, `~log names look like`, false},
		{"upper case", logsToken, logs, "/api/v1/logs/UPPER.log", logsToken, 400, `~log names look like`, false},
		{"hidden", logsToken, logs, "/api/v1/logs/.hidden.log", logsToken, 400, `~log names look like`, false},
		{"symlink out of the directory", logsToken, logs, "/api/v1/logs/link.log", logsToken, 404, `~no such log`, false},
		// ServeMux answers these itself: a redirect to the cleaned /api/v1/x.log
		// (not a route), or no route at all.
		{"traversal", logsToken, logs, "/api/v1/logs/../x.log", logsToken, 307, `mux`, false},
		{"traversal, escaped dots", logsToken, logs, "/api/v1/logs/%2e%2e/x.log", logsToken, 404, `mux`, false},
		{"traversal, escaped slash", logsToken, logs, "/api/v1/logs/..%2fx.log", logsToken, 400, `~log names look like`, false},
		{"traversal, all escaped", logsToken, logs, "/api/v1/logs/%2e%2e%2fx.log", logsToken, 400, `~log names look like`, false},
		{"traversal, backslash", logsToken, logs, "/api/v1/logs/..%5cx.log", logsToken, 400, `~log names look like`, false},
		{"nested", logsToken, logs, "/api/v1/logs/sub%2fnested.log", logsToken, 400, `~log names look like`, false},
		{"nested, plain", logsToken, logs, "/api/v1/logs/sub/nested.log", logsToken, 404, `mux`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, url := bootLogsBox(t, tc.token, tc.logDir)
			code, h, body := logsGet(t, url+tc.path, tc.send)
			if strings.Contains(body, "SECRET") {
				t.Fatalf("gave away a file it must not: %q", body)
			}
			if code != tc.code {
				t.Fatalf("GET %s: %d %q, want %d", tc.path, code, body, tc.code)
			}
			if tc.body == "mux" {
				return
			}
			if want, ok := strings.CutPrefix(tc.body, "~"); ok {
				if !strings.Contains(body, want) {
					t.Fatalf("body %q, want it to contain %q", body, want)
				}
			} else if tc.name != "list" && body != tc.body {
				t.Fatalf("body %q, want %q", body, tc.body)
			}
			if tc.code == 401 && h.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if ct := h.Get("Content-Type"); tc.textType && ct != "text/plain; charset=utf-8" || !tc.textType && ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.name == "list" {
				var list []bootLog
				if err := json.Unmarshal([]byte(body), &list); err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, l := range list {
					got = append(got, fmt.Sprintf("%s %d", l.Name, l.Bytes))
					if l.Modified.IsZero() {
						t.Errorf("%s without a modification time", l.Name)
					}
				}
				want := []string{"empty.log 0", "init.log 42", "no-newline.log 3", "outpostd.log 8", "outpostd.log.1 6"}
				if d := cmp.Diff(want, got); d != "" {
					t.Fatalf("list (-want +got):\n%s", d)
				}
			}
		})
	}
}

// TestBootLogsTokenFromCurrentConfig: the token is read on every request, so
// a config reload that sets or changes it counts at once.
func TestBootLogsTokenFromCurrentConfig(t *testing.T) {
	d, url := bootLogsBox(t, "", logTree(t))
	if code, _, _ := logsGet(t, url+"/api/v1/logs", logsToken); code != 403 {
		t.Fatalf("no token configured: %d", code)
	}
	d.cfg.Store(&config.Config{Diag: config.Diag{APIToken: logsToken}})
	if code, _, _ := logsGet(t, url+"/api/v1/logs", logsToken); code != 200 {
		t.Fatalf("after setting the token: %d", code)
	}
	d.cfg.Store(&config.Config{Diag: config.Diag{APIToken: "another-token-0123456"}})
	if code, _, _ := logsGet(t, url+"/api/v1/logs", logsToken); code != 401 {
		t.Fatalf("the old token after a change: %d", code)
	}
}

// TestBootLogsReadBound: of a file past 8 MiB only the newest 8 MiB are read,
// from a line start, and the response says so.
func TestBootLogsReadBound(t *testing.T) {
	logs := t.TempDir()
	var b strings.Builder
	for i := 0; b.Len() <= logsMaxRead+logsMaxRead/8; i++ {
		fmt.Fprintf(&b, "line %07d %s\n", i, strings.Repeat("x", 100))
	}
	if err := os.WriteFile(filepath.Join(logs, "big.log"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, url := bootLogsBox(t, logsToken, logs)
	code, h, body := logsGet(t, url+"/api/v1/logs/big.log", logsToken)
	if code != 200 || len(body) > logsMaxRead || !strings.HasPrefix(body, "line ") || !strings.HasSuffix(b.String(), body) || h.Get("X-Outpost-Log-Truncated") == "" {
		t.Fatalf("big log: %d, %d bytes, starts %q, truncation header %q", code, len(body), body[:min(len(body), 20)], h.Get("X-Outpost-Log-Truncated"))
	}
	code, _, body = logsGet(t, url+"/api/v1/logs/big.log?tail=3", logsToken)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if want := strings.Join(lines[len(lines)-3:], "\n") + "\n"; code != 200 || body != want {
		t.Fatalf("tail of a big log: %d %q, want %q", code, body, want)
	}
}
