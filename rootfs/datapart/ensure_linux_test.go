package datapart

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheck runs the host's e2fsck on small ext4 images in the states a box
// meets: clean, primary superblock lost (a backup repairs it), nothing left.
func TestCheck(t *testing.T) {
	fsck, err := exec.LookPath("e2fsck")
	if err != nil {
		t.Skip("e2fsck not installed (e2fsprogs)")
	}
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		t.Skip("mkfs.ext4 not installed (e2fsprogs)")
	}
	const size = 256 << 20
	cases := []struct {
		name   string
		damage func(t *testing.T, f *os.File) // may close f
		want   string
	}{
		{"clean", func(*testing.T, *os.File) {}, ""},
		{"superblock zeroed", func(_ *testing.T, f *os.File) { f.WriteAt(make([]byte, 1024), 1024) }, "fsck repaired errors (exit 1)"},
		// As after an online resize: the kernel copied a superblock saying
		// "journal needs recovery" into the backups.
		{"superblock zeroed, backups need recovery", func(t *testing.T, f *os.File) {
			f.Close()
			if out, err := exec.Command("debugfs", "-w", "-R", "feature needs_recovery", f.Name()).CombinedOutput(); err != nil {
				t.Skipf("debugfs: %v %s", err, out)
			}
			g, _ := os.OpenFile(f.Name(), os.O_RDWR, 0)
			g.WriteAt(make([]byte, 1024), 1024)
			g.Close()
		}, "fsck repaired errors (exit 1)"},
		{"all zero", func(_ *testing.T, f *os.File) { f.Truncate(0); f.Truncate(size) }, "fsck left errors (exit 8)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "data.ext4")
			f, err := os.Create(img)
			if err != nil {
				t.Fatal(err)
			}
			f.Truncate(size) // sparse; two block groups, so a backup superblock exists
			f.Close()
			if out, err := exec.Command(mkfs, "-q", "-F", "-b", "4096", img).CombinedOutput(); err != nil {
				t.Fatalf("mkfs: %v %s", err, out)
			}
			f, _ = os.OpenFile(img, os.O_RDWR, 0)
			tc.damage(t, f)
			f.Close()
			got := check(context.Background(), Config{Fsck: fsck, Log: slog.New(slog.DiscardHandler)}, img)
			if !strings.HasPrefix(got, tc.want) || (tc.want == "" && got != "") {
				t.Fatalf("check = %q, want it to start with %q", got, tc.want)
			}
			if strings.Contains(got, "\n") || len(got) > 300 {
				t.Fatalf("check = %q: a problem report is one short line (the log has fsck's output)", got)
			}
		})
	}
}
