package supervise

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ProcStarter starts real processes, each in its own process group. One reaper
// per process (shared by every ProcStarter) collects every exit with
// wait4(-1), hands supervised ones to their Wait and discards orphans that the
// kernel re-parented to PID 1. Nothing else in the process may wait for
// children (no os/exec.Cmd.Wait).
type ProcStarter struct{}

// reaper is process-wide: two reapers would steal each other's exits.
var reaper struct {
	once    sync.Once
	mu      sync.Mutex // held across start and registration, and per collected exit
	waiting map[int]chan unix.WaitStatus
}

func reap() {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD)
	for range sigs {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			reaper.mu.Lock()
			if ch, ok := reaper.waiting[pid]; ok {
				ch <- ws
				delete(reaper.waiting, pid)
			}
			reaper.mu.Unlock()
		}
	}
}

type proc struct {
	pid  int
	done chan unix.WaitStatus
	out  sync.WaitGroup // output copier
}

// Start implements Starter.
func (ps *ProcStarter) Start(svc Service, out io.Writer) (Proc, error) {
	reaper.once.Do(func() {
		reaper.waiting = map[int]chan unix.WaitStatus{}
		go reap()
	})
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("supervise: pipe for %s: %w", svc.Name, err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("supervise: open %s: %w", os.DevNull, err)
	}
	defer devnull.Close()
	attr := &os.ProcAttr{
		Dir:   svc.Dir,
		Env:   svc.Env,
		Files: []*os.File{devnull, w, w},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	reaper.mu.Lock()
	p, err := os.StartProcess(svc.Path, append([]string{svc.Path}, svc.Args...), attr)
	w.Close()
	if err != nil {
		reaper.mu.Unlock()
		r.Close()
		return nil, fmt.Errorf("supervise: start %s: %w", svc.Name, err)
	}
	pr := &proc{pid: p.Pid, done: make(chan unix.WaitStatus, 1)}
	reaper.waiting[p.Pid] = pr.done
	reaper.mu.Unlock()
	p.Release() // the reaper waits, not os.Process
	pr.out.Add(1)
	go func() {
		defer pr.out.Done()
		io.Copy(out, r)
		r.Close()
	}()
	return pr, nil
}

func (p *proc) Pid() int { return p.pid }

func (p *proc) Wait() string {
	ws := <-p.done
	// A grandchild may keep the pipe open; its output is not worth a hang.
	copied := make(chan struct{})
	go func() { p.out.Wait(); close(copied) }()
	t := time.NewTimer(2 * time.Second)
	select {
	case <-copied:
	case <-t.C:
	}
	t.Stop()
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return "signal: " + ws.Signal().String()
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}

func (p *proc) Signal(sig syscall.Signal) error {
	if err := syscall.Kill(-p.pid, sig); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("supervise: signal %d: %w", p.pid, err)
	}
	return nil
}
