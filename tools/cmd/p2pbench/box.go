package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/superpeer"
	"github.com/outpost-ecdn/outpost/appliance/tracker"
)

// The box's stream: one live variant whose window holds windowLen segments,
// all in the cache, so the super-peer serves every request from memory.
const (
	firstSeq  = 100
	windowLen = 6
	boxPath   = "/o/bench/live/master.m3u8"
	pageURL   = "http://127.0.0.1:8080/o/bench/live/master.m3u8"
)

// hello is the box child's first stdout line.
type hello struct {
	HTTP     string `json:"http"`      // tracker and stats, host:port
	UDP      string `json:"udp"`       // the super-peer's ICE socket
	InfoHash string `json:"info_hash"` // the 2.3 swarm of the variant
}

// boxStats is what the child reports at /stats.
type boxStats struct {
	CPUSeconds float64         `json:"cpu_seconds"` // user+system of the box process
	RSS        int64           `json:"rss"`
	HeapInuse  uint64          `json:"heap_inuse"`
	Goroutines int             `json:"goroutines"`
	SP         superpeer.Stats `json:"superpeer"`
}

// staticLive is a Source holding a live playlist (no ENDLIST) whose segments
// are all cached.
type staticLive struct{ objects map[string][]byte }

func newStaticLive(segBytes int, segDur time.Duration) *staticLive {
	s := &staticLive{objects: map[string][]byte{}}
	s.objects[boxPath] = []byte("#EXTM3U\n#EXT-X-VERSION:3\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=4000000,RESOLUTION=1280x720,CODECS=\"avc1.64001f,mp4a.40.2\"\n720p/index.m3u8\n")
	var pl strings.Builder
	secs := segDur.Seconds()
	fmt.Fprintf(&pl, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n", int(secs+0.999), firstSeq)
	for seq := firstSeq; seq < firstSeq+windowLen; seq++ {
		name := fmt.Sprintf("seg-%d.ts", seq)
		fmt.Fprintf(&pl, "#EXTINF:%.3f,\n%s\n", secs, name)
		body := make([]byte, segBytes)
		rand.Read(body)
		s.objects["/o/bench/live/720p/"+name] = body
	}
	s.objects["/o/bench/live/720p/index.m3u8"] = []byte(pl.String())
	return s
}

func (s *staticLive) Fetch(ctx context.Context, path string) ([]byte, error) {
	b, ok := s.objects[path]
	if !ok {
		return nil, fmt.Errorf("404 %s", path)
	}
	return b, nil
}

func (s *staticLive) Cached(path string) bool { _, ok := s.objects[path]; return ok }

// runBox is the child: tracker (real WebSocket on loopback) and super-peer (one
// UDP port on loopback). It prints a hello line and runs until stdin closes.
func runBox(segBytes int, segDur time.Duration, maxPeers, udpBuffer int) error {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	trk := tracker.New(tracker.Config{Mode: tracker.ModeStar, Logger: logger})
	defer trk.Close()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer udp.Close()
	if udpBuffer > 0 {
		udp.(*net.UDPConn).SetReadBuffer(udpBuffer)
		udp.(*net.UDPConn).SetWriteBuffer(udpBuffer)
	}
	sp, err := superpeer.New(superpeer.Config{Tracker: trk, Source: newStaticLive(segBytes, segDur), UDP: udp,
		IncludeLoopback: true, NoMDNS: true, MaxPeers: maxPeers, Logger: logger})
	if err != nil {
		return err
	}
	defer sp.Close()
	if err := sp.AddStream(ctx, superpeer.SwarmIDFromURL(pageURL), boxPath); err != nil {
		return err
	}
	var ih tracker.ID
	for _, s := range sp.Streams() {
		if s.Protocol == superpeer.Protocol23 && strings.HasSuffix(s.URL, "/720p/index.m3u8") {
			ih = s.InfoHash
		}
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/announce", trk)
	// Profiles of the box while a run goes on, e.g.
	// go tool pprof -top http://ADDR/debug/pprof/profile?seconds=10 (ADDR is printed on stderr).
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/heap", pprof.Index)
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gc") != "" {
			runtime.GC()
			runtime.GC()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		json.NewEncoder(w).Encode(boxStats{CPUSeconds: cpuSeconds(ru), RSS: rss(), HeapInuse: ms.HeapInuse,
			Goroutines: runtime.NumGoroutine(), SP: sp.Stats()})
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Fprintf(os.Stderr, "p2pbench box: pid %d, profiles at http://%s/debug/pprof/\n", os.Getpid(), ln.Addr())
	json.NewEncoder(os.Stdout).Encode(hello{HTTP: ln.Addr().String(), UDP: udp.LocalAddr().String(), InfoHash: ih.String()})
	io.Copy(io.Discard, os.Stdin) // the parent closes stdin (or dies) to end the box
	return nil
}

func cpuSeconds(ru syscall.Rusage) float64 {
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// rss is the process's resident set in bytes (Linux; 0 elsewhere).
func rss() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
