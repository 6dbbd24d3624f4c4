package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/google/go-cmp/cmp"
	"github.com/outpost-ecdn/outpost/board"
)

func TestStableGUID(t *testing.T) {
	a, b := stableGUID("pc-x86_64/root-a"), stableGUID("pc-x86_64/root-b")
	if a == b || a != stableGUID("pc-x86_64/root-a") {
		t.Fatalf("GUIDs not stable and distinct: %s %s", a, b)
	}
	if !regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`).MatchString(a) {
		t.Fatalf("%s is not a version 4 layout GUID", a)
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"A=1", "SOURCE_DATE_EPOCH=5", "B=2"}, []string{"SOURCE_DATE_EPOCH", "A=3"})
	if d := cmp.Diff([]string{"B=2", "A=3"}, got); d != "" {
		t.Fatal(d)
	}
}

// fakeFS writes a partition image: data at the start, a hole, data at the end.
func fakeFS(t *testing.T, size int64, fill byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fs.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Truncate(size)
	f.WriteAt(bytes.Repeat([]byte{fill}, 8192), 0)
	f.WriteAt(make([]byte, 4096), 8192) // explicit zeros: data, not a hole
	f.WriteAt(bytes.Repeat([]byte{fill}, 4096), size-4096)
	return p
}

func TestWriteDiskAndBmap(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	esp := fakeFS(t, 4*mib, 0xEE)
	root := fakeFS(t, 2*mib, 0x5A)
	size, err := writeDisk(img, "test", []part{
		{label: board.LabelESP, typ: board.TypeESP, size: 4 * mib, contents: esp, dense: 64 * 1024},
		{label: board.LabelRootA, typ: board.TypeRootX8664, size: 3 * mib, contents: root},
		{label: board.LabelRootB, typ: board.TypeRootX8664, size: 3 * mib, contents: root},
	})
	if err != nil {
		t.Fatal(err)
	}
	if size != 12*mib {
		t.Fatalf("size %d, want 12 MiB", size)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := gpt.Read(f, 512, 512)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range tab.Partitions {
		got = append(got, p.Name+"@"+string(rune('0'+p.Start/2048)))
	}
	if d := cmp.Diff([]string{"ESP@1", "root-a@5", "root-b@8"}, got); d != "" {
		t.Fatalf("partitions (-want +got):\n%s", d)
	}
	if tab.Partitions[1].GUID != stableGUID("test/root-a") {
		t.Errorf("root-a GUID %s not derived from its name", tab.Partitions[1].GUID)
	}
	// Contents landed at the partition starts.
	buf := make([]byte, 4)
	f.ReadAt(buf, 5*mib)
	if !bytes.Equal(buf, []byte{0x5A, 0x5A, 0x5A, 0x5A}) {
		t.Fatalf("root-a starts with %x", buf)
	}

	sum, err := writeBmap(img, img+".bmap")
	if err != nil {
		t.Fatal(err)
	}
	all, _ := os.ReadFile(img)
	want := sha256.Sum256(all)
	if sum != hex.EncodeToString(want[:]) {
		t.Fatal("image checksum wrong")
	}
	bmap, _ := os.ReadFile(img + ".bmap")
	// The ESP's dense prefix (64 KiB from 1 MiB: blocks 256-271) is mapped
	// whole; the ESP tail and root-a (with its explicit zeros) merge into one range; holes are not mapped.
	for _, want := range []string{"<ImageSize> 12582912 </ImageSize>", "<BlocksCount> 3072 </BlocksCount>", "> 256-271 <", "> 1279-1282 <", "> 2048-2050 <"} {
		if !strings.Contains(string(bmap), want) {
			t.Errorf("bmap lacks %q:\n%s", want, bmap)
		}
	}
	// The bmap checksum covers the file with the checksum field zeroed.
	m := regexp.MustCompile(`<BmapFileChecksum> ([0-9a-f]{64}) </BmapFileChecksum>`).FindSubmatch(bmap)
	if m == nil {
		t.Fatal("no BmapFileChecksum")
	}
	zeroed := bytes.Replace(bmap, m[1], bytes.Repeat([]byte("0"), 64), 1)
	self := sha256.Sum256(zeroed)
	if hex.EncodeToString(self[:]) != string(m[1]) {
		t.Fatal("BmapFileChecksum does not verify")
	}
}

func TestWriteDiskTooBig(t *testing.T) {
	img := filepath.Join(t.TempDir(), "disk.img")
	_, err := writeDisk(img, "test", []part{{label: "root-a", typ: board.TypeRootX8664, size: mib, contents: fakeFS(t, 2*mib, 1)}})
	if err == nil || !strings.Contains(err.Error(), "partition only") {
		t.Fatalf("err = %v, want a size error", err)
	}
}

func TestFATMetadata(t *testing.T) {
	bs := make([]byte, 512)
	bs[11], bs[12] = 0, 2       // 512 bytes per sector
	bs[13] = 1                  // sectors per cluster
	bs[14] = 32                 // reserved sectors
	bs[16] = 2                  // FATs
	bs[36], bs[37] = 0x00, 0x08 // 2048 sectors per FAT
	bs[510], bs[511] = 0x55, 0xaa
	p := filepath.Join(t.TempDir(), "fat.img")
	os.WriteFile(p, bs, 0o644)
	n, err := fatMetadata(p)
	if err != nil || n != (32+2*2048+1)*512 {
		t.Fatalf("fatMetadata = %d, %v", n, err)
	}
	os.WriteFile(p, make([]byte, 512), 0o644)
	if _, err := fatMetadata(p); err == nil {
		t.Fatal("a zero sector passed as FAT32")
	}
}
