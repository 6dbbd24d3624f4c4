// Package clock keeps the system clock sane for TLS: never earlier than the
// image's build time, and set by NTP once the network is up.
//
// In: the build time (SOURCE_DATE_EPOCH of the image), NTP server names (from
// DHCP or the defaults), a Query function (github.com/beevik/ntp in
// production) and a Set function (settimeofday on Linux). Out: the clock stepped
// when it is off, and a Status (synced or not, from which server, the offset,
// the last problem) for the console and /run/outpost/boot.json. An NTP answer
// that would put the clock before the build time is refused: that is a broken
// or hostile server, not news.
//
// # Usage
//
//	clock.Floor(buildTime, clock.SetSystem) // first thing in the init
//	s := &clock.Syncer{Floor: buildTime, Servers: servers, Query: clock.NTPQuery, Set: clock.SetSystem, Log: log}
//	go s.Run(ctx)
package clock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	Synced  bool          `json:"synced"`
	Server  string        `json:"server,omitempty"`
	Offset  time.Duration `json:"offset_ns,omitempty"`
	When    time.Time     `json:"when,omitzero"`
	Problem string        `json:"problem,omitempty"`
}

// NTPQuery asks one server for the clock offset (beevik/ntp, validated).
func NTPQuery(ctx context.Context, server string) (time.Duration, error) {
	timeout := 5 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	resp, err := ntp.QueryWithOptions(server, ntp.QueryOptions{Timeout: timeout})
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
	Floor   time.Time
	Servers func() []string // asked in order until one answers
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
	var st Status
	var problems []error
	servers := s.Servers()
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
		st = Status{Synced: true, Server: srv, Offset: off, When: time.Now()}
		break
	}
	if !st.Synced {
		st.Problem = errors.Join(problems...).Error()
	}
	s.mu.Lock()
	s.status = st
	s.mu.Unlock()
	if s.OnChange != nil {
		s.OnChange(st)
	}
	return st
}
