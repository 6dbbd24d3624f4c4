package main

import "github.com/prometheus/client_golang/prometheus"

// metrics exports the components' counters at scrape time, so the hot paths keep
// plain atomics and never touch the Prometheus library.
type metrics struct{ d *daemon }

var (
	descWANBytes     = prometheus.NewDesc("outpost_wan_bytes_total", "Bytes fetched from origins (WAN).", []string{"origin"}, nil)
	descWANByPrio    = prometheus.NewDesc("outpost_wan_priority_bytes_total", "Bytes granted by the WAN budget, by priority.", []string{"priority"}, nil)
	descOriginReqs   = prometheus.NewDesc("outpost_origin_requests_total", "Requests sent to origins.", []string{"origin"}, nil)
	descOriginErrs   = prometheus.NewDesc("outpost_origin_errors_total", "Failed origin requests.", []string{"origin"}, nil)
	descOriginUp     = prometheus.NewDesc("outpost_origin_up", "1 if the last request to the origin succeeded.", []string{"origin"}, nil)
	descWANCap       = prometheus.NewDesc("outpost_wan_max_bits_per_second", "Configured WAN budget (0 = unlimited).", nil, nil)
	descLANBytes     = prometheus.NewDesc("outpost_lan_bytes_total", "Body bytes served to LAN viewers.", nil, nil)
	descLANRequests  = prometheus.NewDesc("outpost_lan_requests_total", "Viewer requests under /o/.", nil, nil)
	descLANErrors    = prometheus.NewDesc("outpost_lan_server_errors_total", "5xx answers to viewers.", nil, nil)
	descCacheEvents  = prometheus.NewDesc("outpost_cache_events_total", "Cache lookups by result and other cache events.", []string{"event"}, nil)
	descCacheBytes   = prometheus.NewDesc("outpost_cache_bytes", "Bytes stored, by tier.", []string{"tier"}, nil)
	descCacheObjects = prometheus.NewDesc("outpost_cache_objects", "Objects stored on disk.", nil, nil)
	descInFlight     = prometheus.NewDesc("outpost_cache_fills_in_flight", "Origin fills running now.", nil, nil)
	descPrefetch     = prometheus.NewDesc("outpost_prefetch_total", "Live prefetch events.", []string{"event"}, nil)
	descPrefetchLive = prometheus.NewDesc("outpost_prefetch_streams", "Live playlists being polled.", nil, nil)
	descViewers      = prometheus.NewDesc("outpost_stream_viewers", "Distinct viewers of a media playlist in the last 10 s.", []string{"playlist"}, nil)
	descSiblings     = prometheus.NewDesc("outpost_siblings", "Sibling boxes in the discovery table, by health.", []string{"state"}, nil)
	descSibIgnored   = prometheus.NewDesc("outpost_sibling_records_ignored_total", "mDNS sibling records ignored, by reason.", []string{"reason"}, nil)
	descSibFills     = prometheus.NewDesc("outpost_sibling_fills_total", "Cache fills by route: owner sibling, owner error, self-owned, alone.", []string{"route"}, nil)
	descSibServed    = prometheus.NewDesc("outpost_sibling_served_total", "Requests answered for sibling boxes, and TLS peers refused.", []string{"result"}, nil)
	descOffload      = prometheus.NewDesc("outpost_offload_ratio", "1 - WAN bytes / LAN bytes since start.", nil, nil)
)

func (m *metrics) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(m, ch) }

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	st := m.d.status()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for name, o := range st.Origins {
		counter(descWANBytes, float64(o.Bytes), name)
		counter(descOriginReqs, float64(o.Requests), name)
		counter(descOriginErrs, float64(o.Errors), name)
		up := 0.0
		if o.Healthy {
			up = 1
		}
		gauge(descOriginUp, up, name)
	}
	for p, n := range st.WAN.ByClass {
		counter(descWANByPrio, float64(n), p)
	}
	gauge(descWANCap, st.WAN.MaxMbps*1e6)
	counter(descLANBytes, float64(st.LAN.Bytes))
	counter(descLANRequests, float64(st.LAN.Requests))
	counter(descLANErrors, float64(st.LAN.ServerErrors))
	c := st.Cache
	for ev, v := range map[string]int64{"hit": c.Hits, "memory_hit": c.MemoryHits, "miss": c.Misses,
		"coalesced": c.Coalesced, "stale": c.StaleServed, "eviction": c.Evictions,
		"corrupt_dropped": c.CorruptDropped, "fill_error": c.FillErrors} {
		counter(descCacheEvents, float64(v), ev)
	}
	gauge(descCacheBytes, float64(c.Bytes), "disk")
	gauge(descCacheBytes, float64(c.MemoryBytes), "memory")
	gauge(descCacheObjects, float64(c.Objects))
	gauge(descInFlight, float64(c.InFlight))
	p := st.Prefetch
	counter(descPrefetch, float64(p.Polls), "poll")
	counter(descPrefetch, float64(p.PollErrors), "poll_error")
	counter(descPrefetch, float64(p.Warmed), "segment")
	counter(descPrefetch, float64(p.WarmErrors), "segment_error")
	gauge(descPrefetchLive, float64(p.Streams))
	for _, s := range st.Streams {
		gauge(descViewers, float64(s.Viewers), s.Playlist)
	}
	gauge(descOffload, st.OffloadRatio)
	m.d.collectP2P(ch)
	if sib, ok := st.Siblings.(SiblingsStatus); ok {
		var healthy, unhealthy float64
		for _, p := range sib.Discovery.Peers {
			if p.Healthy {
				healthy++
			} else {
				unhealthy++
			}
		}
		gauge(descSiblings, healthy, "healthy")
		gauge(descSiblings, unhealthy, "unhealthy")
		for reason, n := range sib.Discovery.Stats.Ignored {
			counter(descSibIgnored, float64(n), reason)
		}
		c := sib.Cooperation
		counter(descSibFills, float64(c.Fetches-c.FetchErrors), "owner")
		counter(descSibFills, float64(c.FetchErrors), "owner_error")
		counter(descSibFills, float64(c.SelfOwned), "self")
		counter(descSibFills, float64(c.Alone), "alone")
		counter(descSibServed, float64(c.Served), "served")
		counter(descSibServed, float64(c.Rejected), "rejected")
	}
}
