package clock

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestFloor(t *testing.T) {
	cases := []struct {
		name    string
		floor   time.Time
		setErr  error
		stepped bool
		err     bool
	}{
		{"clock after build", time.Now().Add(-time.Hour), nil, false, false},
		{"clock before build (no RTC)", time.Now().Add(time.Hour), nil, true, false},
		{"cannot set", time.Now().Add(time.Hour), errors.New("EPERM"), false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var set time.Time
			stepped, err := Floor(tc.floor, func(t time.Time) error { set = t; return tc.setErr })
			if stepped != tc.stepped || (err != nil) != tc.err {
				t.Fatalf("Floor = %v, %v; want %v, error %v", stepped, err, tc.stepped, tc.err)
			}
			if stepped && !set.Equal(tc.floor) {
				t.Fatalf("set %v, want %v", set, tc.floor)
			}
		})
	}
}

func TestOnce(t *testing.T) {
	floor := time.Now().Add(-24 * time.Hour)
	cases := []struct {
		name      string
		servers   []string
		answers   map[string]time.Duration // missing: error
		wantSync  bool
		wantSrv   string
		wantSet   bool
		wantProbl string
	}{
		{"first answers, big offset", []string{"a", "b"}, map[string]time.Duration{"a": time.Hour}, true, "a", true, ""},
		{"small offset is not stepped", []string{"a"}, map[string]time.Duration{"a": time.Millisecond}, true, "a", false, ""},
		{"first silent, second answers", []string{"a", "b"}, map[string]time.Duration{"b": -time.Minute}, true, "b", true, ""},
		{"answer before build time refused", []string{"evil", "good"}, map[string]time.Duration{"evil": -48 * time.Hour, "good": time.Second}, true, "good", true, ""},
		{"only a hostile answer", []string{"evil"}, map[string]time.Duration{"evil": -48 * time.Hour}, false, "", false, "before the image's build time"},
		{"no servers", nil, nil, false, "", false, "no NTP servers known"},
		{"all silent", []string{"a", "b"}, nil, false, "", false, "b: timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var set bool
			s := &Syncer{
				Floor:   floor,
				Servers: func() []string { return tc.servers },
				Query: func(_ context.Context, srv string) (time.Duration, error) {
					if off, ok := tc.answers[srv]; ok {
						return off, nil
					}
					return 0, errors.New("timeout")
				},
				Set: func(time.Time) error { set = true; return nil },
				Log: slog.New(slog.DiscardHandler),
			}
			s.Step = 100 * time.Millisecond
			st := s.Once(context.Background())
			if st.Synced != tc.wantSync || st.Server != tc.wantSrv || set != tc.wantSet {
				t.Fatalf("status %+v set %v; want synced %v server %q set %v", st, set, tc.wantSync, tc.wantSrv, tc.wantSet)
			}
			if !strings.Contains(st.Problem, tc.wantProbl) {
				t.Fatalf("problem %q, want it to mention %q", st.Problem, tc.wantProbl)
			}
			if s.Status() != st {
				t.Fatal("Status() differs from Once's result")
			}
		})
	}
}
