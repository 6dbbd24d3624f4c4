package pid1

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/outpost-ecdn/outpost/rootfs/clock"
	"github.com/outpost-ecdn/outpost/rootfs/datapart"
	"github.com/outpost-ecdn/outpost/rootfs/netup"
	"github.com/outpost-ecdn/outpost/rootfs/supervise"
	"github.com/outpost-ecdn/outpost/rootfs/watchdog"
)

// Report is /run/outpost/boot.json: what the init did and what is wrong. The
// console and outpostd's /api/v1/status read it.
type Report struct {
	mu   sync.Mutex
	path string

	Board     string    `json:"board"`
	Version   string    `json:"version"`
	BuildTime time.Time `json:"build_time"`
	Slot      string    `json:"slot"`
	Hostname  string    `json:"hostname"`
	// Boot is this boot's number on this data partition (0: unknown).
	Boot     int                `json:"boot"`
	Data     datapart.Report    `json:"data"`
	Network  []netup.LinkStatus `json:"network"`
	Clock    clock.Status       `json:"clock"`
	Watchdog watchdog.Info      `json:"watchdog"`
	Services []supervise.Status `json:"services"`
	// Times since the kernel started.
	Stage2At  time.Duration `json:"stage2_at_ns"`
	ServingAt time.Duration `json:"serving_at_ns,omitempty"`
	// Blessed is the boot entry marked good, once outpostd answered.
	Blessed string `json:"blessed,omitempty"`
	// Problems lists everything the box wants a human to know, newest last.
	Problems []string `json:"problems"`
}

// Update changes the report under its lock and rewrites the file.
func (r *Report) Update(f func(r *Report)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r)
	if r.path == "" {
		return
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return
	}
	os.MkdirAll(filepath.Dir(r.path), 0o755)
	tmp := r.path + ".tmp"
	if os.WriteFile(tmp, append(b, '\n'), 0o644) == nil {
		os.Rename(tmp, r.path)
	}
}

// problemNoNTP stands in the problems while the last NTP round failed.
const problemNoNTP = "clock: NO NTP SERVER ANSWERED; the clock may be wrong and TLS may fail (see clock.problem)"

// Resolve removes a problem that no longer holds.
func (r *Report) Resolve(p string) {
	r.Update(func(r *Report) {
		r.Problems = slices.DeleteFunc(r.Problems, func(q string) bool { return q == p })
	})
}

// Problem records a problem (deduplicated).
func (r *Report) Problem(p string) {
	r.Update(func(r *Report) {
		for _, q := range r.Problems {
			if q == p {
				return
			}
		}
		r.Problems = append(r.Problems, p)
	})
}
