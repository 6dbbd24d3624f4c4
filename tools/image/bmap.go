package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
)

const bmapBlock = 4096

// writeBmap writes a bmaptool-compatible block map (format 2.0, sha256) of
// the image's data ranges, so `bmaptool copy` writes only those, and returns
// the image's SHA-256 (all bytes, holes as zeros) for the .sha256 file.
func writeBmap(imagePath, bmapPath string) (string, error) {
	f, err := os.Open(imagePath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	size := st.Size()
	blocks := (size + bmapBlock - 1) / bmapBlock
	type rng struct{ first, last int64 }
	var ranges []rng
	for pos := int64(0); pos < size; {
		data, hole, ok := nextData(f, pos, size)
		if !ok {
			break
		}
		first, last := data/bmapBlock, (hole-1)/bmapBlock
		if n := len(ranges); n > 0 && ranges[n-1].last+1 >= first {
			ranges[n-1].last = max(ranges[n-1].last, last)
		} else {
			ranges = append(ranges, rng{first, last})
		}
		pos = hole
	}
	var body strings.Builder
	var mapped int64
	buf := make([]byte, bmapBlock)
	for _, r := range ranges {
		h := sha256.New()
		for b := r.first; b <= r.last; b++ {
			n, err := f.ReadAt(buf, b*bmapBlock)
			if err != nil && err != io.EOF {
				return "", err
			}
			h.Write(buf[:n])
		}
		mapped += r.last - r.first + 1
		span := fmt.Sprint(r.first)
		if r.last != r.first {
			span = fmt.Sprintf("%d-%d", r.first, r.last)
		}
		fmt.Fprintf(&body, "        <Range chksum=\"%s\"> %s </Range>\n", hex.EncodeToString(h.Sum(nil)), span)
	}
	doc := func(sum string) []byte {
		var b bytes.Buffer
		fmt.Fprintf(&b, "<?xml version=\"1.0\" ?>\n<!-- written by outpost tools/image; use: bmaptool copy IMAGE /dev/sdX -->\n<bmap version=\"2.0\">\n")
		fmt.Fprintf(&b, "    <ImageSize> %d </ImageSize>\n    <BlockSize> %d </BlockSize>\n    <BlocksCount> %d </BlocksCount>\n", size, bmapBlock, blocks)
		fmt.Fprintf(&b, "    <MappedBlocksCount> %d </MappedBlocksCount>\n    <ChecksumType> sha256 </ChecksumType>\n", mapped)
		fmt.Fprintf(&b, "    <BmapFileChecksum> %s </BmapFileChecksum>\n    <BlockMap>\n%s    </BlockMap>\n</bmap>\n", sum, body.String())
		return b.Bytes()
	}
	self := sha256.Sum256(doc(strings.Repeat("0", 64)))
	if err := os.WriteFile(bmapPath, doc(hex.EncodeToString(self[:])), 0o644); err != nil {
		return "", err
	}
	all := sha256.New()
	if _, err := io.Copy(all, io.NewSectionReader(f, 0, size)); err != nil {
		return "", err
	}
	return hex.EncodeToString(all.Sum(nil)), nil
}
