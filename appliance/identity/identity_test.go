package identity

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestBoxKeyCreatedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	k1, created, err := LoadOrCreateBoxKey(dir)
	if err != nil || !created {
		t.Fatalf("first start: created=%v err=%v", created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, BoxKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", fi.Mode().Perm())
	}
	k2, created, err := LoadOrCreateBoxKey(dir)
	if err != nil || created {
		t.Fatalf("second start: created=%v err=%v", created, err)
	}
	if !k1.Equal(k2) {
		t.Fatal("second start returned another key")
	}
	if _, err := GenerateKeyFile(filepath.Join(dir, BoxKeyFile)); !errors.Is(err, os.ErrExist) {
		t.Fatalf("GenerateKeyFile over an existing key: %v, want ErrExist", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".key-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestCorruptBoxKeyIsAnErrorNotANewIdentity(t *testing.T) {
	for _, tc := range []struct{ name, content string }{
		{"empty", ""},
		{"garbage", "not a key\n"},
		{"truncated PEM", "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n"},
		{"public key PEM", "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, BoxKeyFile)
			os.WriteFile(path, []byte(tc.content), 0o600)
			_, created, err := LoadOrCreateBoxKey(dir)
			if !errors.Is(err, ErrCorruptKey) || created {
				t.Fatalf("created=%v err=%v, want ErrCorruptKey", created, err)
			}
			if b, _ := os.ReadFile(path); string(b) != tc.content {
				t.Fatal("corrupt key file was modified")
			}
		})
	}
}

func TestParsePublicKey(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	pub := priv.Public().(ed25519.PublicKey)
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"std base64", EncodePublicKey(pub), true},
		{"with newline", EncodePublicKey(pub) + "\n", true},
		{"rfc8410 PEM", "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n", true},
		{"short", "AAAA", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePublicKey(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("err=%v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadPublicKey) {
				t.Fatalf("err=%v, want ErrBadPublicKey", err)
			}
		})
	}
}

func TestCertificateVerify(t *testing.T) {
	_, site, _ := ed25519.GenerateKey(nil)
	_, foreign, _ := ed25519.GenerateKey(nil)
	_, box, _ := ed25519.GenerateKey(nil)
	sitePub := site.Public().(ed25519.PublicKey)
	boxPub := box.Public().(ed25519.PublicKey)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	good, err := Issue(site, boxPub, "box-a", "branch-042", now, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip := func(c *Certificate) *Certificate {
		t.Helper()
		out, err := ParseCertificateText(c.String())
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		return out
	}
	tampered := roundTrip(good)
	tampered.BoxID = "box-b"
	otherKey := roundTrip(good)
	otherKey.BoxKey = sitePub
	byForeign, _ := Issue(foreign, boxPub, "box-a", "branch-042", now, time.Hour)
	otherSite, _ := Issue(site, boxPub, "box-a", "branch-007", now, time.Hour)
	for _, tc := range []struct {
		name string
		cert *Certificate
		at   time.Time
		want error
	}{
		{"valid", roundTrip(good), now, nil},
		{"valid near the end", roundTrip(good), now.Add(30*24*time.Hour - time.Second), nil},
		{"expired", roundTrip(good), now.Add(30 * 24 * time.Hour), ErrExpired},
		{"not yet valid", roundTrip(good), now.Add(-2 * time.Hour), ErrNotYetValid},
		{"signed by a foreign site key", roundTrip(byForeign), now, ErrBadSignature},
		{"another site id", roundTrip(otherSite), now, ErrWrongSite},
		{"box id changed", tampered, now, ErrBadSignature},
		{"box key swapped", otherKey, now, ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cert.Verify(sitePub, "branch-042", tc.at)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	if n := len(good.String()); n > 250 {
		t.Errorf("text form of a short-id certificate is %d bytes; want it to fit one TXT string", n)
	}
}

func TestIssueRejectsBadIDs(t *testing.T) {
	_, site, _ := ed25519.GenerateKey(nil)
	pub := site.Public().(ed25519.PublicKey)
	for _, id := range []string{"", "-x", "a b", string(bytes.Repeat([]byte("a"), 64))} {
		if _, err := Issue(site, pub, id, "s", time.Now(), time.Hour); !errors.Is(err, ErrBadID) {
			t.Errorf("box id %q: %v, want ErrBadID", id, err)
		}
	}
}

func TestParseCertificateMalformed(t *testing.T) {
	_, site, _ := ed25519.GenerateKey(nil)
	c, _ := Issue(site, site.Public().(ed25519.PublicKey), "b", "s", time.Unix(1e9, 0), time.Hour)
	good := c.Marshal()
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(append([]byte(nil), good...), 0)},
		{"bad magic", append([]byte("OPC2"), good[4:]...)},
		{"site length past end", func() []byte { b := append([]byte(nil), good...); b[52] = 200; return b }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseCertificate(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err=%v, want ErrMalformed", err)
			}
		})
	}
}

func FuzzParseCertificate(f *testing.F) {
	_, site, _ := ed25519.GenerateKey(nil)
	c, _ := Issue(site, site.Public().(ed25519.PublicKey), "box-a", "branch-042", time.Unix(1.7e9, 0), time.Hour)
	f.Add(c.Marshal())
	f.Add([]byte("OPC1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCertificate(b)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Marshal(), b) {
			t.Fatalf("re-encoding differs")
		}
		_ = c.Verify(site.Public().(ed25519.PublicKey), "branch-042", time.Unix(1.7e9, 0))
	})
}
