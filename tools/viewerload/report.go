package viewerload

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

// maxReportErrors is how many distinct error texts a Report keeps.
const maxReportErrors = 10

// Report is what one Run measured. Durations are in nanoseconds in JSON, Quantiles in
// milliseconds.
type Report struct {
	URL      string        `json:"url"`
	MediaURL string        `json:"media_url"`
	Viewers  int           `json:"viewers"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`

	// Segments counts segment fetches that completed; Playlists, playlist fetches.
	Segments  int64 `json:"segments"`
	Playlists int64 `json:"playlists"`
	// Errors counts failed requests; ErrorSamples keeps a few of their texts.
	Errors       int64    `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	// Skipped counts segments that left the playlist before a viewer got to them.
	Skipped int64 `json:"skipped"`
	// Stalls counts playback-buffer underruns; StalledViewers, viewers with at least one.
	Stalls         int64         `json:"stalls"`
	StalledViewers int           `json:"stalled_viewers"`
	StallTime      time.Duration `json:"stall_time_ns"`
	// LANBytes is every body byte the viewers received (playlists and segments).
	LANBytes int64 `json:"lan_bytes"`

	// Latency is request to last byte of each segment.
	Latency Quantiles `json:"segment_latency"`
	// PublishDelay is last byte minus publish time (PROGRAM-DATE-TIME + EXTINF), for the
	// segments published after the viewer joined.
	PublishDelay Quantiles `json:"publish_delay"`
	// Startup is join to the first segment's last byte.
	Startup Quantiles `json:"startup"`

	// DistinctSegments and OneCopyBytes describe the set of segments fetched at least once.
	DistinctSegments int   `json:"distinct_segments"`
	OneCopyBytes     int64 `json:"one_copy_bytes"`

	// Origin is present when the run read the origin's statistics.
	Origin *OriginReport `json:"origin,omitempty"`
	// Probe is present when the availability probe ran.
	Probe *ProbeReport `json:"probe,omitempty"`
}

// OriginReport is what the origin served during the run, minus the probe's own polls.
type OriginReport struct {
	WANBytes        int64 `json:"wan_bytes"`
	Requests        int64 `json:"requests"`
	SegmentRequests int64 `json:"segment_requests"`
	SegmentBytes    int64 `json:"segment_bytes"`
	// FreshSegments counts the distinct segments published during the run, which no
	// edge can have fetched before it; the two ratios below are computed over them
	// from the origin's per-path counters. Zero when the origin has no per-path
	// counters or the run has no OriginPlaylist to map edge URLs to origin paths: the
	// ratios then use all segment requests and all distinct segments.
	FreshSegments int `json:"fresh_segments"`
	// WANPerOneCopy is origin segment bytes per byte of one copy of each segment: 1
	// means each segment crossed the WAN exactly once.
	WANPerOneCopy float64 `json:"wan_per_one_copy"`
	// RequestsPerSegment is origin segment requests per distinct segment.
	RequestsPerSegment float64 `json:"requests_per_segment"`
	// Offload is 1 - WANBytes/LANBytes.
	Offload float64 `json:"offload"`
}

// ProbeReport is what the availability probe saw.
type ProbeReport struct {
	Probes int `json:"probes"`
	// Fast counts fetches faster than Threshold (the edge had the segment), Slow the rest.
	Fast      int           `json:"fast"`
	Slow      int           `json:"slow"`
	Errors    int           `json:"errors"`
	Threshold time.Duration `json:"threshold_ns"`
	Delay     time.Duration `json:"delay_ns"`
	Latency   Quantiles     `json:"latency"`
}

// report merges the viewers' results.
func (r *run) report(viewers []*viewer, started time.Time, elapsed time.Duration) *Report {
	rep := &Report{
		URL:      r.cfg.URL,
		MediaURL: r.mediaURL.String(),
		Viewers:  len(viewers),
		Started:  started,
		Duration: elapsed,
	}
	var latency, delay, startup []time.Duration
	seen := map[string]bool{}
	for _, v := range viewers {
		res := &v.res
		rep.Segments += res.segments
		rep.Playlists += res.playlists
		rep.Errors += res.errors
		rep.Skipped += res.skipped
		rep.Stalls += int64(res.stalls)
		rep.StallTime += res.stalled
		if res.stalls > 0 {
			rep.StalledViewers++
		}
		rep.LANBytes += res.bytes
		latency = append(latency, res.latency...)
		delay = append(delay, res.delay...)
		if res.started {
			startup = append(startup, res.startup)
		}
		for _, s := range res.errSamples {
			if !seen[s] && len(rep.ErrorSamples) < maxReportErrors {
				seen[s] = true
				rep.ErrorSamples = append(rep.ErrorSamples, s)
			}
		}
	}
	rep.Latency = Summarize(latency)
	rep.PublishDelay = Summarize(delay)
	rep.Startup = Summarize(startup)
	rep.DistinctSegments, rep.OneCopyBytes = r.segs.totals()
	return rep
}

// originReport derives the WAN figures from the origin's counters; the probe's own
// playlist polls are taken out.
func (r *run) originReport(s OriginStats, pr *probe, rep *Report) *OriginReport {
	o := &OriginReport{
		WANBytes:        s.Bytes,
		Requests:        s.Requests,
		SegmentRequests: s.Segments().Requests,
		SegmentBytes:    s.Segments().Bytes,
	}
	if pr != nil {
		pr.mu.Lock()
		o.WANBytes -= pr.originBytes
		o.Requests -= pr.originFetches
		pr.mu.Unlock()
	}
	o.WANPerOneCopy = ratio(float64(o.SegmentBytes), float64(rep.OneCopyBytes))
	o.RequestsPerSegment = ratio(float64(o.SegmentRequests), float64(rep.DistinctSegments))
	if pr != nil && s.Paths != nil {
		// Segments published after the counters were reset (Started follows the reset):
		// no edge can have fetched them before, so their counters hold their whole WAN
		// cost.
		originDir, err := url.Parse(pr.originDir)
		if err == nil {
			var bytes, size, requests int64
			r.segs.publishedAfter(rep.Started, func(u string, info segmentInfo) {
				rest, ok := strings.CutPrefix(u, pr.edgeDir)
				if !ok {
					return
				}
				c := s.Paths[originDir.Path+rest]
				o.FreshSegments++
				bytes += c.Bytes
				requests += c.Requests
				size += info.size
			})
			if o.FreshSegments > 0 {
				o.WANPerOneCopy = ratio(float64(bytes), float64(size))
				o.RequestsPerSegment = float64(requests) / float64(o.FreshSegments)
			}
		}
	}
	if rep.LANBytes > 0 {
		o.Offload = 1 - float64(o.WANBytes)/float64(rep.LANBytes)
	}
	return o
}

// ratio is a/b, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// WriteText writes rep as a two-column table.
func (rep *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...))
	}
	row("metric", "value")
	row("url", "%s", rep.MediaURL)
	row("viewers", "%d", rep.Viewers)
	row("duration", "%s", rep.Duration.Round(time.Millisecond))
	row("segments fetched", "%d", rep.Segments)
	row("playlists fetched", "%d", rep.Playlists)
	row("segment latency p50/p95/p99", "%s", rep.Latency)
	row("delay from publish p50/p95/p99", "%s", rep.PublishDelay)
	row("startup p50/p95/p99", "%s", rep.Startup)
	row("stalls (viewers, time)", "%d (%d, %s)", rep.Stalls, rep.StalledViewers, rep.StallTime.Round(time.Millisecond))
	row("skipped segments", "%d", rep.Skipped)
	row("errors", "%d", rep.Errors)
	row("LAN bytes", "%d", rep.LANBytes)
	row("distinct segments", "%d", rep.DistinctSegments)
	row("one-copy bytes", "%d", rep.OneCopyBytes)
	if o := rep.Origin; o != nil {
		row("WAN bytes", "%d", o.WANBytes)
		row("origin requests (segments)", "%d (%d)", o.Requests, o.SegmentRequests)
		row("fresh segments", "%d (published during the run; 0: ratios over all)", o.FreshSegments)
		row("WAN segment bytes / one copy", "%.3f", o.WANPerOneCopy)
		row("origin requests per segment", "%.3f", o.RequestsPerSegment)
		row("offload", "%.2f%%", 100*o.Offload)
	}
	if p := rep.Probe; p != nil {
		row("probe fetches fast/slow/errors", "%d / %d / %d (fast < %s, %s after origin)", p.Fast, p.Slow, p.Errors, p.Threshold, p.Delay)
		row("probe latency p50/p99", "%s / %s", ms(p.Latency.P50), ms(p.Latency.P99))
	}
	for _, s := range rep.ErrorSamples {
		row("error sample", "%s", s)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
