package discovery

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/identity"
)

// TXT keys of an "_outpost._tcp" record.
const (
	keyVersion = "txtvers" // record format, "1"
	keySite    = "site"    // site id
	keyBox     = "box"     // box id
	keySoft    = "ver"     // software version
	keyRole    = "role"    // e.g. "edge"
	keyPort    = "port"    // sibling TLS port
	keyLoad    = "load"    // current load (viewers)
	keyTime    = "ts"      // signing time, Unix milliseconds
	keyNonce   = "nonce"   // 8 random bytes, hex
	keyCert    = "c"       // certificate text, split as c0, c1, ...
	keySig     = "sig"     // base64 ed25519 signature by the box key
)

// maxTXTString is the DNS limit for one TXT character-string.
const maxTXTString = 255

// sigContext separates record signatures from other signatures by a box key.
const sigContext = "outpost txt v1\x00"

// Record is one box's advertisement as carried in its TXT record.
type Record struct {
	Site, Box, Version, Role string
	Port, Load               int
	Time                     time.Time // when the box signed it (millisecond precision)
	Nonce                    string
	Cert                     *identity.Certificate

	sig    []byte
	signed []byte
}

// Fields are what a box advertises about itself besides time, nonce and proof.
type Fields struct {
	Site, Box, Version, Role string
	Port, Load               int
}

// SignTXT builds the TXT strings for f, signed at ts with key; cert must certify key.
func SignTXT(f Fields, key ed25519.PrivateKey, cert *identity.Certificate, ts time.Time) []string {
	var nonce [8]byte
	rand.Read(nonce[:])
	txt := []string{
		keyVersion + "=1",
		keySite + "=" + f.Site,
		keyBox + "=" + f.Box,
		keySoft + "=" + f.Version,
		keyRole + "=" + f.Role,
		keyPort + "=" + strconv.Itoa(f.Port),
		keyLoad + "=" + strconv.Itoa(f.Load),
		keyTime + "=" + strconv.FormatInt(ts.UnixMilli(), 10),
		keyNonce + "=" + hex.EncodeToString(nonce[:]),
	}
	txt = append(txt, splitTXT(keyCert, cert.String())...)
	sig := ed25519.Sign(key, signedBytes(txt))
	return append(txt, keySig+"="+base64.StdEncoding.EncodeToString(sig))
}

// splitTXT spreads a long value over numbered keys (k0=..., k1=...), each string
// within the 255-byte limit.
func splitTXT(k, v string) []string {
	var out []string
	for i := 0; len(v) > 0 || i == 0; i++ {
		p := k + strconv.Itoa(i) + "="
		n := min(len(v), maxTXTString-len(p))
		out = append(out, p+v[:n])
		v = v[n:]
	}
	return out
}

// signedBytes is the canonical form the box key signs: a context string, then every
// TXT string except sig=, sorted, each with a length byte.
func signedBytes(txt []string) []byte {
	s := slices.Clone(txt)
	slices.Sort(s)
	b := []byte(sigContext)
	for _, t := range s {
		if strings.HasPrefix(t, keySig+"=") {
			continue
		}
		b = append(b, byte(len(t)))
		b = append(b, t...)
	}
	return b
}

// maxTXTStrings bounds how many strings a record may have.
const maxTXTStrings = 32

