package image

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func testArchive() *CPIO {
	var c CPIO
	c.File("init", 0o755, []byte("#!/bin/sh\n"))
	c.File("lib/modules/6.1.0-56-amd64/kernel/fs/ext4/ext4.ko", 0o644, []byte("ko"))
	c.Dir("proc", 0o755)
	c.CharDev("dev/console", 0o600, 5, 1)
	c.Symlink("bin/sh", "../init")
	return &c
}

// TestCPIOGolden pins the exact bytes: the initramfs must not change unless
// its inputs do.
func TestCPIOGolden(t *testing.T) {
	var b bytes.Buffer
	if _, err := testArchive().WriteTo(&b, 1700000000); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "small.cpio")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(golden, b.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Fatalf("archive differs from %s", golden)
	}
	if b.Len()%4 != 0 {
		t.Fatalf("archive length %d not 4-aligned", b.Len())
	}
}

// TestCPIOReadableByGNUcpio checks the archive with an independent reader
// when GNU cpio is installed.
func TestCPIOReadableByGNUcpio(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed")
	}
	var b bytes.Buffer
	testArchive().WriteTo(&b, 1700000000)
	cmd := exec.Command("cpio", "-t", "-v", "--quiet")
	cmd.Stdin = &b
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -t: %v\n%s", err, out)
	}
	for _, want := range []string{"init", "lib/modules/6.1.0-56-amd64/kernel/fs/ext4/ext4.ko", "dev/console", "bin/sh -> ../init", "crw-------"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("cpio listing lacks %q:\n%s", want, out)
		}
	}
}
