package shaper

import (
	"sync"
	"time"
)

// Handles of the box's tree. The root HTB is 4f50: ("OP") with default class
// 4f50:20; together with the defcls they identify a tree the box installed.
const (
	RootMajor   = 0x4f50
	MinorLink   = 0x1
	MinorVideo  = 0x10
	MinorOther  = 0x20
	leafVideo   = 0x4f51 // major of the video class's leaf qdisc
	leafOther   = 0x4f52 // major of the default class's leaf qdisc
	ingressPrio = 0x4f50 // priority of the box's redirect filter on the WAN ingress
	ifbAlias    = "outpost shaper ingress"
)

// Class names in Stats.
const (
	ClassLink    = "link"
	ClassVideo   = "video"
	ClassDefault = "default"
)

// Shaper keeps the box's HTB tree on the WAN interface. Its methods are safe for
// concurrent use.
type Shaper struct {
	mu  sync.Mutex
	cfg Config

	// What the last Apply achieved.
	installed  bool
	leaf       string            // leaf kind in use
	classifier string            // "fw" or "bpf" (mark filter), "" without one
	filterSig  map[string]string // device -> signature of the filters installed
	lastErr    error

	// Last Stats sample, for rates.
	last Stats
}

// New checks cfg and returns a Shaper for it. Nothing changes in the kernel until
// Apply.
func New(cfg Config) (*Shaper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Shaper{cfg: cfg.withDefaults(), filterSig: map[string]string{}}, nil
}

// Config returns the configuration in use (defaults applied).
func (s *Shaper) Config() Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// ClassStats are one class's counters, read from the kernel.
type ClassStats struct {
	Direction  string `json:"direction"` // "egress" or "ingress"
	Class      string `json:"class"`     // ClassLink, ClassVideo or ClassDefault
	Device     string `json:"device"`
	Handle     string `json:"handle"`     // e.g. "4f50:10"
	RateBits   uint64 `json:"rate_bits"`  // configured rate, bits/s
	CeilBits   uint64 `json:"ceil_bits"`  // configured ceil, bits/s
	Bytes      uint64 `json:"bytes"`      // sent through the class (link-layer bytes)
	Packets    uint64 `json:"packets"`    //
	Drops      uint64 `json:"drops"`      // class and leaf qdisc drops
	Overlimits uint64 `json:"overlimits"` // times the class was throttled
	Backlog    uint64 `json:"backlog"`    // bytes queued now
	// BitsPerSecond is the class's throughput between the previous Stats call and
	// this one (0 on the first call).
	BitsPerSecond float64 `json:"bits_per_second"`
}

// Stats is a reading of every class of the box's trees.
type Stats struct {
	At      time.Time    `json:"at"`
	Classes []ClassStats `json:"classes"`
}

// Status is a snapshot for /api/v1/status; it makes no kernel calls (Classes are
// those of the last Stats call).
type Status struct {
	Installed       bool         `json:"installed"`
	Interface       string       `json:"interface"`
	IFB             string       `json:"ifb,omitempty"`
	LinkMbps        float64      `json:"link_mbps"`
	IngressLinkMbps float64      `json:"ingress_link_mbps,omitempty"`
	VideoMbps       float64      `json:"video_mbps"`
	Mark            uint32       `json:"mark"`
	Origins         []string     `json:"origins,omitempty"`
	Leaf            string       `json:"leaf,omitempty"`
	Classifier      string       `json:"classifier,omitempty"`
	Classes         []ClassStats `json:"classes,omitempty"`
	StatsAt         time.Time    `json:"stats_at,omitzero"`
	Error           string       `json:"error,omitempty"`
}

// Status returns what the shaper installed and the last counters read.
func (s *Shaper) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Installed: s.installed, Interface: s.cfg.Interface, LinkMbps: s.cfg.LinkMbps,
		VideoMbps: s.cfg.VideoMbps, Mark: s.cfg.Mark, Leaf: s.leaf, Classifier: s.classifier,
		Classes: s.last.Classes, StatsAt: s.last.At}
	if s.cfg.Ingress {
		st.IFB, st.IngressLinkMbps = s.cfg.IFB, s.cfg.IngressLinkMbps
	}
	for _, e := range s.cfg.Origins {
		st.Origins = append(st.Origins, e.String())
	}
	if s.lastErr != nil {
		st.Error = s.lastErr.Error()
	}
	return st
}

// rateFrom fills BitsPerSecond from the previous sample. Callers hold mu.
func (s *Shaper) rateFrom(now Stats) Stats {
	prev := map[string]ClassStats{}
	for _, c := range s.last.Classes {
		prev[c.Device+"/"+c.Handle] = c
	}
	dt := now.At.Sub(s.last.At).Seconds()
	for i, c := range now.Classes {
		p, ok := prev[c.Device+"/"+c.Handle]
		if ok && dt > 0 && c.Bytes >= p.Bytes {
			now.Classes[i].BitsPerSecond = float64(c.Bytes-p.Bytes) * 8 / dt
		}
	}
	s.last = now
	return now
}
