package shaper

import "github.com/prometheus/client_golang/prometheus"

var (
	labels         = []string{"direction", "class"}
	descBytes      = prometheus.NewDesc("outpost_shaper_bytes_total", "Bytes sent through a class of the WAN shaper (link-layer).", labels, nil)
	descPackets    = prometheus.NewDesc("outpost_shaper_packets_total", "Packets sent through a class of the WAN shaper.", labels, nil)
	descDrops      = prometheus.NewDesc("outpost_shaper_drops_total", "Packets a class of the WAN shaper dropped.", labels, nil)
	descOverlimits = prometheus.NewDesc("outpost_shaper_overlimits_total", "Times a class of the WAN shaper was throttled.", labels, nil)
	descBacklog    = prometheus.NewDesc("outpost_shaper_backlog_bytes", "Bytes queued in a class of the WAN shaper.", labels, nil)
	descRate       = prometheus.NewDesc("outpost_shaper_rate_bits_per_second", "Configured (guaranteed) rate of a class.", labels, nil)
	descCeil       = prometheus.NewDesc("outpost_shaper_ceil_bits_per_second", "Configured ceiling of a class.", labels, nil)
	descShaperUp   = prometheus.NewDesc("outpost_shaper_up", "1 if the shaper's tree could be read from the kernel.", nil, nil)
	shaperAllDescs = []*prometheus.Desc{descBytes, descPackets, descDrops, descOverlimits, descBacklog, descRate, descCeil, descShaperUp}
)

// Collector returns a Prometheus collector that reads Stats at every scrape.
//
//	reg.MustRegister(sh.Collector())
func (s *Shaper) Collector() prometheus.Collector { return collector{s} }

type collector struct{ s *Shaper }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range shaperAllDescs {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.s.Stats()
	up := 1.0
	if err != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(descShaperUp, prometheus.GaugeValue, up)
	for _, cl := range st.Classes {
		l := []string{cl.Direction, cl.Class}
		ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(cl.Bytes), l...)
		ch <- prometheus.MustNewConstMetric(descPackets, prometheus.CounterValue, float64(cl.Packets), l...)
		ch <- prometheus.MustNewConstMetric(descDrops, prometheus.CounterValue, float64(cl.Drops), l...)
		ch <- prometheus.MustNewConstMetric(descOverlimits, prometheus.CounterValue, float64(cl.Overlimits), l...)
		ch <- prometheus.MustNewConstMetric(descBacklog, prometheus.GaugeValue, float64(cl.Backlog), l...)
		ch <- prometheus.MustNewConstMetric(descRate, prometheus.GaugeValue, float64(cl.RateBits), l...)
		ch <- prometheus.MustNewConstMetric(descCeil, prometheus.GaugeValue, float64(cl.CeilBits), l...)
	}
}
