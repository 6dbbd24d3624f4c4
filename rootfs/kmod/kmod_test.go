package kmod

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// fakeKO builds a minimal ELF64 relocatable file whose only content is a
// .modinfo section, which is all that Resolve reads from a module.
func fakeKO(t testing.TB, modinfo ...string) []byte {
	t.Helper()
	var info []byte
	for _, kv := range modinfo {
		info = append(info, kv...)
		info = append(info, 0)
	}
	shstr := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	infoOff := uint64(ehsize)
	strOff := infoOff + uint64(len(info))
	shOff := strOff + uint64(len(shstr))
	var b bytes.Buffer
	le := binary.LittleEndian
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0})
	b.Write(make([]byte, 8))
	binary.Write(&b, le, uint16(1))  // ET_REL
	binary.Write(&b, le, uint16(62)) // EM_X86_64
	binary.Write(&b, le, uint32(1))
	binary.Write(&b, le, uint64(0)) // entry
	binary.Write(&b, le, uint64(0)) // phoff
	binary.Write(&b, le, shOff)
	binary.Write(&b, le, uint32(0))
	binary.Write(&b, le, uint16(ehsize))
	binary.Write(&b, le, uint16(0))
	binary.Write(&b, le, uint16(0))
	binary.Write(&b, le, uint16(shentsize))
	binary.Write(&b, le, uint16(3)) // shnum
	binary.Write(&b, le, uint16(2)) // shstrndx
	b.Write(info)
	b.Write(shstr)
	section := func(name, typ uint32, off, size uint64) {
		binary.Write(&b, le, name)
		binary.Write(&b, le, typ)
		binary.Write(&b, le, uint64(0)) // flags
		binary.Write(&b, le, uint64(0)) // addr
		binary.Write(&b, le, off)
		binary.Write(&b, le, size)
		binary.Write(&b, le, uint32(0))
		binary.Write(&b, le, uint32(0))
		binary.Write(&b, le, uint64(1))
		binary.Write(&b, le, uint64(0))
	}
	section(0, 0, 0, 0)
	section(1, 1, infoOff, uint64(len(info))) // .modinfo, PROGBITS
	section(10, 3, strOff, uint64(len(shstr)))
	return b.Bytes()
}

