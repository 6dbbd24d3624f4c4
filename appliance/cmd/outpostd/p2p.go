package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/config"
	"github.com/outpost-ecdn/outpost/appliance/hls"
	"github.com/outpost-ecdn/outpost/appliance/superpeer"
	"github.com/outpost-ecdn/outpost/appliance/tracker"
	"github.com/prometheus/client_golang/prometheus"
)

// p2pState is the running tracker and super-peer.
type p2pState struct {
	tracker *tracker.Tracker
	sp      *superpeer.Server // nil when superpeer.enabled is false
	udp     net.PacketConn
	src     *boxSource
	log     *slog.Logger

	mu    sync.Mutex
	kinds map[string]bool // box path of a playlist -> is multivariant
}

// P2PStatus is the "p2p" part of /api/v1/status.
type P2PStatus struct {
	Tracker   tracker.Stats           `json:"tracker"`
	SuperPeer *superpeer.Stats        `json:"superpeer,omitempty"`
	Swarms    []superpeer.SwarmStream `json:"swarms,omitempty"`
}

func parsePrefixes(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range list {
		if pp, err := netip.ParsePrefix(p); err == nil { // validated by config
			out = append(out, pp.Masked())
		}
	}
	return out
}

// trackerConfig maps the site config onto the tracker's.
func trackerConfig(cfg *config.Config, d *daemon) tracker.Config {
	tc := tracker.Config{
		Prefixes:          parsePrefixes(cfg.LAN.Prefixes),
		Interval:          time.Duration(cfg.Tracker.IntervalSeconds) * time.Second,
		OriginPatterns:    cfg.Tracker.OriginPatterns,
		MaxMessageBytes:   int64(cfg.Tracker.MaxMessageBytes),
		MessagesPerSecond: cfg.Tracker.MessagesPerSecond,
		MaxSwarmsPerConn:  cfg.Tracker.MaxSwarmsPerConn,
		MaxConns:          cfg.Tracker.MaxConns,
		MaxSwarms:         cfg.Tracker.MaxSwarms,
		MaxPeers:          cfg.Tracker.MaxPeers,
		Logger:            d.log.With("component", "tracker"),
	}
	if cfg.Tracker.Mode == "mesh" {
		tc.Mode = tracker.ModeMesh
	}
	for _, g := range cfg.LAN.Groups {
		access := tracker.AccessOn
		switch g.P2P {
		case "off":
			access = tracker.AccessOff
		case "download_only":
			access = tracker.AccessDownloadOnly
		}
		tc.Groups = append(tc.Groups, tracker.Group{Name: g.Name, Prefixes: parsePrefixes(g.Prefixes), Access: access})
	}
	return tc
}

// initP2P builds the tracker and super-peer from cfg; a no-op when disabled.
func (d *daemon) initP2P(cfg *config.Config) error {
	if !cfg.Tracker.Enabled {
		return nil
	}
	st := &p2pState{tracker: tracker.New(trackerConfig(cfg, d)), kinds: map[string]bool{}, log: d.log.With("component", "p2p")}
	d.p2p = st
	if !cfg.SuperPeer.Enabled {
		return nil
	}
	udp, err := net.ListenPacket("udp", cfg.SuperPeer.UDPListen)
	if err != nil {
		return fmt.Errorf("superpeer.udp_listen %s: %w", cfg.SuperPeer.UDPListen, err)
	}
	// All WebRTC peers share this one socket: the default ~208 KiB buffers dropped
	// packets at 25+ peers in tools/cmd/p2pbench. Ask for 4 MiB (the kernel caps it
	// at net.core.[rw]mem_max; a smaller grant is fine).
	if u, ok := udp.(*net.UDPConn); ok {
		_ = u.SetReadBuffer(4 << 20)
		_ = u.SetWriteBuffer(4 << 20)
	}
	st.udp = udp
	st.src = &boxSource{d: d}
	st.sp, err = superpeer.New(superpeer.Config{
		Tracker:                  st.tracker,
		Source:                   st.src,
		UDP:                      udp,
		IncludeLoopback:          cfg.SuperPeer.LoopbackCandidates,
		Prefixes:                 parsePrefixes(cfg.LAN.Prefixes),
		MaxPeers:                 cfg.SuperPeer.MaxPeers,
		PeerUploadBytesPerSecond: cfg.SuperPeer.PeerUploadMbps * 1e6 / 8,
		UploadBytesPerSecond:     cfg.SuperPeer.UploadMbps * 1e6 / 8,
		Logger:                   d.log.With("component", "superpeer"),
	})
	if err != nil {
		return err
	}
	return nil
}

