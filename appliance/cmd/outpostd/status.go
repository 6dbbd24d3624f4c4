package main

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// handler is the LAN mux: the edge under /o/, diagnostics beside it.
func (d *daemon) handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&metrics{d: d})
	d.registerShaperMetrics(reg)
	mux := http.NewServeMux()
	mux.Handle("/o/", d.edge)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/v1/status", d.serveStatus)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /{$}", d.serveIndex)
	d.mountP2P(mux)
	d.mountDiag(mux)
	d.mountBootLogs(mux)
	// /o/ goes to the edge before ServeMux's path cleaning, which would answer a
	// traversal attempt with a redirect instead of the edge's clear 400.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/o/") {
			d.edge.ServeHTTP(w, r)
			d.observeP2P(r) // a browser asking for a stream makes the super-peer join it
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// Status is the JSON of GET /api/v1/status.
type Status struct {
	Site          string                  `json:"site"`
	Version       string                  `json:"version"`
	UptimeSeconds float64                 `json:"uptime_seconds"`
	ConfigReloads int64                   `json:"config_reloads"`
	WAN           WANStatus               `json:"wan"`
	LAN           LANStatus               `json:"lan"`
	Cache         CacheStatus             `json:"cache"`
	Prefetch      PrefetchStatus          `json:"prefetch"`
	Origins       map[string]OriginStatus `json:"origins"`
	Streams       []StreamStatus          `json:"streams"`
	// OffloadRatio is 1 - WAN bytes / LAN bytes since start (0 before any traffic).
	OffloadRatio float64 `json:"offload_ratio"`
	// Siblings and P2P are filled by siblings.go and p2p.go (nil when disabled).
	Siblings any `json:"siblings,omitempty"`
	Shaper   any `json:"shaper,omitempty"`
	// Boot is what the image's init learnt and found wrong at boot (data partition
	// recreated or repaired, no DHCP, NTP failing, no watchdog), from the file named by
	// OUTPOST_BOOT_STATUS; absent outside the image.
	Boot json.RawMessage `json:"boot,omitempty"`
	P2P  any             `json:"p2p,omitempty"`
}

type WANStatus struct {
	MaxMbps float64          `json:"max_mbps"`
	Bytes   int64            `json:"bytes"`
	ByClass map[string]int64 `json:"bytes_by_priority"`
}

type LANStatus struct {
	Bytes        int64 `json:"bytes"`
	Requests     int64 `json:"requests"`
	ServerErrors int64 `json:"server_errors"`
	BadPlaylists int64 `json:"bad_playlists"`
	UnmappedURIs int64 `json:"unmapped_uris"`
}

type CacheStatus struct {
	Objects        int64 `json:"objects"`
	Bytes          int64 `json:"bytes"`
	MaxBytes       int64 `json:"max_bytes"`
	MemoryBytes    int64 `json:"memory_bytes"`
	Hits           int64 `json:"hits"`
	MemoryHits     int64 `json:"memory_hits"`
	Misses         int64 `json:"misses"`
	Coalesced      int64 `json:"coalesced"`
	StaleServed    int64 `json:"stale_served"`
	Evictions      int64 `json:"evictions"`
	CorruptDropped int64 `json:"corrupt_dropped"`
	FillErrors     int64 `json:"fill_errors"`
	InFlight       int64 `json:"in_flight"`
}

type PrefetchStatus struct {
	Enabled         bool    `json:"enabled"`
	Streams         int     `json:"streams"`
	Polls           int64   `json:"polls"`
	PollErrors      int64   `json:"poll_errors"`
	Warmed          int64   `json:"warmed"`
	WarmErrors      int64   `json:"warm_errors"`
	MeanFillSeconds float64 `json:"mean_fill_seconds"`
}

type OriginStatus struct {
	URL                 string     `json:"url"`
	Healthy             bool       `json:"healthy"`
	LastSuccess         *time.Time `json:"last_success,omitempty"`
	LastError           string     `json:"last_error,omitempty"`
	ConsecutiveFailures int64      `json:"consecutive_failures"`
	Requests            int64      `json:"requests"`
	Bytes               int64      `json:"bytes"`
	Errors              int64      `json:"errors"`
}

type StreamStatus struct {
	Playlist string `json:"playlist"`
	Viewers  int    `json:"viewers"`
}

