package supervise

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func readOr(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "<none>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFileLogRotation(t *testing.T) {
	cases := []struct {
		name     string
		existing string // "" : no file yet
		max      int64
		writes   []string
		log, old string // contents of name.log and name.log.1
	}{
		{"new file", "", 100, []string{"a\n", "b\n"}, "a\nb\n", "<none>"},
		{"continues the previous boot's file", "boot 1\n", 100, []string{"boot 2\n"}, "boot 1\nboot 2\n", "<none>"},
		{"rotates before passing max", "", 10, []string{"aaaa\n", "bbbb\n", "cccc\n"}, "cccc\n", "aaaa\nbbbb\n"},
		{"exactly max stays", "", 10, []string{"aaaa\n", "bbbb\n"}, "aaaa\nbbbb\n", "<none>"},
		{"second rotation replaces .1", "", 10, []string{"aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n"}, "eeee\n", "cccc\ndddd\n"},
		{"existing size counts", "12345678\n", 10, []string{"xxxx\n"}, "xxxx\n", "12345678\n"},
		{"oversized write cut to max", "", 10, []string{"0123456789abcdef\n"}, "0123456789", "<none>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "svc.log")
			if tc.existing != "" {
				os.WriteFile(p, []byte(tc.existing), 0o644)
			}
			l, err := OpenFileLog(p, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.writes {
				l.Write([]byte(w))
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.log, readOr(t, p)); d != "" {
				t.Errorf("svc.log (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.old, readOr(t, p+".1")); d != "" {
				t.Errorf("svc.log.1 (-want +got):\n%s", d)
			}
		})
	}
}

// TestFileLogBound writes far more than fits: the pair never holds more than
// 2*max bytes and keeps the newest lines, in order.
func TestFileLogBound(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "svc.log")
	const max = 1000
	l, err := openFileLog(p, max, 1<<30, func(f *os.File, b []byte) (int, error) { return f.Write(b) })
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		line := fmt.Sprintf("%d %s\n", i, strings.Repeat("x", rng.IntN(200)))
		all.WriteString(line)
		l.Write([]byte(line))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("%d files in the log directory, want svc.log and svc.log.1", len(entries))
	}
	kept := readOr(t, p+".1") + readOr(t, p)
	for _, f := range []string{p, p + ".1"} {
		if st, _ := os.Stat(f); st.Size() > max {
			t.Errorf("%s is %d bytes, over the %d bound", f, st.Size(), max)
		}
	}
	if len(kept) < max || !strings.HasSuffix(all.String(), kept) {
		t.Fatalf("the two files (%d bytes) are not the newest lines in order", len(kept))
	}
	if l.Dropped() != 0 {
		t.Fatalf("dropped %d with an unbounded queue", l.Dropped())
	}
}

// TestFileLogNeverBlocks stalls the disk: writes return at once, the overflow
// is counted, and the file says so once the disk is back.
func TestFileLogNeverBlocks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "svc.log")
	stall := make(chan struct{})
	l, err := openFileLog(p, 1<<20, 100, func(f *os.File, b []byte) (int, error) {
		<-stall
		return f.Write(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for i := range 1000 {
			fmt.Fprintf(l, "line %d\n", i)
		}
	}()
	select {
	case <-wrote:
	case <-time.After(10 * time.Second): // hang guard
		t.Fatal("Write blocked on a stalled disk")
	}
	if l.Dropped() < 900 {
		t.Fatalf("dropped %d of 1000 lines with a 100-byte queue and a stalled disk", l.Dropped())
	}
	close(stall)
	for deadline := time.Now().Add(10 * time.Second); l.queuedBytes() > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the queue did not drain")
		}
	}
	fmt.Fprintln(l, "after the stall")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := readOr(t, p)
	m := regexp.MustCompile(`^line 0\n(line \d+\n)+--- (\d+) log lines dropped here: the disk was too slow or failing ---\nafter the stall\n$`).FindStringSubmatch(got)
	if m == nil || m[2] != fmt.Sprint(l.Dropped()) {
		t.Fatalf("log after a stall (%d dropped):\n%s", l.Dropped(), got)
	}
}

// TestFileLogCloseBounded: a disk that never returns does not hang Close.
func TestFileLogCloseBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := make(chan struct{})
		defer close(hang)
		l, err := openFileLog(filepath.Join(t.TempDir(), "svc.log"), 0, 100, func(*os.File, []byte) (int, error) {
			<-hang
			return 0, fmt.Errorf("EIO")
		})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(l, "stuck")
		t0 := time.Now()
		if err := l.Close(); err == nil || time.Since(t0) != closeWait {
			t.Fatalf("Close = %v after %v, want an error after %v", err, time.Since(t0), closeWait)
		}
	})
}

// TestSupervisorLogDir: a service's output lands in LogDir/<name>.log with a
// timestamp, between lines marking its start and stop.
func TestSupervisorLogDir(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "logs")
		f := &fakeStarter{}
		s := &Supervisor{Starter: f, Log: quiet(), LogDir: dir}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { s.Run(ctx, []Service{{Name: "svc"}}); close(done) }()
		synctest.Wait()
		cancel()
		<-done
		want := "2000-01-01T00:00:00.000Z --- starting svc ---\n" +
			"2000-01-01T00:00:00.000Z hello from svc 1\n" +
			"2000-01-01T00:00:00.000Z --- svc stopped (signal: terminated) ---\n"
		if d := cmp.Diff(want, readOr(t, filepath.Join(dir, "svc.log"))); d != "" {
			t.Fatalf("svc.log (-want +got):\n%s", d)
		}
	})
}

func (l *FileLog) queuedBytes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.queued
}
