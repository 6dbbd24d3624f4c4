package supervise

import (
	"bytes"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestProcStarter(t *testing.T) {
	// The reaper lives as long as PID 1 does; nothing else may linger.
	defer goleak.VerifyNone(t, goleak.IgnoreTopFunction("os/signal.signal_recv"), goleak.IgnoreAnyFunction("github.com/outpost-ecdn/outpost/rootfs/supervise.reap"))
	ps := &ProcStarter{}
	cases := []struct {
		name   string
		script string
		signal syscall.Signal
		exit   string
		out    string
	}{
		{"exit code and both streams", "echo out; echo err >&2; exit 3", 0, "exit status 3", "out\nerr\n"},
		{"orphan does not confuse the reaper", "(sleep 0.1 &) ; echo parent", 0, "exit status 0", "parent\n"},
		{"term reaches the group", "sleep 60 & wait", syscall.SIGTERM, "signal: terminated", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out syncBuf
			p, err := ps.Start(Service{Name: "sh", Path: "/bin/sh", Args: []string{"-c", tc.script}}, &out)
			if err != nil {
				t.Fatal(err)
			}
			if tc.signal != 0 {
				time.Sleep(100 * time.Millisecond) // let the shell install its child; not an assertion
				p.Signal(tc.signal)
			}
			exited := make(chan string, 1)
			go func() { exited <- p.Wait() }()
			select {
			case got := <-exited:
				if got != tc.exit {
					t.Errorf("exit %q, want %q", got, tc.exit)
				}
			case <-time.After(30 * time.Second): // hang guard
				t.Fatal("process did not exit")
			}
			if got := out.String(); tc.out != "" && got != tc.out {
				t.Errorf("output %q, want %q", got, tc.out)
			}
		})
	}
	if _, err := ps.Start(Service{Name: "none", Path: "/nonexistent/binary"}, &syncBuf{}); err == nil || !strings.Contains(err.Error(), "start none") {
		t.Fatalf("start of a missing binary: %v", err)
	}
}
