package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// BoxKeyFile is the name of the box key inside the data directory.
const BoxKeyFile = "box.key"

// LoadOrCreateBoxKey returns the box key kept in dir/box.key, creating it (mode
// 0600) on first start. Creation is atomic and never replaces an existing file: the
// key is written to a temporary file, synced and hard-linked into place, so a crash
// leaves either no key or a complete one, and two racing starts end with one key. A
// file that exists but does not parse is ErrCorruptKey, never a new identity.
func LoadOrCreateBoxKey(dir string) (key ed25519.PrivateKey, created bool, err error) {
	path := filepath.Join(dir, BoxKeyFile)
	key, err = LoadPrivateKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	_, key, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("generate box key: %w", err)
	}
	if err := writeKeyExclusive(path, key); err != nil {
		if errors.Is(err, fs.ErrExist) { // another start won the race: use its key
			key, err = LoadPrivateKey(path)
			return key, false, err
		}
		return nil, false, err
	}
	return key, true, nil
}

// GenerateKeyFile creates a new ed25519 key at path (mode 0600); it fails with an
// error wrapping fs.ErrExist when the file exists.
func GenerateKeyFile(path string) (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	if err := writeKeyExclusive(path, key); err != nil {
		return nil, err
	}
	return key, nil
}

// LoadPrivateKey reads a PKCS #8 PEM ed25519 private key (as written by this
// package, or `openssl genpkey -algorithm ed25519`).
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	key, err := ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	return key, nil
}

// ParsePrivateKey decodes a PKCS #8 PEM ed25519 private key.
func ParsePrivateKey(b []byte) (ed25519.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: no PRIVATE KEY PEM block", ErrCorruptKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptKey, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: not an ed25519 key", ErrCorruptKey)
	}
	return key, nil
}

func writeKeyExclusive(path string, key ed25519.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	f, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("create key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if err := os.Link(tmp, path); err != nil { // fails with EEXIST: never overwrites
		return fmt.Errorf("install key %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// EncodePublicKey is the text form of a public key: standard base64 of its 32 bytes.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey accepts the text form of EncodePublicKey (standard or URL
// base64, padded or not) or a PKIX "PUBLIC KEY" PEM block.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-----BEGIN") {
		blk, _ := pem.Decode([]byte(s))
		if blk == nil || blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%w: no PUBLIC KEY PEM block", ErrBadPublicKey)
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadPublicKey, err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: PEM holds another key type", ErrBadPublicKey)
		}
		return pub, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
			return ed25519.PublicKey(b), nil
		}
	}
	return nil, fmt.Errorf("%w: want base64 of 32 bytes", ErrBadPublicKey)
}

// LoadPublicKey parses s as a public key (ParsePublicKey) or, when it is not one,
// reads the file it names: a public key, or a private key whose public half is used.
func LoadPublicKey(s string) (ed25519.PublicKey, error) {
	if pub, err := ParsePublicKey(s); err == nil {
		return pub, nil
	}
	b, err := os.ReadFile(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is neither base64 nor a readable file: %v", ErrBadPublicKey, s, err)
	}
	if pub, err := ParsePublicKey(string(b)); err == nil {
		return pub, nil
	}
	if key, err := ParsePrivateKey(b); err == nil {
		return key.Public().(ed25519.PublicKey), nil
	}
	return nil, fmt.Errorf("%s: %w", s, ErrBadPublicKey)
}
