package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/identity"
)

func TestCertIssueFlow(t *testing.T) {
	dir := t.TempDir()
	siteKey := filepath.Join(dir, "site.key")
	boxDir := filepath.Join(dir, "box")
	os.Mkdir(boxDir, 0o700)
	certPath := filepath.Join(dir, "box.cert")
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := runCert(args, &out); err != nil {
			t.Fatalf("cert %v: %v", args, err)
		}
		return strings.TrimSpace(out.String())
	}
	sitePub := run("site-key", "-out", siteKey)
	if err := runCert([]string{"site-key", "-out", siteKey}, &bytes.Buffer{}); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second site-key over the same file: %v, want ErrExist", err)
	}
	if err := runCert([]string{"box-pub", "-data-dir", boxDir}, &bytes.Buffer{}); err == nil {
		t.Fatal("box-pub without a key and without -create succeeded")
	}
	boxPub := run("box-pub", "-data-dir", boxDir, "-create")
	if again := run("box-pub", "-data-dir", boxDir); again != boxPub {
		t.Fatalf("box key changed: %s then %s", boxPub, again)
	}
	run("issue", "-site-key", siteKey, "-box-pub", boxPub, "-box-id", "box-a", "-site", "branch-042", "-days", "30", "-out", certPath)
	if out := run("show", "-cert", certPath, "-site-pub", sitePub); !strings.Contains(out, "verified") {
		t.Fatalf("show: %s", out)
	}
	c, err := identity.ReadCertificate(certPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := identity.ParsePublicKey(sitePub)
	if err := c.Verify(pub, "branch-042", time.Now()); err != nil {
		t.Fatal(err)
	}
	key, _, _ := identity.LoadOrCreateBoxKey(boxDir)
	if !c.BoxKey.Equal(key.Public()) {
		t.Fatal("certificate is for another key")
	}
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"issue", "-site-key", siteKey},
		{"issue", "-site-key", siteKey, "-box-pub", "nope", "-box-id", "b", "-site", "s", "-out", certPath},
		{"show", "-cert", certPath, "-site-pub", boxPub},
	} {
		if err := runCert(args, &bytes.Buffer{}); err == nil {
			t.Errorf("cert %v succeeded", args)
		}
	}
}
