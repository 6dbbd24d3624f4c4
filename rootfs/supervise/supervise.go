// Package supervise runs the box's services and restarts them when they exit,
// with exponential back-off, keeping each one's recent output in a ring and in
// a size-bounded file.
//
// In: Service descriptions (path, arguments, environment) and a Starter that
// turns one into a running process (on Linux, ProcStarter: its own process
// group, output through pipes, exits collected by the one reaper PID 1 needs).
// Out: running services; Status (pid, state, restarts, last exit) and Logs (the
// last lines of output per service, also mirrored to the console) for the
// console and the status file; with LogDir set, every line also in
// LogDir/<name>.log with a UTC timestamp (FileLog: rotated to <name>.log.1 at
// 1 MiB, so at most 2 MiB per service, and never blocking the service on a
// slow disk: lines are dropped and counted instead, and the file says so); on
// context end, SIGTERM to each process group, SIGKILL after StopTimeout.
//
// Unlike gokrazy's supervisor, which restarts every second forever, a crashing
// service backs off (1 s, 2 s, 4 s ... 1 min) and returns to a quick restart only
// after it stayed up for StableAfter, so a crash loop cannot starve the box.
//
// # Usage
//
//	s := &supervise.Supervisor{Starter: &supervise.ProcStarter{}, Log: log, Console: os.Stderr,
//		LogDir: "/data/outpost/logs"}
//	go s.Run(ctx, []supervise.Service{{Name: "outpostd", Path: "/bin/outpostd", Args: []string{"-config", cfg}}})
package supervise

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

// TimeFormat stamps each line in a service's log file (UTC).
const TimeFormat = "2006-01-02T15:04:05.000Z"

// Service is one supervised program.
type Service struct {
	Name string
	Path string
	Args []string // without argv[0]
	Env  []string
	Dir  string
}

// Proc is a started process.
type Proc interface {
	Pid() int
	// Wait blocks until the process exits and describes how ("exit status 2",
	// "signal: killed").
	Wait() string
	// Signal signals the process's whole group.
	Signal(sig syscall.Signal) error
}

// Starter starts processes.
type Starter interface {
	Start(svc Service, out io.Writer) (Proc, error)
}

// State of a service.
type State string

const (
	Running  State = "running"
	Backoff  State = "backoff" // exited, waiting to restart
	Stopping State = "stopping"
	Stopped  State = "stopped"
)

// Status is one service's state.
type Status struct {
	Name      string    `json:"name"`
	State     State     `json:"state"`
	Pid       int       `json:"pid,omitempty"`
	Started   time.Time `json:"started,omitzero"`
	Restarts  int       `json:"restarts"`
	LastExit  string    `json:"last_exit,omitempty"`
	NextStart time.Time `json:"next_start,omitzero"`
}

// Supervisor runs services. Zero durations take the defaults in brackets.
type Supervisor struct {
	Starter     Starter
	Log         *slog.Logger
	Console     io.Writer     // output lines mirrored as "name: line"; nil: not mirrored
	RingLines   int           // lines kept per service [1000]
	MinBackoff  time.Duration // first restart delay [1s]
	MaxBackoff  time.Duration // cap [1m]
	StableAfter time.Duration // uptime after which the delay resets [30s]
	StopTimeout time.Duration // SIGTERM to SIGKILL [10s]
	// LogDir, when set, also keeps each service's output in LogDir/<name>.log
	// (a FileLog; the directory is created). Empty: output lives in the rings only.
	LogDir string
	LogMax int64 // size at which a service's file rotates [DefaultLogMax]

	mu     sync.Mutex
	status map[string]*Status
	rings  map[string]*Ring
	files  map[string]*FileLog
	order  []string
}

func (s *Supervisor) defaults() {
	if s.RingLines == 0 {
		s.RingLines = 1000
	}
	if s.MinBackoff == 0 {
		s.MinBackoff = time.Second
	}
	if s.MaxBackoff == 0 {
		s.MaxBackoff = time.Minute
	}
	if s.StableAfter == 0 {
		s.StableAfter = 30 * time.Second
	}
	if s.StopTimeout == 0 {
		s.StopTimeout = 10 * time.Second
	}
}

