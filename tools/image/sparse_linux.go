package image

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// nextData returns the next data range [data, hole) at or after pos, using
// SEEK_DATA/SEEK_HOLE; ok is false when only a hole remains.
func nextData(f *os.File, pos, size int64) (data, hole int64, ok bool) {
	data, err := unix.Seek(int(f.Fd()), pos, unix.SEEK_DATA)
	if errors.Is(err, unix.ENXIO) {
		return 0, 0, false
	}
	if err != nil {
		return pos, size, pos < size // no sparse support: all data
	}
	hole, err = unix.Seek(int(f.Fd()), data, unix.SEEK_HOLE)
	if err != nil {
		hole = size
	}
	return data, hole, true
}
