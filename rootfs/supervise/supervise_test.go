package supervise

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRing(t *testing.T) {
	cases := []struct {
		name   string
		size   int
		writes []string
		want   []string
	}{
		{"empty", 3, nil, nil},
		{"partial line held back", 3, []string{"a\nb"}, []string{"a"}},
		{"line split across writes", 3, []string{"he", "llo\nwor", "ld\n"}, []string{"hello", "world"}},
		{"wraps, oldest dropped", 2, []string{"1\n2\n3\n"}, []string{"2", "3"}},
		{"exactly full", 2, []string{"1\n2\n"}, []string{"1", "2"}},
		{"long line split", 3, []string{strings.Repeat("x", maxLine+1) + "\n"}, []string{strings.Repeat("x", maxLine), "x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRing(tc.size)
			var teed []string
			r.tee = func(l string) { teed = append(teed, l) }
			for _, w := range tc.writes {
				r.Write([]byte(w))
			}
			if d := cmp.Diff(tc.want, r.Lines()); d != "" {
				t.Errorf("Lines (-want +got):\n%s", d)
			}
			if len(tc.want) > 0 && teed[len(teed)-1] != tc.want[len(tc.want)-1] {
				t.Errorf("tee got %q", teed)
			}
		})
	}
}

// fakeStarter starts fake processes whose exits the test controls.
type fakeStarter struct {
	mu     sync.Mutex
	starts []time.Time
	procs  []*fakeProc
	fail   bool
}

type fakeProc struct {
	pid    int
	exit   chan string
	signal chan syscall.Signal
	// ignoreTerm makes the process survive SIGTERM.
	ignoreTerm bool
}

func (f *fakeStarter) Start(svc Service, out io.Writer) (Proc, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, time.Now())
	if f.fail {
		return nil, fmt.Errorf("no such file")
	}
	fmt.Fprintf(out, "hello from %s %d\n", svc.Name, len(f.starts))
	p := &fakeProc{pid: 100 + len(f.starts), exit: make(chan string, 1), signal: make(chan syscall.Signal, 2)}
	f.procs = append(f.procs, p)
	return p, nil
}

func (f *fakeStarter) last() *fakeProc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.procs[len(f.procs)-1]
}

func (f *fakeStarter) offsets(t0 time.Time) []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Duration
	for _, s := range f.starts {
		out = append(out, s.Sub(t0))
	}
	return out
}

func (p *fakeProc) Pid() int { return p.pid }
func (p *fakeProc) Wait() string {
	return <-p.exit
}
func (p *fakeProc) Signal(sig syscall.Signal) error {
	if sig == syscall.SIGKILL || !p.ignoreTerm {
		select {
		case p.exit <- "signal: " + sig.String():
		default:
		}
	}
	return nil
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestBackoff drives the restart schedule on synctest's fake clock: crashes
// double the delay up to the cap, a stable run resets it.
func TestBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeStarter{}
		s := &Supervisor{Starter: f, Log: quiet(), MinBackoff: time.Second, MaxBackoff: 4 * time.Second, StableAfter: 30 * time.Second}
		ctx, cancel := context.WithCancel(t.Context())
		t0 := time.Now()
		done := make(chan struct{})
		go func() { s.Run(ctx, []Service{{Name: "svc"}}); close(done) }()
		crash := func() {
			synctest.Wait()
			f.last().exit <- "exit status 1"
		}
		for range 5 { // crash immediately five times
			crash()
			synctest.Wait()
			time.Sleep(5 * time.Second) // past any back-off
		}
		synctest.Wait()
		// Starts at 0, then each crash waits 1, 2, 4, 4, 4 s (capped) after the crash.
		// Crashes happen at 0, 5, 10, 15, 20 s of fake time.
		want := []time.Duration{0, 1 * time.Second, 7 * time.Second, 14 * time.Second, 19 * time.Second, 24 * time.Second}
		if d := cmp.Diff(want, f.offsets(t0)); d != "" {
			t.Fatalf("start times (-want +got):\n%s", d)
		}
		// Run stably for a minute, then crash: the delay is back to 1 s.
		time.Sleep(time.Minute)
		crash()
		synctest.Wait()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		got := f.offsets(t0)
		if n := len(got); got[n-1]-got[n-2] != 61*time.Second+time.Second {
			t.Fatalf("after a stable run the restart came %v after the previous start, want 62s", got[n-1]-got[n-2])
		}
		st := s.Status()
		if st[0].Restarts != 6 || st[0].State != Running || st[0].LastExit != "exit status 1" {
			t.Fatalf("status %+v", st[0])
		}
		if logs := s.Logs("svc"); len(logs) != 7 || logs[6] != "hello from svc 7" {
			t.Fatalf("logs %q", logs)
		}
		cancel()
		<-done
		if st := s.Status(); st[0].State != Stopped {
			t.Fatalf("after stop: %+v", st[0])
		}
	})
}

func TestStopKillsAfterTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeStarter{}
		s := &Supervisor{Starter: f, Log: quiet(), StopTimeout: 10 * time.Second}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { s.Run(ctx, []Service{{Name: "stubborn"}}); close(done) }()
		synctest.Wait()
		f.last().ignoreTerm = true
		t0 := time.Now()
		cancel()
		<-done
		if took := time.Since(t0); took != 10*time.Second {
			t.Fatalf("stop took %v of fake time, want the 10s StopTimeout", took)
		}
		if st := s.Status(); st[0].LastExit != "signal: killed" {
			t.Fatalf("last exit %q, want a kill", st[0].LastExit)
		}
	})
}

func TestStartFailureBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeStarter{fail: true}
		s := &Supervisor{Starter: f, Log: quiet()}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { s.Run(ctx, []Service{{Name: "missing"}}); close(done) }()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		// 0, 1, 3, 7 s: a missing binary does not spin.
		if n := len(f.offsets(time.Now())); n != 4 {
			t.Fatalf("%d starts in 10 s, want 4", n)
		}
		if st := s.Status(); st[0].State != Backoff || !strings.Contains(st[0].LastExit, "no such file") {
			t.Fatalf("status %+v", st[0])
		}
		cancel()
		<-done
	})
}
