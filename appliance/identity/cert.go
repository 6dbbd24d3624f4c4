package identity

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// certMagic opens every encoded certificate (format version 1).
const certMagic = "OPC1"

// certContext separates certificate signatures from every other ed25519 signature
// made with a site key.
const certContext = "outpost box certificate\x00"

// MaxCertificateSize bounds an encoded certificate (two 63-byte ids).
const MaxCertificateSize = len(certMagic) + ed25519.PublicKeySize + 16 + 2 + 2*63 + ed25519.SignatureSize

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ValidID reports whether s can be a box or site id: 1-63 letters, digits, '.',
// '_' or '-', starting with a letter or digit (the config's site id rule).
func ValidID(s string) bool { return idRE.MatchString(s) }

// Certificate is a site key's statement that BoxKey belongs to box BoxID of site
// SiteID between NotBefore and NotAfter (whole seconds, UTC).
type Certificate struct {
	BoxKey    ed25519.PublicKey
	BoxID     string
	SiteID    string
	NotBefore time.Time
	NotAfter  time.Time
	Signature []byte
}

// Issue signs a certificate for boxKey with siteKey, valid from now for validity.
func Issue(siteKey ed25519.PrivateKey, boxKey ed25519.PublicKey, boxID, siteID string, now time.Time, validity time.Duration) (*Certificate, error) {
	if !ValidID(boxID) {
		return nil, fmt.Errorf("issue: box id %q: %w", boxID, ErrBadID)
	}
	if !ValidID(siteID) {
		return nil, fmt.Errorf("issue: site id %q: %w", siteID, ErrBadID)
	}
	if len(boxKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("issue: %w", ErrBadPublicKey)
	}
	if validity <= 0 {
		return nil, fmt.Errorf("issue: validity must be positive")
	}
	c := &Certificate{BoxKey: boxKey, BoxID: boxID, SiteID: siteID,
		NotBefore: now.Add(-time.Hour).Truncate(time.Second).UTC(), // tolerate clock skew between boxes
		NotAfter:  now.Add(validity).Truncate(time.Second).UTC()}
	c.Signature = ed25519.Sign(siteKey, c.signed())
	return c, nil
}

func (c *Certificate) body() []byte {
	b := make([]byte, 0, MaxCertificateSize)
	b = append(b, certMagic...)
	b = append(b, c.BoxKey...)
	b = binary.BigEndian.AppendUint64(b, uint64(c.NotBefore.Unix()))
	b = binary.BigEndian.AppendUint64(b, uint64(c.NotAfter.Unix()))
	b = append(b, byte(len(c.SiteID)))
	b = append(b, c.SiteID...)
	b = append(b, byte(len(c.BoxID)))
	b = append(b, c.BoxID...)
	return b
}

func (c *Certificate) signed() []byte { return append([]byte(certContext), c.body()...) }

// Marshal encodes the certificate: "OPC1", box key, not-before and not-after (int64
// Unix seconds, big endian), site id and box id (each a length byte and the bytes),
// signature. At most MaxCertificateSize bytes.
func (c *Certificate) Marshal() []byte { return append(c.body(), c.Signature...) }

// String is the text form: standard base64 of Marshal.
func (c *Certificate) String() string { return base64.StdEncoding.EncodeToString(c.Marshal()) }

// ParseCertificate decodes Marshal's output; it checks structure only (see Verify).
func ParseCertificate(b []byte) (*Certificate, error) {
	const fixed = len(certMagic) + ed25519.PublicKeySize + 16
	if len(b) < fixed+2+ed25519.SignatureSize || len(b) > MaxCertificateSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if string(b[:len(certMagic)]) != certMagic {
		return nil, fmt.Errorf("%w: bad magic", ErrMalformed)
	}
	c := &Certificate{BoxKey: ed25519.PublicKey(clone(b[4:36]))}
	c.NotBefore = time.Unix(int64(binary.BigEndian.Uint64(b[36:44])), 0).UTC()
	c.NotAfter = time.Unix(int64(binary.BigEndian.Uint64(b[44:52])), 0).UTC()
	rest := b[fixed:]
	var ok bool
	if c.SiteID, rest, ok = lenPrefixed(rest); !ok || !ValidID(c.SiteID) {
		return nil, fmt.Errorf("%w: site id", ErrMalformed)
	}
	if c.BoxID, rest, ok = lenPrefixed(rest); !ok || !ValidID(c.BoxID) {
		return nil, fmt.Errorf("%w: box id", ErrMalformed)
	}
	if len(rest) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature length %d", ErrMalformed, len(rest))
	}
	c.Signature = clone(rest)
	if !c.NotBefore.Before(c.NotAfter) {
		return nil, fmt.Errorf("%w: empty validity", ErrMalformed)
	}
	return c, nil
}

// ParseCertificateText decodes the base64 text form (String), ignoring surrounding
// white space.
func ParseCertificateText(s string) (*Certificate, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return ParseCertificate(b)
}

// ReadCertificate reads a certificate file in the text form.
func ReadCertificate(path string) (*Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	c, err := ParseCertificateText(string(b))
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", path, err)
	}
	return c, nil
}

// WriteFile writes the text form to path (mode 0644: a certificate is public).
func (c *Certificate) WriteFile(path string) error {
	if err := os.WriteFile(path, []byte(c.String()+"\n"), 0o644); err != nil {
		return fmt.Errorf("write certificate: %w", err)
	}
	return nil
}

// Verify checks that sitePub signed c, that c names siteID, and that now is
// within its validity. Errors wrap ErrBadSignature, ErrWrongSite, ErrExpired or
// ErrNotYetValid.
func (c *Certificate) Verify(sitePub ed25519.PublicKey, siteID string, now time.Time) error {
	if len(sitePub) != ed25519.PublicKeySize || len(c.BoxKey) != ed25519.PublicKeySize ||
		!ed25519.Verify(sitePub, c.signed(), c.Signature) {
		return fmt.Errorf("verify certificate of box %q: %w", c.BoxID, ErrBadSignature)
	}
	if c.SiteID != siteID {
		return fmt.Errorf("verify certificate of box %q: site %q: %w", c.BoxID, c.SiteID, ErrWrongSite)
	}
	if now.Before(c.NotBefore) {
		return fmt.Errorf("verify certificate of box %q: valid from %s: %w", c.BoxID, c.NotBefore.Format(time.RFC3339), ErrNotYetValid)
	}
	if !now.Before(c.NotAfter) {
		return fmt.Errorf("verify certificate of box %q: expired %s: %w", c.BoxID, c.NotAfter.Format(time.RFC3339), ErrExpired)
	}
	return nil
}

func lenPrefixed(b []byte) (string, []byte, bool) {
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return "", nil, false
	}
	n := int(b[0])
	return string(b[1 : 1+n]), b[1+n:], true
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