// Run supervises svcs until ctx ends, then stops them and returns when all
// have exited.
func (s *Supervisor) Run(ctx context.Context, svcs []Service) {
	s.defaults()
	if s.LogDir != "" {
		if err := os.MkdirAll(s.LogDir, 0o755); err != nil {
			s.Log.Error("supervise: log directory", "err", err)
		}
	}
	s.mu.Lock()
	if s.status == nil {
		s.status, s.rings, s.files = map[string]*Status{}, map[string]*Ring{}, map[string]*FileLog{}
	}
	for _, svc := range svcs {
		s.status[svc.Name] = &Status{Name: svc.Name, State: Stopped}
		var file *FileLog
		if s.LogDir != "" {
			var err error
			if file, err = OpenFileLog(filepath.Join(s.LogDir, svc.Name+".log"), s.LogMax); err != nil {
				s.Log.Error("supervise: output stays in memory only", "service", svc.Name, "err", err)
			}
			s.files[svc.Name] = file
		}
		r := NewRing(s.RingLines)
		if s.Console != nil || file != nil {
			name, console := svc.Name, s.Console
			r.tee = func(line string) {
				if console != nil {
					fmt.Fprintf(console, "%s: %s\n", name, line)
				}
				if file != nil {
					fmt.Fprintf(file, "%s %s\n", time.Now().UTC().Format(TimeFormat), line)
				}
			}
		}
		s.rings[svc.Name] = r
		s.order = append(s.order, svc.Name)
	}
	s.mu.Unlock()
	defer func() {
		for _, svc := range svcs {
			if f := s.file(svc.Name); f != nil {
				if err := f.Close(); err != nil {
					s.Log.Warn("supervise: close log", "service", svc.Name, "err", err)
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for _, svc := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.supervise(ctx, svc)
		}()
	}
	wg.Wait()
}

func (s *Supervisor) set(name string, f func(*Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.status[name])
}

func (s *Supervisor) supervise(ctx context.Context, svc Service) {
	log := s.Log.With("service", svc.Name)
	delay := s.MinBackoff
	for ctx.Err() == nil {
		ring := s.ring(svc.Name)
		started := time.Now()
		s.mark(svc.Name, "starting "+svc.Name)
		p, err := s.Starter.Start(svc, ring)
		var exit string
		if err != nil {
			exit = "start failed: " + err.Error()
			log.Error("supervise: start", "err", err)
		} else {
			s.set(svc.Name, func(st *Status) { st.State, st.Pid, st.Started, st.NextStart = Running, p.Pid(), started, time.Time{} })
			log.Info("supervise: started", "pid", p.Pid())
			exited := make(chan string, 1)
			go func() { exited <- p.Wait() }()
			select {
			case exit = <-exited:
			case <-ctx.Done():
				s.stop(svc.Name, p, exited, log)
				return
			}
		}
		up := time.Since(started)
		if up >= s.StableAfter {
			delay = s.MinBackoff
		}
		log.Warn("supervise: exited, restarting", "how", exit, "uptime", up.Round(time.Millisecond), "in", delay)
		s.mark(svc.Name, fmt.Sprintf("%s exited (%s) after %v, restarting in %v", svc.Name, exit, up.Round(time.Millisecond), delay))
		s.set(svc.Name, func(st *Status) {
			st.State, st.Pid, st.LastExit, st.NextStart = Backoff, 0, exit, time.Now().Add(delay)
			st.Restarts++
		})
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		delay = min(delay*2, s.MaxBackoff)
	}
	s.set(svc.Name, func(st *Status) { st.State, st.Pid, st.NextStart = Stopped, 0, time.Time{} })
}

func (s *Supervisor) stop(name string, p Proc, exited <-chan string, log *slog.Logger) {
	s.set(name, func(st *Status) { st.State = Stopping })
	p.Signal(syscall.SIGTERM)
	t := time.NewTimer(s.StopTimeout)
	defer t.Stop()
	var exit string
	select {
	case exit = <-exited:
	case <-t.C:
		log.Warn("supervise: no exit after SIGTERM, killing", "after", s.StopTimeout)
		p.Signal(syscall.SIGKILL)
		exit = <-exited
	}
	log.Info("supervise: stopped", "how", exit)
	s.mark(name, name+" stopped ("+exit+")")
	s.set(name, func(st *Status) { st.State, st.Pid, st.LastExit = Stopped, 0, exit })
}

// mark writes a line of the supervisor's own into the service's log file.
func (s *Supervisor) mark(name, what string) {
	if f := s.file(name); f != nil {
		fmt.Fprintf(f, "%s --- %s ---\n", time.Now().UTC().Format(TimeFormat), what)
	}
}

func (s *Supervisor) file(name string) *FileLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files[name]
}

func (s *Supervisor) ring(name string) *Ring {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rings[name]
}

// Status returns every service's state, in the order Run received them.
func (s *Supervisor) Status() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Status
	for _, n := range s.order {
		out = append(out, *s.status[n])
	}
	return out
}

// Logs returns the service's last output lines, or nil for an unknown name.
func (s *Supervisor) Logs(name string) []string {
	r := s.ring(name)
	if r == nil {
		return nil
	}
	return slices.Clip(r.Lines())
}
