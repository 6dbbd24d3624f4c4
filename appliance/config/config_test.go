package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const minimal = `
site: branch-042
data_dir: /tmp/x
origins:
  - name: demo
    url: http://127.0.0.1:8081/
`

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":8080" || cfg.Cache.MaxBytes != 2<<30 || cfg.Cache.MemoryBytes != 64<<20 ||
		cfg.Edge.CORSOrigins[0] != "*" || cfg.Prefetch.IdleTargetDurations != 3 || cfg.Log.Level != "info" {
		t.Errorf("defaults not applied: %+v", cfg)
	}
}

func TestDefaultEmbedded(t *testing.T) {
	cfg, raw := Default()
	if cfg.Site == "" || len(cfg.Origins) != 1 || len(raw) == 0 {
		t.Fatalf("embedded default: %+v", cfg)
	}
}

func TestParseErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		name, doc, key string
	}{
		{"unknown top key", minimal + "colour: blue\n", "colour"},
		{"unknown nested key", minimal + "wan:\n  max_mpbs: 5\n", "wan.max_mpbs"},
		{"unknown origin key", "site: a\norigins:\n  - name: x\n    url: http://h/\n    urll: y\n", "origins[0].urll"},
		{"missing site", "origins:\n  - name: x\n    url: http://h/\n", "site"},
		{"empty doc", "", "site"},
		{"bad site", strings.Replace(minimal, "branch-042", "bad site!", 1), "site"},
		{"no origins", "site: a\n", "origins"},
		{"bad origin name", strings.Replace(minimal, "name: demo", "name: Demo/1", 1), "origins[0].name"},
		{"dup origin", minimal + "  - name: demo\n    url: http://h/\n", "origins[1].name"},
		{"ftp origin", strings.Replace(minimal, "http://127", "ftp://127", 1), "origins[0].url"},
		{"origin with query", strings.Replace(minimal, "8081/", "8081/?a=b", 1), "origins[0].url"},
		{"negative mbps", minimal + "wan:\n  max_mbps: -1\n", "wan.max_mbps"},
		{"mbps not a number", minimal + "wan:\n  max_mbps: fast\n", "wan.max_mbps"},
		{"bad size", minimal + "cache:\n  max_bytes: lots\n", "cache.max_bytes"},
		{"tiny cache", minimal + "cache:\n  max_bytes: 1KiB\n", "cache.max_bytes"},
		{"listen no port", minimal + "listen: localhost\n", "listen"},
		{"tls without cert", minimal + "tls:\n  listen: :8443\n", "tls.cert_file"},
		{"bad cors", minimal + "edge:\n  cors_origins: [portal]\n", "edge.cors_origins[0]"},
		{"bad level", minimal + "log:\n  level: loud\n", "log.level"},
		{"wan not a map", minimal + "wan: 5\n", "wan"},
		{"duplicate key", minimal + "site: again\n", "site"},
		{"shaper without link rate", minimal + "wan:\n  interface: wan0\n  max_mbps: 10\n", "wan.link_mbps"},
		{"video cap above link", minimal + "wan:\n  interface: wan0\n  max_mbps: 100\n  link_mbps: 50\n", "wan.max_mbps"},
		{"short api token", minimal + "diag:\n  api_token: abc\n", "diag.api_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatal("no error")
			}
			var ke *KeyError
			if !errors.As(err, &ke) {
				t.Fatalf("error %v is not a KeyError", err)
			}
			if ke.Key != tc.key {
				t.Errorf("key = %q, want %q (error: %v)", ke.Key, tc.key, err)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Errorf("message %q does not name %q", err, tc.key)
			}
		})
	}
}

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		bad  bool
	}{
		{"1048576", 1 << 20, false},
		{"1MiB", 1 << 20, false},
		{"1.5GiB", 3 << 29, false},
		{"10GB", 10e9, false},
		{"512 MiB", 512 << 20, false},
		{"2G", 2 << 30, false},
		{"-1", 0, true},
		{"MiB", 0, true},
		{"1PiB", 0, true},
		{"99999999999TB", 0, true},
	} {
		got, err := ParseByteSize(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, bad=%v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestLoadNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(minimal+"bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("Load error = %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("missing file: no error")
	}
}

func TestNeedsRestart(t *testing.T) {
	a, _ := Parse([]byte(minimal))
	b, _ := Parse([]byte(minimal + "listen: :9090\nwan:\n  max_mbps: 10\n"))
	got := a.NeedsRestart(b)
	if len(got) != 1 || got[0] != "listen" {
		t.Errorf("NeedsRestart = %v, want [listen]", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	_, raw := Default()
	f.Add(raw)
	f.Add([]byte("site: a\norigins: [{name: x, url: 'http://h/'}]\ncache: {max_bytes: 1GiB}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := Parse(b)
		if err == nil && cfg.Validate() != nil {
			t.Fatal("Parse accepted a config that Validate rejects")
		}
	})
}

// TestRunConfig: `make run`'s config (tools/run/outpostd.yaml) is the embedded
// default plus TLS and the peer broker, so the two cannot drift apart.
func TestRunConfig(t *testing.T) {
	run, err := Load(filepath.Join("..", "..", "tools", "run", "outpostd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !run.Tracker.Enabled || !run.SuperPeer.Enabled || run.TLS.Listen == "" {
		t.Fatalf("run config lacks the tracker, the super-peer or TLS: %+v", run)
	}
	def, _ := Default()
	run.TLS, run.LAN, run.Tracker, run.SuperPeer = def.TLS, def.LAN, def.Tracker, def.SuperPeer
	if d := cmp.Diff(def, run); d != "" {
		t.Fatalf("tools/run/outpostd.yaml differs from the embedded default beyond tls/lan/tracker/superpeer (-default +run):\n%s", d)
	}
}
