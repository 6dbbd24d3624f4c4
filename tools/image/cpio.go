package image

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// CPIO collects files for a newc ("070701") archive, the initramfs format the
// kernel unpacks. Entries are written sorted by path with parents first, with
// inode numbers counted in that order, uid/gid 0 and one mtime, so the same
// inputs give the same bytes.
type CPIO struct {
	entries map[string]cpioEntry
}

type cpioEntry struct {
	mode         uint32 // type and permission bits
	data         []byte // file contents or symlink target
	major, minor uint32 // device nodes
}

// File modes.
const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
	modeChar    = 0o020000
)

func (c *CPIO) add(p string, e cpioEntry) {
	if c.entries == nil {
		c.entries = map[string]cpioEntry{}
	}
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
		if _, ok := c.entries[d]; !ok {
			c.entries[d] = cpioEntry{mode: modeDir | 0o755}
		}
	}
	c.entries[p] = e
}

// Dir adds a directory.
func (c *CPIO) Dir(p string, perm uint32) { c.add(p, cpioEntry{mode: modeDir | perm}) }

// File adds a regular file.
func (c *CPIO) File(p string, perm uint32, data []byte) {
	c.add(p, cpioEntry{mode: modeFile | perm, data: data})
}

// Symlink adds a symbolic link.
func (c *CPIO) Symlink(p, target string) {
	c.add(p, cpioEntry{mode: modeSymlink | 0o777, data: []byte(target)})
}

// CharDev adds a character device node (the kernel needs /dev/console before
// it runs /init).
func (c *CPIO) CharDev(p string, perm, major, minor uint32) {
	c.add(p, cpioEntry{mode: modeChar | perm, major: major, minor: minor})
}

// WriteTo writes the archive with its trailer, every entry stamped mtime.
func (c *CPIO) WriteTo(w io.Writer, mtime int64) (int64, error) {
	paths := make([]string, 0, len(c.entries))
	for p := range c.entries {
		paths = append(paths, p)
	}
	slices.Sort(paths) // "a" < "a/b": parents come first
	cw := &countWriter{w: w}
	ino := uint32(1)
	for _, p := range paths {
		e := c.entries[p]
		nlink := uint32(1)
		if e.mode&0o170000 == modeDir {
			nlink = 2
		}
		if err := writeCPIOEntry(cw, p, ino, e, nlink, mtime); err != nil {
			return cw.n, err
		}
		ino++
	}
	err := writeCPIOEntry(cw, "TRAILER!!!", 0, cpioEntry{}, 1, 0)
	return cw.n, err
}

func writeCPIOEntry(w io.Writer, name string, ino uint32, e cpioEntry, nlink uint32, mtime int64) error {
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, e.mode, 0, 0, nlink, uint32(mtime), len(e.data), 0, 0, e.major, e.minor, len(name)+1, 0)
	buf := append([]byte(hdr), name...)
	buf = append(buf, 0)
	buf = pad4(buf)
	buf = append(buf, e.data...)
	buf = pad4(buf)
	_, err := w.Write(buf)
	return err
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