// mountP2P adds /announce and the p2p endpoints to the LAN mux.
func (d *daemon) mountP2P(mux *http.ServeMux) {
	st := d.p2p
	if st == nil {
		return
	}
	mux.Handle("/announce", st.tracker)
	d.mountP2PWeb(mux)
}

// observeP2P is told about every /o/ request after the edge answered it: a
// multivariant playlist a browser asks for is a stream whose swarms the box
// joins, named by the URL the browser used. (The LAN handler in status.go calls
// it; a no-op without the super-peer.)
func (d *daemon) observeP2P(r *http.Request) {
	st := d.p2p
	if st == nil || st.sp == nil || r.Method != http.MethodGet {
		return
	}
	if p := r.URL.Path; strings.HasSuffix(p, ".m3u8") || strings.HasSuffix(p, ".m3u") {
		st.observe(r)
	}
}

// observe registers the stream behind a playlist request (in the background).
func (st *p2pState) observe(r *http.Request) {
	key := r.URL.EscapedPath()
	path := r.URL.RequestURI()
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	swarmID := scheme + "://" + r.Host + key
	st.mu.Lock()
	multi, known := st.kinds[key]
	if !known {
		if len(st.kinds) >= 4096 {
			st.mu.Unlock()
			return
		}
		st.kinds[key] = false // media until proven otherwise; checked once
	}
	st.mu.Unlock()
	if known && !multi {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if !known {
			body, err := st.src.Fetch(ctx, path) // just served: a cache hit
			if err != nil {
				st.log.Warn("super-peer could not read a playlist", "path", path, "err", err)
				st.mu.Lock()
				delete(st.kinds, key) // try again on the next request
				st.mu.Unlock()
				return
			}
			if kind, err := hls.Detect(body); err != nil || kind != hls.KindMultivariant {
				return
			}
			st.mu.Lock()
			st.kinds[key] = true
			st.mu.Unlock()
		}
		if err := st.sp.AddStream(ctx, swarmID, path); err != nil {
			st.log.Warn("super-peer could not join a stream", "swarm_id", swarmID, "err", err)
		}
	}()
}