func (d *daemon) status() Status {
	cfg := d.cfg.Load()
	es := d.edge.Stats()
	cs := d.cache.Stats()
	st := Status{
		Site: cfg.Site, Version: version, UptimeSeconds: time.Since(d.started).Seconds(),
		ConfigReloads: d.reloads.Load(),
		LAN: LANStatus{Bytes: es.LANBytes, Requests: es.Requests, ServerErrors: es.ServerErrors,
			BadPlaylists: es.BadPlaylists, UnmappedURIs: es.UnmappedURIs},
		Cache: CacheStatus{Objects: int64(cs.Objects), Bytes: cs.Bytes, MaxBytes: int64(cfg.Cache.MaxBytes),
			MemoryBytes: cs.MemoryBytes, Hits: cs.Hits, MemoryHits: cs.MemoryHits, Misses: cs.Misses,
			Coalesced: cs.Coalesced, StaleServed: cs.StaleServed, Evictions: cs.Evictions,
			CorruptDropped: cs.CorruptDropped, FillErrors: cs.FillErrors, InFlight: int64(cs.InFlight)},
		Origins: map[string]OriginStatus{},
		WAN:     WANStatus{MaxMbps: cfg.WAN.MaxMbps, ByClass: map[string]int64{}},
	}
	for _, c := range d.budget.Stats().Classes {
		st.WAN.ByClass[c.Priority.String()] = c.Bytes
	}
	health := d.client.Health()
	for _, o := range cfg.Origins {
		h := health[o.Name]
		os := OriginStatus{URL: o.URL, LastError: h.LastError, ConsecutiveFailures: int64(h.ConsecutiveFailures),
			Requests: h.Requests, Bytes: h.Bytes, Errors: h.Errors}
		os.Healthy = h.ConsecutiveFailures == 0
		if !h.LastSuccess.IsZero() {
			t := h.LastSuccess
			os.LastSuccess = &t
		}
		st.WAN.Bytes += h.Bytes
		st.Origins[o.Name] = os
	}
	if st.LAN.Bytes > 0 {
		st.OffloadRatio = max(0, 1-float64(st.WAN.Bytes)/float64(st.LAN.Bytes))
	}
	if d.prefetch != nil {
		ps := d.prefetch.Stats()
		st.Prefetch = PrefetchStatus{Enabled: true, Streams: ps.Streams, Polls: ps.Polls, PollErrors: ps.PollErrors,
			Warmed: ps.Warmed, WarmErrors: ps.WarmErrors, MeanFillSeconds: ps.MeanFillSeconds}
	}
	for list, n := range es.ViewersPerList {
		st.Streams = append(st.Streams, StreamStatus{Playlist: list, Viewers: n})
	}
	sort.Slice(st.Streams, func(i, j int) bool { return st.Streams[i].Playlist < st.Streams[j].Playlist })
	st.Siblings = d.siblingsStatus()
	st.Shaper = d.shaperStatus()
	st.Boot = bootStatus()
	st.P2P = d.p2pStatus()
	return st
}

func (d *daemon) serveStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(d.status())
}

var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Outpost {{.Site}}</title></head>
<body style="font-family:sans-serif;max-width:50em;margin:2em auto">
<h1>Outpost edge &mdash; site {{.Site}}</h1>
<p>Version {{.Version}}. Origins:</p>
<ul>{{range .Origins}}<li><b>{{.Name}}</b> {{.URL}} &rarr; <code>/o/{{.Name}}/&hellip;</code></li>{{end}}</ul>
{{if .Demo}}<p>Demo stream: <a href="/o/demo/live/master.m3u8">/o/demo/live/master.m3u8</a>
(open in VLC, Safari, or <code>ffplay http://HOST/o/demo/live/master.m3u8</code>)</p>{{end}}
<p><a href="/api/v1/status">status (JSON)</a> &middot; <a href="/metrics">metrics</a></p>
</body></html>`))

func (d *daemon) serveIndex(w http.ResponseWriter, r *http.Request) {
	cfg := d.cfg.Load()
	demo := false
	for _, o := range cfg.Origins {
		demo = demo || o.Name == "demo"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	indexPage.Execute(w, map[string]any{"Site": cfg.Site, "Version": version, "Origins": cfg.Origins, "Demo": demo})
}

// bootStatus reads the init's boot report, at most 1 MiB, only when it is valid JSON.
func bootStatus() json.RawMessage {
	p := os.Getenv("OUTPOST_BOOT_STATUS")
	if p == "" {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil || !json.Valid(b) {
		return nil
	}
	return b
}
