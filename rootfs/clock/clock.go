// Package clock keeps the system clock sane for TLS: never earlier than the
// image's build time, and set by NTP once the network is up.
//
// In: the build time (SOURCE_DATE_EPOCH of the image), a function naming the
// NTP servers ("host" or "host:port", asked in order) and where that list came
// from (the init's: site config, DHCP, or the defaults), a Query function
// (NTPQuery: github.com/beevik/ntp) and a Set function (settimeofday on Linux).
// Out: the clock stepped when it is off, and a Status (synced or not, from which
// server, where the server list came from, the offset, the last problem) for the
// console and /run/outpost/boot.json. An NTP answer that would put the clock
// before the build time is refused: that is a broken or hostile server, not news.
//
// # Usage
//
//	clock.Floor(buildTime, clock.SetSystem) // first thing in the init
//	servers := func() ([]string, string) { return []string{"10.1.0.5", "ntp.corp.example:1123"}, "config" }
//	s := &clock.Syncer{Floor: buildTime, Servers: servers, Query: clock.NTPQuery, Set: clock.SetSystem, Log: log}
//	go s.Run(ctx)
package clock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/beevik/ntp"
)

// Floor steps the clock to floor if it is earlier (a board without a
// battery-backed RTC starts in 1970). It reports whether it stepped.
func Floor(floor time.Time, set func(time.Time) error) (bool, error) {
	if now := time.Now(); !now.Before(floor) {
		return false, nil
	}
	if err := set(floor); err != nil {
		return false, fmt.Errorf("clock: set to build time %s: %w", floor.UTC().Format(time.RFC3339), err)
	}
	return true, nil
}

// ErrBeforeFloor means an NTP answer pointed before the build time.
var ErrBeforeFloor = errors.New("clock: NTP time is before the image's build time")

// Status is the clock's state.
type Status struct {
	Synced bool   `json:"synced"`
	Server string `json:"server,omitempty"`
	// ServersFrom is where the servers asked came from, as Servers said
	// (the init: "config", "dhcp", "config+dhcp" or "default").
	ServersFrom string        `json:"servers_from,omitempty"`
	Offset      time.Duration `json:"offset_ns,omitempty"`
	When        time.Time     `json:"when,omitzero"`
	Problem     string        `json:"problem,omitempty"`
}

// DefaultPort is the NTP port used when a server names none.
const DefaultPort = 123

// ServerAddr turns "host", "host:port", an IPv6 address or "[v6]:port" into a
// "host:port" to dial, with DefaultPort when none is given.
func ServerAddr(server string) (string, error) {
	if server == "" {
		return "", errors.New("clock: empty NTP server name")
	}
	if host, port, err := net.SplitHostPort(server); err == nil {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || host == "" {
			return "", fmt.Errorf("clock: NTP server %q: bad port or host", server)
		}
		return net.JoinHostPort(host, port), nil
	}
	host := server
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if strings.ContainsAny(host, "[]") || strings.Count(host, ":") == 1 {
		return "", fmt.Errorf("clock: NTP server %q: not a host or host:port", server)
	}
	return net.JoinHostPort(host, strconv.Itoa(DefaultPort)), nil
}

// NTPQuery asks one server ("host" or "host:port", port 123 by default) for
// the clock offset (beevik/ntp, answer validated).
func NTPQuery(ctx context.Context, server string) (time.Duration, error) {
	addr, err := ServerAddr(server)
	if err != nil {
		return 0, err
	}
	timeout := 5 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	resp, err := ntp.QueryWithOptions(addr, ntp.QueryOptions{Timeout: timeout})
	if err != nil {
		return 0, err
	}
	if err := resp.Validate(); err != nil {
		return 0, err
	}
	return resp.ClockOffset, nil
}

// Syncer sets the clock from NTP periodically.
type Syncer struct {
	Floor time.Time
	// Servers returns the servers to ask, in order until one answers, and a
	// word for where the list came from (Status.ServersFrom). It is called
	// every round, so a changed list takes effect at the next sync.
	Servers func() (servers []string, from string)
	Query   func(ctx context.Context, server string) (time.Duration, error)
	Set     func(time.Time) error
	Log     *slog.Logger
	// Every is the interval after a success [1h]; failures retry sooner,
	// backing off from 10 s to Every.
	Every time.Duration
	// Step is the smallest offset worth stepping the clock for [100ms].
	Step time.Duration
	// OnChange gets the status after each attempt. It must not block.
	OnChange func(Status)

	mu     sync.Mutex
	status Status
}

// Status returns the last attempt's result.
func (s *Syncer) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Run syncs until ctx ends.
func (s *Syncer) Run(ctx context.Context) {
	if s.Every == 0 {
		s.Every = time.Hour
	}
	if s.Step == 0 {
		s.Step = 100 * time.Millisecond
	}
	retry := 10 * time.Second
	failures := 0
	for {
		st := s.Once(ctx)
		wait := s.Every
		if st.Synced {
			retry, failures = 10*time.Second, 0
		} else {
			failures++
			if failures == 1 || failures%10 == 0 {
				s.Log.Warn("clock: NTP failed; the clock may be wrong, TLS may fail", "problem", st.Problem, "failures", failures)
			}
			wait, retry = retry, min(retry*2, s.Every)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Once asks the servers in order and steps the clock with the first answer.
func (s *Syncer) Once(ctx context.Context) Status {
	var problems []error
	servers, from := s.Servers()
	st := Status{ServersFrom: from}
	if len(servers) == 0 {
		problems = append(problems, errors.New("no NTP servers known"))
	}
	for _, srv := range servers {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		off, err := s.Query(qctx, srv)
		cancel()
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", srv, err))
			continue
		}
		target := time.Now().Add(off)
		if target.Before(s.Floor) {
			problems = append(problems, fmt.Errorf("%s: %w (it says %s)", srv, ErrBeforeFloor, target.UTC().Format(time.RFC3339)))
			continue
		}
		if off > s.Step || off < -s.Step {
			if err := s.Set(target); err != nil {
				problems = append(problems, fmt.Errorf("set clock: %w", err))
				break
			}
			s.Log.Info("clock: stepped by NTP", "server", srv, "offset", off)
		}
		st = Status{Synced: true, Server: srv, ServersFrom: from, Offset: off, When: time.Now()}
		break
	}
	if !st.Synced {
		st.Problem = errors.Join(problems...).Error()
		if len(servers) > 0 {
			st.Problem = "no NTP server answered: " + strings.ReplaceAll(st.Problem, "\n", "; ")
		}
	}
	s.mu.Lock()
	s.status = st
	s.mu.Unlock()
	if s.OnChange != nil {
		s.OnChange(st)
	}
	return st
}