// startP2P starts the super-peer; stop ends it.
func (d *daemon) startP2P(ctx context.Context) (stop func()) {
	st := d.p2p
	if st == nil || st.sp == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	streams := d.cfg.Load().SuperPeer.Streams
	go func() {
		defer close(done)
		// Configured streams: retry until the origin answers (bounded back-off).
		pending := streams
		for wait := time.Second; len(pending) > 0; wait = min(2*wait, time.Minute) {
			var left []config.P2PStream
			for _, s := range pending {
				if err := st.sp.AddStream(ctx, superpeer.SwarmIDFromURL(s.URL), s.Path); err != nil {
					d.log.Warn("super-peer could not join a configured stream yet", "url", s.URL, "err", err)
					left = append(left, s)
				}
			}
			pending = left
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}()
	return func() { cancel(); <-done }
}

// closeP2P releases what initP2P built.
func (d *daemon) closeP2P() {
	st := d.p2p
	if st == nil {
		return
	}
	if st.sp != nil {
		st.sp.Close()
	}
	if st.udp != nil {
		st.udp.Close()
	}
	st.tracker.Close()
}

// p2pStatus is the "p2p" part of /api/v1/status (nil when disabled).
func (d *daemon) p2pStatus() any {
	st := d.p2p
	if st == nil {
		return nil
	}
	s := P2PStatus{Tracker: st.tracker.Stats()}
	if st.sp != nil {
		sps := st.sp.Stats()
		s.SuperPeer = &sps
		s.Swarms = st.sp.Streams()
	}
	return s
}

var (
	descTrackerGauge = prometheus.NewDesc("outpost_tracker", "Tracker gauges: conns, super_peers, swarms, peers.", []string{"what"}, nil)
	descTrackerTotal = prometheus.NewDesc("outpost_tracker_events_total", "Tracker events.", []string{"event"}, nil)
	descSPGauge      = prometheus.NewDesc("outpost_superpeer", "Super-peer gauges: streams, swarms, peers.", []string{"what"}, nil)
	descSPTotal      = prometheus.NewDesc("outpost_superpeer_events_total", "Super-peer events.", []string{"event"}, nil)
	descSPBytes      = prometheus.NewDesc("outpost_superpeer_upload_bytes_total", "Segment bytes sent to browsers over WebRTC.", nil, nil)
)

// collectP2P exports the tracker's and super-peer's figures (called by metrics.Collect).
func (d *daemon) collectP2P(ch chan<- prometheus.Metric) {
	st := d.p2p
	if st == nil {
		return
	}
	g := func(desc *prometheus.Desc, v float64, l string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, l)
	}
	c := func(desc *prometheus.Desc, v int64, l string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), l)
	}
	t := st.tracker.Stats()
	g(descTrackerGauge, float64(t.Conns), "conns")
	g(descTrackerGauge, float64(t.SuperPeers), "super_peers")
	g(descTrackerGauge, float64(t.Swarms), "swarms")
	g(descTrackerGauge, float64(t.Peers), "peers")
	for k, v := range map[string]int64{"announce": t.Announces, "scrape": t.Scrapes, "offer_relayed": t.OffersRelayed,
		"answer_relayed": t.AnswersRelayed, "answer_unrouted": t.AnswersUnrouted, "bad_message": t.BadMessages,
		"refused": t.Refused, "rate_limited": t.RateLimited, "slow_dropped": t.SlowDropped, "limit_reject": t.LimitRejects} {
		c(descTrackerTotal, v, k)
	}
	if st.sp == nil {
		return
	}
	s := st.sp.Stats()
	g(descSPGauge, float64(s.Streams), "streams")
	g(descSPGauge, float64(s.Swarms), "swarms")
	g(descSPGauge, float64(s.Peers), "peers")
	g(descSPGauge, float64(s.ActiveUploads), "active_uploads")
	for k, v := range map[string]int64{"offer": s.Offers, "answered": s.Answered, "refused": s.Refused, "upload": s.Uploads,
		"absent": s.Absent, "cancel": s.Cancels, "failure": s.Failures, "warm": s.Warms} {
		c(descSPTotal, v, k)
	}
	ch <- prometheus.MustNewConstMetric(descSPBytes, prometheus.CounterValue, float64(s.UploadBytes))
}

// boxSource serves the super-peer from the box itself: objects through the edge
// (so a miss fills the cache once, like any viewer), presence from the cache.
type boxSource struct{ d *daemon }

var errTooLarge = errors.New("object too large")

// Fetch runs the edge in process for path.
func (b *boxSource) Fetch(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, fmt.Errorf("superpeer source %s: %w", path, err)
	}
	req.RemoteAddr = "127.0.0.1:0"
	req.Host = "outpost.superpeer"
	w := &bufferWriter{h: http.Header{}, limit: int64(b.d.cfg.Load().Cache.MaxObjectBytes)}
	b.d.edge.ServeHTTP(w, req)
	if w.err != nil {
		return nil, fmt.Errorf("superpeer source %s: %w", path, w.err)
	}
	if w.code != 0 && w.code != http.StatusOK {
		return nil, fmt.Errorf("superpeer source %s: status %d", path, w.code)
	}
	return w.buf.Bytes(), nil
}

// Cached reports whether the edge's cache holds path complete.
func (b *boxSource) Cached(path string) bool {
	h, ok := b.d.cache.Peek(strings.TrimPrefix(path, "/"))
	if !ok {
		return false
	}
	defer h.Close()
	return h.Complete()
}

// bufferWriter is an in-memory http.ResponseWriter with a size bound.
type bufferWriter struct {
	h     http.Header
	code  int
	buf   bytes.Buffer
	limit int64
	err   error
}

func (w *bufferWriter) Header() http.Header { return w.h }
func (w *bufferWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *bufferWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if int64(w.buf.Len()+len(p)) > w.limit {
		w.err = errTooLarge
		return 0, errTooLarge
	}
	return w.buf.Write(p)
}
