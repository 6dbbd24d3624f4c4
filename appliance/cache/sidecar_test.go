package cache_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/outpost-ecdn/outpost/appliance/cache"
)

type sidecarCase struct {
	name  string
	raw   []byte
	valid bool // the cache loads it
	// parses is true for a sidecar that decodes but does not match its
	// data file.
	parses bool
}

// sidecarCases returns the sidecar the cache writes for key and data, and
// damaged or hostile variants of it.
func sidecarCases(key string, data []byte) []sidecarCase {
	hash := cache.KeyHash(key)
	sum := sha256.Sum256(data)
	sumHex := hex.EncodeToString(sum[:])
	base := func() map[string]any {
		return map[string]any{
			"v":            1,
			"key":          key,
			"data":         cache.DataName(hash, sumHex),
			"size":         len(data),
			"sha256":       sumHex,
			"content_type": "video/mp2t",
			"stored":       "2026-03-01T12:00:00Z",
		}
	}
	enc := func(edit func(m map[string]any)) []byte {
		m := base()
		edit(m)
		b, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		return b
	}
	valid := enc(func(map[string]any) {})
	return []sidecarCase{
		{name: "valid", raw: valid, valid: true},
		{name: "valid with TTL", valid: true, raw: enc(func(m map[string]any) {
			m["expires"] = "2099-01-01T00:00:00Z"
			m["stale_until"] = "2099-01-01T01:00:00Z"
		})},
		{name: "empty", raw: nil},
		{name: "truncated", raw: valid[:len(valid)/2]},
		{name: "trailing garbage", raw: append(append([]byte(nil), valid...), "}x"...)},
		{name: "binary", raw: []byte{0x00, 0xff, 0xfe, '{', 0x7f}},
		{name: "null", raw: []byte("null")},
		{name: "array", raw: []byte(`[1,2,3]`)},
		{name: "wrong version", raw: enc(func(m map[string]any) { m["v"] = 2 })},
		{name: "no version", raw: enc(func(m map[string]any) { delete(m, "v") })},
		{name: "key of another file", raw: enc(func(m map[string]any) { m["key"] = key + "x" })},
		{name: "key and key_bytes", raw: enc(func(m map[string]any) { m["key_bytes"] = []byte(key) })},
		{name: "path traversal", raw: enc(func(m map[string]any) { m["data"] = "../../../../etc/passwd" })},
		{name: "data of another object", raw: enc(func(m map[string]any) { m["data"] = cache.DataName(hash, strings.Repeat("0", 64)) })},
		{name: "absolute data path", raw: enc(func(m map[string]any) { m["data"] = "/etc/shadow" })},
		{name: "negative size", raw: enc(func(m map[string]any) { m["size"] = -1 })},
		{name: "size mismatch", parses: true, raw: enc(func(m map[string]any) { m["size"] = len(data) + 1 })},
		{name: "size not a number", raw: enc(func(m map[string]any) { m["size"] = "12" })},
		{name: "huge size", raw: enc(func(m map[string]any) { m["size"] = 1e300 })},
		{name: "uppercase sha256", raw: enc(func(m map[string]any) { m["sha256"] = strings.ToUpper(sumHex) })},
		{name: "short sha256", raw: enc(func(m map[string]any) { m["sha256"] = sumHex[:10] })},
		{name: "no stored time", raw: enc(func(m map[string]any) { delete(m, "stored") })},
		{name: "bad stored time", raw: enc(func(m map[string]any) { m["stored"] = "yesterday" })},
		{name: "stale_until without expires", raw: enc(func(m map[string]any) { m["stale_until"] = "2099-01-01T00:00:00Z" })},
		{name: "stale_until before expires", raw: enc(func(m map[string]any) {
			m["expires"] = "2099-01-01T00:00:00Z"
			m["stale_until"] = "2098-01-01T00:00:00Z"
		})},
		{name: "huge", raw: enc(func(m map[string]any) { m["content_type"] = strings.Repeat("x", 2<<20) })},
	}
}

func TestDecodeSidecar(t *testing.T) {
	key, data := "/o/cdn/live/seg1.ts", body("seg", 1234)
	for _, tc := range sidecarCases(key, data) {
		t.Run(tc.name, func(t *testing.T) {
			s, err := cache.DecodeSidecar(tc.raw, cache.KeyHash(key))
			if wantOK := tc.valid || tc.parses; (err == nil) != wantOK {
				t.Fatalf("DecodeSidecar err = %v, want ok %v", err, wantOK)
			}
			if tc.valid && (cache.SidecarKey(s) != key || s.Size != int64(len(data))) {
				t.Fatalf("decoded %+v", s)
			}
		})
	}
}

// TestHostileSidecarsAreDropped puts each sidecar next to real data and
// restarts the cache: only the valid ones load; the others are removed
// together with their data, without a panic.
func TestHostileSidecarsAreDropped(t *testing.T) {
	key, data := "/o/cdn/live/seg1.ts", body("seg", 1234)
	for _, tc := range sidecarCases(key, data) {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := openCache(t, cache.Config{Dir: dir, MemoryBytes: -1})
			o := newOrigin(data)
			readAll(t, mustGet(t, c, key, o.Fill, cache.StatusMiss))
			c.Close()
			if err := os.WriteFile(cache.MetaPath(c, key), tc.raw, 0o644); err != nil {
				t.Fatal(err)
			}

			c2 := openCache(t, cache.Config{Dir: dir, MemoryBytes: -1})
			st := c2.Stats()
			if !tc.valid {
				if st.Objects != 0 {
					t.Fatalf("hostile sidecar loaded: %s", statsString(st))
				}
				if got := files(t, dir); len(got) != 0 {
					t.Fatalf("files left: %v", got)
				}
				return
			}
			if st.Objects != 1 {
				t.Fatalf("valid sidecar dropped: %s", statsString(st))
			}
			h := mustGet(t, c2, key, failFill(t), cache.StatusHit)
			if got := readAll(t, h); !cmp.Equal(got, data) {
				t.Fatal("wrong bytes")
			}
		})
	}
}

// FuzzDecodeSidecar feeds arbitrary bytes to the sidecar loader: it must not
// panic, and what it accepts must be safe to use and survive a round trip.
func FuzzDecodeSidecar(f *testing.F) {
	const key = "/o/cdn/live/seg1.ts"
	for _, tc := range sidecarCases(key, body("seg", 1234)) {
		f.Add(tc.raw)
	}
	hash := cache.KeyHash(key)
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := cache.DecodeSidecar(raw, hash)
		if err != nil {
			return
		}
		if cache.KeyHash(cache.SidecarKey(s)) != hash || s.Size < 0 || s.Data != cache.DataName(hash, s.SHA256) ||
			strings.ContainsAny(s.Data, `/\`) {
			t.Fatalf("accepted unsafe sidecar %+v", s)
		}
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		s2, err := cache.DecodeSidecar(again, hash)
		if err != nil {
			t.Fatalf("round trip rejected: %v\n%s", err, again)
		}
		if cache.SidecarKey(s2) != cache.SidecarKey(s) || s2.Size != s.Size || s2.SHA256 != s.SHA256 ||
			s2.ContentType != s.ContentType || !s2.Stored.Equal(s.Stored) || !s2.Expires.Equal(s.Expires) ||
			!s2.StaleUntil.Equal(s.StaleUntil) {
			t.Fatalf("round trip changed %+v to %+v", s, s2)
		}
	})
}
