package viewerload

import (
	"testing"
	"time"
)

func TestBuffer(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	type arrival struct {
		at          float64 // seconds after t0
		dur         float64 // segment duration, seconds
		wantStalled bool
	}
	tests := []struct {
		name        string
		arrivals    []arrival
		finish      float64
		wantStalls  int
		wantStalled time.Duration
		wantLevel   time.Duration // at finish, before Finish
	}{
		{
			name:      "start three back, keep up",
			arrivals:  []arrival{{0, 2, false}, {0.1, 2, false}, {0.2, 2, false}, {2, 2, false}, {4, 2, false}},
			finish:    5,
			wantLevel: 5 * time.Second, // 10 s of media from t=0
		},
		{
			name:        "one segment late",
			arrivals:    []arrival{{0, 2, false}, {3, 2, true}, {4, 2, false}},
			finish:      5,
			wantStalls:  1,
			wantStalled: time.Second,
			wantLevel:   2 * time.Second, // dry at 3+2+2 = 7
		},
		{
			name:      "arrival exactly when dry is no stall",
			arrivals:  []arrival{{0, 2, false}, {2, 2, false}},
			finish:    3,
			wantLevel: time.Second,
		},
		{
			name:        "run ends while dry",
			arrivals:    []arrival{{0, 2, false}},
			finish:      3.5,
			wantStalls:  1,
			wantStalled: 1500 * time.Millisecond,
		},
		{
			name:        "every segment late",
			arrivals:    []arrival{{0, 1, false}, {2, 1, true}, {4, 1, true}},
			finish:      4.5,
			wantStalls:  2,
			wantStalled: 2 * time.Second,
			wantLevel:   500 * time.Millisecond,
		},
		{name: "never started", finish: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Buffer
			for i, a := range tt.arrivals {
				if got := b.Add(at(a.at), time.Duration(a.dur*float64(time.Second))); got != a.wantStalled {
					t.Errorf("arrival %d: stalled = %v, want %v", i, got, a.wantStalled)
				}
			}
			if got := b.Level(at(tt.finish)); got != tt.wantLevel {
				t.Errorf("Level = %v, want %v", got, tt.wantLevel)
			}
			b.Finish(at(tt.finish))
			if b.Stalls != tt.wantStalls || b.Stalled != tt.wantStalled {
				t.Errorf("stalls, stalled = %d, %v; want %d, %v", b.Stalls, b.Stalled, tt.wantStalls, tt.wantStalled)
			}
		})
	}
}
