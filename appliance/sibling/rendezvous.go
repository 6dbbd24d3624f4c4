package sibling

import (
	"crypto/sha256"
	"encoding/binary"
)

// Weight is box's rendezvous weight for key: the first 8 bytes of
// SHA-256(box, 0, key). Every box computes the same weights, so all agree on the
// owner without talking.
func Weight(box, key string) uint64 {
	h := sha256.New()
	h.Write([]byte(box))
	h.Write([]byte{0})
	h.Write([]byte(key))
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(h.Sum(sum[:0]))
}

// Owner is the box among boxes with the highest weight for key (ties: the
// smaller id); "" for no boxes. Adding or removing one box moves only the keys
// that box wins or won.
func Owner(key string, boxes []string) string {
	var best string
	var bestW uint64
	for i, b := range boxes {
		w := Weight(b, key)
		if i == 0 || w > bestW || (w == bestW && b < best) {
			best, bestW = b, w
		}
	}
	return best
}
