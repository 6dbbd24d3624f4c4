package bench

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeProc builds a /proc tree: nginx master 100 with workers 101 and 102, an unrelated
// 200 whose comm contains ") 100 (", and a non-process entry.
func fakeProc(t *testing.T) {
	t.Helper()
	root := t.TempDir()
	write := func(pid, name, body string) {
		dir := filepath.Join(root, pid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Fields after comm: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
	write("100", "stat", "100 (nginx) S 1 100 100 0 -1 4194560 10 0 0 0 50 25 0 0 20 0 1 0\n")
	write("101", "stat", "101 (nginx) S 100 100 100 0 -1 4194624 10 0 0 0 300 100 0 0 20 0 1 0\n")
	write("102", "stat", "102 (nginx) S 100 100 100 0 -1 4194624 10 0 0 0 100 25 0 0 20 0 1 0\n")
	write("200", "stat", "200 (evil) 100 (x) S 7 200 200 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0\n")
	write("100", "status", "Name:\tnginx\nVmRSS:\t    4000 kB\nThreads:\t1\n")
	write("101", "status", "Name:\tnginx\nVmRSS:\t   10000 kB\n")
	write("102", "status", "Name:\tnginx\nVmRSS:\t   12000 kB\n")
	write("100", "smaps_rollup", "Rss:  4000 kB\nPss:  1000 kB\n")
	write("101", "smaps_rollup", "Rss: 10000 kB\nPss:  6000 kB\n")
	// 102 has no smaps_rollup: its PSS counts as zero.
	if err := os.MkdirAll(filepath.Join(root, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := procRoot
	procRoot = root
	t.Cleanup(func() { procRoot = old })
}

func TestChildren(t *testing.T) {
	fakeProc(t)
	got, err := Children(100)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if diff := cmp.Diff([]int{101, 102}, got); diff != "" {
		t.Errorf("Children (-want +got):\n%s", diff)
	}
}

func TestTreeMemory(t *testing.T) {
	fakeProc(t)
	got, err := TreeMemory(100)
	if err != nil {
		t.Fatal(err)
	}
	want := Memory{RSS: 26000 * 1024, PSS: 7000 * 1024}
	if got != want {
		t.Errorf("TreeMemory = %+v, want %+v", got, want)
	}
	if _, err := TreeMemory(999); err == nil {
		t.Error("TreeMemory of a missing pid: no error")
	}
}

func TestTreeCPU(t *testing.T) {
	fakeProc(t)
	got, err := TreeCPU(100)
	if err != nil {
		t.Fatal(err)
	}
	if want := 6 * time.Second; got != want { // (75 + 400 + 125) ticks at 100 Hz
		t.Errorf("TreeCPU = %v, want %v", got, want)
	}
}

func TestKBField(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
		wantErr  bool
	}{
		{"present", "VmPeak:\t 1 kB\nVmRSS:\t  2048 kB\n", 2048 * 1024, false},
		{"missing", "VmPeak:\t 1 kB\n", 0, true},
		{"no unit", "VmRSS:\t 12\n", 0, true},
		{"negative", "VmRSS:\t -1 kB\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kBField([]byte(tt.in), "VmRSS:")
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("kBField = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestTreeMemorySelf reads the real /proc for this test process.
func TestTreeMemorySelf(t *testing.T) {
	m, err := TreeMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 {
		t.Errorf("RSS of this process = %d", m.RSS)
	}
	s := StartRSSSampler(os.Getpid(), time.Millisecond)
	peak, n := s.Stop()
	if n < 1 || peak.RSS <= 0 {
		t.Errorf("sampler: %d samples, peak %+v", n, peak)
	}
}
