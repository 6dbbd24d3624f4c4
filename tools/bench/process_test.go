package bench

import (
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as a child process: BENCH_HELPER=sleep waits for a
// signal, BENCH_HELPER=stubborn ignores SIGTERM, BENCH_HELPER=exit exits at once.
func TestMain(m *testing.M) {
	switch os.Getenv("BENCH_HELPER") {
	case "sleep":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		select {
		case <-c:
		case <-time.After(time.Minute):
		}
		os.Exit(0)
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(time.Minute)
		os.Exit(0)
	case "exit":
		os.Exit(3)
	}
	os.Exit(m.Run())
}

func startHelper(t *testing.T, mode string) *Process {
	t.Helper()
	t.Setenv("BENCH_HELPER", mode)
	p, err := StartProcess("helper-"+mode, os.Args[0], []string{"-test.run=^$"}, filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(time.Second) })
	return p
}

func TestProcessStop(t *testing.T) {
	for _, mode := range []string{"sleep", "stubborn", "exit"} {
		t.Run(mode, func(t *testing.T) {
			p := startHelper(t, mode)
			if p.PID() <= 0 {
				t.Fatalf("pid %d", p.PID())
			}
			if err := p.Stop(200 * time.Millisecond); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			select {
			case <-p.Done():
			default:
				t.Fatal("Stop returned before the process exited")
			}
			if err := p.cmd.Process.Signal(syscall.Signal(0)); !errors.Is(err, os.ErrProcessDone) {
				t.Errorf("signal after Stop: %v, want ErrProcessDone", err)
			}
		})
	}
}

func TestWaitHTTPExited(t *testing.T) {
	p := startHelper(t, "exit")
	err := p.WaitHTTP(t.Context(), "http://127.0.0.1:1/", time.Minute)
	if !errors.Is(err, ErrExited) {
		t.Errorf("WaitHTTP: %v, want ErrExited", err)
	}
}

func TestWaitHTTPNotReady(t *testing.T) {
	p := startHelper(t, "sleep")
	err := p.WaitHTTP(t.Context(), "http://127.0.0.1:1/", 300*time.Millisecond)
	if !errors.Is(err, ErrNotReady) {
		t.Errorf("WaitHTTP: %v, want ErrNotReady", err)
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:80", true}, {"[::1]:80", true}, {"127.0.0.2:80", true},
		{"0.0.0.0:80", false}, {"[::]:80", false}, {"10.0.0.1:80", false}, {"localhost:80", false}, {"127.0.0.1", false},
	}
	for _, tt := range tests {
		err := CheckLoopback(tt.addr)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrNotLoopback)) {
			t.Errorf("CheckLoopback(%q) = %v, want ok %v", tt.addr, err, tt.ok)
		}
	}
}
