package tracker

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// ID is a 20-byte info_hash, peer_id or offer_id. On the wire it is a "binary
// string": a JSON string of 20 code points, each 0-255 standing for one byte.
type ID [20]byte

// String is the hex form, for logs.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Binary returns the binary-string form (one rune per byte) that JSON carries.
func (id ID) Binary() string { return binaryString(id[:]) }

// MarshalJSON encodes the binary string.
func (id ID) MarshalJSON() ([]byte, error) { return json.Marshal(id.Binary()) }

// UnmarshalJSON decodes a binary string of exactly 20 code points.
func (id *ID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, ok := parseID(s)
	if !ok {
		return fmt.Errorf("%w: want 20 code points 0-255", ErrNotBinaryString)
	}
	*id = v
	return nil
}

// IDFromString turns an ASCII (or any binary) string of 20 bytes into an ID, e.g.
// the 20-character info hashes p2p-media-loader derives.
func IDFromString(s string) (ID, bool) {
	var id ID
	if len(s) != len(id) {
		return id, false
	}
	copy(id[:], s)
	return id, true
}

func binaryString(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// parseID decodes a Go string (UTF-8 of the JSON string) into 20 bytes, each
// code point 0-255; anything else is not a binary string.
func parseID(s string) (ID, bool) {
	var id ID
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r > 0xff || (r == utf8.RuneError && size == 1) || n == len(id) {
			return id, false
		}
		id[n] = byte(r)
		n++
		i += size
	}
	return id, n == len(id)
}

// jsLength is String.prototype.length of a Go string: UTF-16 code units.
func jsLength(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}
