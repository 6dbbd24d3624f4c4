package image

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/diskfs/go-diskfs/partition/gpt"
)

const mib = 1 << 20

// stableGUID derives a GUID (RFC 4122 version 4 layout) from a name, so the
// same build gets the same partition GUIDs.
func stableGUID(name string) string {
	h := sha256.Sum256([]byte("outpost-image/" + name))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return strings.ToUpper(x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32])
}

// part is one partition of the image and the file holding its contents.
type part struct {
	label, typ string
	size       int64
	contents   string // path of a filesystem image, written at the partition's start
	// dense is how many leading bytes of contents are written even where
	// they are zero: metadata (a FAT) whose zeros mean something, so that
	// the .bmap maps them and bmaptool writes them over old disk contents.
	dense int64
}

// writeDisk lays out parts from 1 MiB on, each aligned to 1 MiB, with a
// protective MBR and both GPTs, and copies each filesystem image in, keeping
// holes (so the image file stays sparse and the .bmap small).
func writeDisk(path, seed string, parts []part) (int64, error) {
	size := int64(mib) // GPT and alignment
	for _, p := range parts {
		size += p.size
	}
	size += mib // backup GPT
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return 0, err
	}
	tab := &gpt.Table{
		LogicalSectorSize:  512,
		PhysicalSectorSize: 512,
		ProtectiveMBR:      true,
		GUID:               stableGUID(seed + "/disk"),
	}
	start := int64(mib)
	for i, p := range parts {
		tab.Partitions = append(tab.Partitions, &gpt.Partition{
			Index: i + 1,
			Start: uint64(start / 512),
			Size:  uint64(p.size),
			Type:  gpt.Type(p.typ),
			Name:  p.label,
			GUID:  stableGUID(seed + "/" + p.label),
		})
		if p.contents != "" {
			if err := copySparse(f, start, p.contents, p.size, p.dense); err != nil {
				return 0, fmt.Errorf("write partition %s: %w", p.label, err)
			}
		}
		start += p.size
	}
	if err := tab.Write(f, size); err != nil {
		return 0, fmt.Errorf("write GPT: %w", err)
	}
	return size, f.Close()
}

// copySparse copies src into dst at off, skipping src's holes after its first
// dense bytes (the destination is a fresh sparse file, so holes read as
// zeros). Data ranges are copied as they are, zeros included: a filesystem
// tool wrote them on purpose.
func copySparse(dst *os.File, off int64, src string, limit, dense int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if st.Size() > limit {
		return fmt.Errorf("%s is %d bytes, the partition only %d", src, st.Size(), limit)
	}
	buf := make([]byte, mib)
	for pos := int64(0); pos < st.Size(); {
		data, hole, ok := nextData(in, pos, st.Size())
		if pos < dense {
			data, hole, ok = pos, max(hole, min(dense, st.Size())), true
		}
		if !ok {
			break // only a hole remains
		}
		for p := data; p < hole; {
			n, err := in.ReadAt(buf[:min(int64(len(buf)), hole-p)], p)
			if n > 0 {
				if _, werr := dst.WriteAt(buf[:n], off+p); werr != nil {
					return werr
				}
			}
			p += int64(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		pos = hole
	}
	return nil
}

// fatMetadata returns the bytes from the start of a FAT32 image to the end of
// its first data cluster (the root directory): boot sectors, FSInfo, both FATs.
func fatMetadata(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	bs := make([]byte, 512)
	if _, err := io.ReadFull(f, bs); err != nil {
		return 0, err
	}
	bps := int64(binary.LittleEndian.Uint16(bs[11:]))
	spc := int64(bs[13])
	reserved := int64(binary.LittleEndian.Uint16(bs[14:]))
	fats := int64(bs[16])
	fatSize := int64(binary.LittleEndian.Uint32(bs[36:]))
	if bps == 0 || spc == 0 || fats == 0 || fatSize == 0 || bs[510] != 0x55 || bs[511] != 0xaa {
		return 0, fmt.Errorf("%s: not a FAT32 boot sector", path)
	}
	return (reserved + fats*fatSize + spc) * bps, nil
}