// ParseTXT decodes the TXT strings of an "_outpost._tcp" record. It checks form
// only; Verify checks the proof. Errors wrap ErrMalformed or ErrUnsigned.
func ParseTXT(txt []string) (*Record, error) {
	if len(txt) > maxTXTStrings {
		return nil, fmt.Errorf("%w: %d strings", ErrMalformed, len(txt))
	}
	kv := map[string]string{}
	var certParts []string
	for _, t := range txt {
		if len(t) > maxTXTString {
			return nil, fmt.Errorf("%w: string of %d bytes", ErrMalformed, len(t))
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok || k == "" {
			continue // RFC 6763 6.4: a string without '=' is a boolean attribute; none are ours
		}
		if _, dup := kv[k]; dup {
			return nil, fmt.Errorf("%w: duplicate key %q", ErrMalformed, k)
		}
		kv[k] = v
		if n, ok := strings.CutPrefix(k, keyCert); ok {
			i, err := strconv.Atoi(n)
			if err != nil || i < 0 || i >= maxTXTStrings || strconv.Itoa(i) != n {
				continue
			}
			for len(certParts) <= i {
				certParts = append(certParts, "")
			}
			certParts[i] = v
		}
	}
	if kv[keyVersion] != "1" {
		return nil, fmt.Errorf("%w: txtvers %q", ErrMalformed, kv[keyVersion])
	}
	sigText, hasSig := kv[keySig]
	if !hasSig || len(certParts) == 0 {
		return nil, ErrUnsigned
	}
	r := &Record{Site: kv[keySite], Box: kv[keyBox], Version: kv[keySoft], Role: kv[keyRole], Nonce: kv[keyNonce]}
	if !identity.ValidID(r.Site) || !identity.ValidID(r.Box) {
		return nil, fmt.Errorf("%w: site or box id", ErrMalformed)
	}
	var err error
	if r.Port, err = strconv.Atoi(kv[keyPort]); err != nil || r.Port < 1 || r.Port > 65535 {
		return nil, fmt.Errorf("%w: port %q", ErrMalformed, kv[keyPort])
	}
	if r.Load, err = strconv.Atoi(kv[keyLoad]); err != nil || r.Load < 0 {
		return nil, fmt.Errorf("%w: load %q", ErrMalformed, kv[keyLoad])
	}
	ms, err := strconv.ParseInt(kv[keyTime], 10, 64)
	if err != nil || ms < 0 || ms > 1<<50 {
		return nil, fmt.Errorf("%w: ts %q", ErrMalformed, kv[keyTime])
	}
	r.Time = time.UnixMilli(ms)
	if len(r.Nonce) != 16 {
		return nil, fmt.Errorf("%w: nonce", ErrMalformed)
	}
	if r.Cert, err = identity.ParseCertificateText(strings.Join(certParts, "")); err != nil {
		return nil, fmt.Errorf("%w: certificate: %v", ErrMalformed, err)
	}
	if r.sig, err = base64.StdEncoding.DecodeString(sigText); err != nil || len(r.sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature", ErrMalformed)
	}
	r.signed = signedBytes(txt)
	return r, nil
}

// Verify checks r's proof: its certificate against the site key and site id at now,
// the box key's signature over the record, and that its timestamp is within window
// of now. Errors wrap ErrForeignSite, ErrExpired, ErrBadSignature or ErrStale.
// Replays (a timestamp not newer than the last seen) are the table's check.
func (r *Record) Verify(sitePub ed25519.PublicKey, site string, now time.Time, window time.Duration) error {
	if err := r.Cert.Verify(sitePub, site, now); err != nil {
		switch {
		case errors.Is(err, identity.ErrExpired), errors.Is(err, identity.ErrNotYetValid):
			return fmt.Errorf("box %q: %w: %v", r.Box, ErrExpired, err)
		default:
			return fmt.Errorf("box %q: %w: %v", r.Box, ErrForeignSite, err)
		}
	}
	if r.Cert.BoxID != r.Box || r.Cert.SiteID != r.Site {
		return fmt.Errorf("box %q: %w: ids differ from the certificate's", r.Box, ErrBadSignature)
	}
	if !ed25519.Verify(r.Cert.BoxKey, r.signed, r.sig) {
		return fmt.Errorf("box %q: %w", r.Box, ErrBadSignature)
	}
	if d := now.Sub(r.Time); d > window || d < -window {
		return fmt.Errorf("box %q: timestamp %s off by %s: %w", r.Box, r.Time.UTC().Format(time.RFC3339), d, ErrStale)
	}
	return nil
}

// reason is the Stats key for an ignore error.
func reason(err error) string {
	for _, e := range []error{ErrUnsigned, ErrForeignSite, ErrBadSignature, ErrExpired, ErrStale, ErrReplayed} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return ErrMalformed.Error()
}