func TestParseModinfo(t *testing.T) {
	cases := []struct {
		name string
		in   []string
		want Info
	}{
		// From Debian's 6.1.0-56-amd64 virtio_net.ko and ext4.ko (modinfo -F).
		{"virtio_net", []string{"license=GPL", "depends=virtio_ring,virtio,net_failover", "name=virtio_net"},
			Info{Name: "virtio_net", Depends: []string{"virtio_ring", "virtio", "net_failover"}}},
		{"ext4", []string{"softdep=pre: crypto-crc32c", "depends=jbd2,mbcache,crc16", "name=ext4"},
			Info{Name: "ext4", Depends: []string{"jbd2", "mbcache", "crc16"}, SoftPre: []string{"crypto_crc32c"}}},
		{"r8169 pre and post", []string{"softdep=pre: realtek post: foo-bar", "depends=", "name=r8169"},
			Info{Name: "r8169", SoftPre: []string{"realtek"}, SoftPost: []string{"foo_bar"}}},
		{"dashes", []string{"name=crc32c-intel", "depends=a-b"}, Info{Name: "crc32c_intel", Depends: []string{"a_b"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseInfo(bytes.NewReader(fakeKO(t, tc.in...)))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("ParseInfo (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseInfoNotELF(t *testing.T) {
	if _, err := ParseInfo(bytes.NewReader([]byte("not an elf file at all"))); err == nil {
		t.Fatal("want an error for a non-ELF file")
	}
}

func TestResolve(t *testing.T) {
	ko := func(kv ...string) *fstest.MapFile { return &fstest.MapFile{Data: fakeKO(t, kv...)} }
	fsys := fstest.MapFS{
		"kernel/drivers/virtio/virtio.ko":      ko("name=virtio", "depends="),
		"kernel/drivers/virtio/virtio_ring.ko": ko("name=virtio_ring", "depends=virtio"),
		"kernel/drivers/net/net_failover.ko":   ko("name=net_failover", "depends=failover"),
		"kernel/net/core/failover.ko":          ko("name=failover", "depends="),
		"kernel/drivers/net/virtio_net.ko":     ko("name=virtio_net", "depends=virtio_ring,virtio,net_failover"),
		"kernel/fs/ext4/ext4.ko":               ko("name=ext4", "depends=jbd2,crc16", "softdep=pre: crypto-crc32c crc32c_generic"),
		"kernel/fs/jbd2/jbd2.ko":               ko("name=jbd2", "depends="),
		"kernel/crypto/crc32c_generic.ko":      ko("name=crc32c_generic", "depends="),
		"kernel/drivers/net/r8169.ko":          ko("name=r8169", "depends=", "softdep=post: realtek"),
		"kernel/drivers/net/phy/realtek.ko":    ko("name=realtek", "depends="),
		"kernel/cycle/a.ko":                    ko("name=a", "depends=b"),
		"kernel/cycle/b.ko":                    ko("name=b", "depends=a"),
		"kernel/bad/needs-ghost.ko":            ko("name=needs_ghost", "depends=ghost"),
		"modules.builtin":                      &fstest.MapFile{Data: []byte("kernel/lib/crc16.ko\nkernel/fs/squashfs/squashfs.ko\n")},
	}
	tree, err := Open(fsys)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		in      []string
		want    []string
		wantErr error
	}{
		{"deps first", []string{"virtio_net"}, []string{"virtio", "virtio_ring", "failover", "net_failover", "virtio_net"}, nil},
		{"each once", []string{"virtio_ring", "virtio_net", "virtio"}, []string{"virtio", "virtio_ring", "failover", "net_failover", "virtio_net"}, nil},
		{"builtin skipped, soft pre followed, alias ignored", []string{"ext4", "squashfs"}, []string{"crc32c_generic", "jbd2", "ext4"}, nil},
		{"soft post after", []string{"r8169"}, []string{"r8169", "realtek"}, nil},
		{"dash spelling", []string{"crc32c-generic"}, []string{"crc32c_generic"}, nil},
		{"cycle terminates", []string{"a"}, []string{"b", "a"}, nil},
		{"missing", []string{"e1000e"}, nil, ErrNotFound},
		{"missing dep", []string{"needs_ghost"}, nil, ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mods, err := tree.Resolve(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Resolve error = %v, want %v", err, tc.wantErr)
			}
			var got []string
			for _, m := range mods {
				got = append(got, m.Name)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("Resolve (-want +got):\n%s", d)
			}
		})
	}
}

// TestResolveDebianKernel runs against a real Debian kernel tree when the image
// builder's cache has one (OUTPOST_MODULES_DIR=.../lib/modules/<release>).
func TestResolveDebianKernel(t *testing.T) {
	dir := os.Getenv("OUTPOST_MODULES_DIR")
	if dir == "" {
		t.Skip("OUTPOST_MODULES_DIR not set")
	}
	tree, err := Open(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	mods, err := tree.Resolve([]string{"virtio_net", "ext4"})
	if err != nil {
		t.Fatal(err)
	}
	last := mods[len(mods)-1]
	if last.Name != "ext4" || filepath.Base(last.Path) != "ext4.ko" {
		t.Fatalf("last module = %+v, want ext4", last)
	}
}

func FuzzParseModinfo(f *testing.F) {
	f.Add([]byte("name=virtio_net\x00depends=virtio_ring,virtio\x00"))
	f.Add([]byte("softdep=pre: a post: b c\x00"))
	f.Add([]byte("softdep=x pre:\x00=\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		info := parseModinfo(b)
		for _, d := range append(append(info.Depends, info.SoftPre...), info.SoftPost...) {
			if d == "" {
				t.Fatalf("empty dependency from %q", b)
			}
		}
	})
}
