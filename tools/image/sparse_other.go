//go:build !linux

package image

import "os"

// nextData treats the whole file as data where SEEK_DATA is not used.
func nextData(f *os.File, pos, size int64) (data, hole int64, ok bool) {
	return pos, size, pos < size
}
