package demoorigin

import (
	"maps"
	"strings"
	"sync"
	"time"
)

// Kind classifies a request for Stats.
type Kind string

// Request kinds, from the request path.
const (
	KindPlaylist Kind = "playlist" // *.m3u8 outside /fault/
	KindSegment  Kind = "segment"  // *.ts outside /fault/
	KindFault    Kind = "fault"    // /fault/...
	KindOther    Kind = "other"    // anything else except /stats
)

const (
	// MaxStatsPaths bounds Stats.Paths; requests for further paths are
	// counted in Stats.OtherPaths.
	MaxStatsPaths = 1024
	// maxStatsPathLen truncates long paths used as Stats.Paths keys.
	maxStatsPathLen = 200
)

// Counter counts requests and response body bytes.
type Counter struct {
	Requests int64 `json:"requests"`
	Bytes    int64 `json:"bytes"`
}

// Stats is what the origin served since Since. Bytes are response body
// bytes accepted by the connection (what crossed the emulated WAN);
// headers are not counted. Requests to /stats are not counted.
type Stats struct {
	Since      time.Time          `json:"since"`
	Requests   int64              `json:"requests"`
	Bytes      int64              `json:"bytes"`
	Kinds      map[Kind]Counter   `json:"kinds"`
	Paths      map[string]Counter `json:"paths"`
	OtherPaths Counter            `json:"other_paths"`
}

// statsRecorder accumulates Stats; one mutex, taken once per request and
// once per body write of at most chunkSize bytes.
type statsRecorder struct {
	now func() time.Time
	mu  sync.Mutex
	s   Stats
}

func newStatsRecorder(now func() time.Time) *statsRecorder {
	r := &statsRecorder{now: now}
	r.reset()
	return r
}

func (r *statsRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s = Stats{Since: r.now(), Kinds: make(map[Kind]Counter), Paths: make(map[string]Counter)}
}

func (r *statsRecorder) snapshot() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.s
	s.Kinds = maps.Clone(r.s.Kinds)
	s.Paths = maps.Clone(r.s.Paths)
	return s
}

// requestStats attributes one request's bytes.
type requestStats struct {
	r    *statsRecorder
	kind Kind
	path string
}

// begin counts a request for path.
func (r *statsRecorder) begin(path string) requestStats {
	rs := requestStats{r: r, kind: classify(path), path: statsKey(path)}
	rs.add(1, 0)
	return rs
}

// add counts requests and body bytes.
func (rs requestStats) add(requests, bytes int64) {
	r := rs.r
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.Requests += requests
	r.s.Bytes += bytes
	k := r.s.Kinds[rs.kind]
	k.Requests += requests
	k.Bytes += bytes
	r.s.Kinds[rs.kind] = k
	p, ok := r.s.Paths[rs.path]
	if !ok && len(r.s.Paths) >= MaxStatsPaths {
		r.s.OtherPaths.Requests += requests
		r.s.OtherPaths.Bytes += bytes
		return
	}
	p.Requests += requests
	p.Bytes += bytes
	r.s.Paths[rs.path] = p
}

// classify returns the Kind of a request path.
func classify(path string) Kind {
	switch {
	case strings.HasPrefix(path, "/fault/"):
		return KindFault
	case strings.HasSuffix(path, ".m3u8"):
		return KindPlaylist
	case strings.HasSuffix(path, ".ts"):
		return KindSegment
	default:
		return KindOther
	}
}

func statsKey(path string) string {
	if len(path) > maxStatsPathLen {
		return strings.ToValidUTF8(path[:maxStatsPathLen], "") + "..."
	}
	return path
}
