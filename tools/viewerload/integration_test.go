package viewerload

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestRunLoopback runs a few viewers against a stand-in live origin over real loopback
// sockets, with the probe and the origin's statistics. Viewers talk to the origin
// directly, so every figure can be checked against the origin's own counters.
func TestRunLoopback(t *testing.T) {
	defer goleak.VerifyNone(t)
	const segSize = 50_000
	origin := newLiveOrigin(500*time.Millisecond, 6, segSize)
	srv := httptest.NewServer(origin)
	defer srv.Close()

	const viewers = 4
	rep, err := Run(t.Context(), Config{
		URL:            srv.URL + "/live/master.m3u8",
		Variant:        1,
		Viewers:        viewers,
		Duration:       3 * time.Second,
		JoinJitter:     200 * time.Millisecond,
		OriginStats:    srv.URL + "/stats",
		OriginPlaylist: srv.URL + "/live/540p/index.m3u8",
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := srv.URL + "/live/540p/index.m3u8"; rep.MediaURL != want {
		t.Errorf("media URL = %s, want %s", rep.MediaURL, want)
	}
	if rep.Errors != 0 {
		t.Errorf("errors = %d: %q", rep.Errors, rep.ErrorSamples)
	}
	if rep.Segments < viewers*3 || rep.Latency.Count != int(rep.Segments) {
		t.Errorf("segments = %d with %d latency samples, want at least %d", rep.Segments, rep.Latency.Count, viewers*3)
	}
	if want := int64(rep.DistinctSegments) * segSize; rep.OneCopyBytes != want || want == 0 {
		t.Errorf("one-copy bytes = %d, want %d", rep.OneCopyBytes, want)
	}
	o, p := rep.Origin, rep.Probe
	if o == nil || p == nil {
		t.Fatalf("origin %v, probe %v: want both", o, p)
	}
	// Each segment a viewer or the probe completed was one origin request; a fetch cut
	// by the end of the run may add one per client.
	done := rep.Segments + int64(p.Fast+p.Slow)
	if o.SegmentRequests < done || o.SegmentRequests > done+viewers+2 {
		t.Errorf("origin segment requests = %d, want %d (+ at most one cut fetch per client)", o.SegmentRequests, done)
	}
	// Without an edge every viewer and the probe asks the origin itself.
	if o.FreshSegments == 0 || o.RequestsPerSegment <= 1 {
		t.Errorf("fresh segments %d, requests per segment %v: want several requests per segment", o.FreshSegments, o.RequestsPerSegment)
	}
	if o.Offload > 0.05 {
		t.Errorf("offload = %v without an edge, want about 0", o.Offload)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{"segments fetched", "delay from publish p50/p95/p99", "offload", "probe fetches fast/slow/errors"} {
		if !strings.Contains(text.String(), row) {
			t.Errorf("text report lacks %q:\n%s", row, text.String())
		}
	}
	var back map[string]any
	if b, err := json.Marshal(rep); err != nil || json.Unmarshal(b, &back) != nil {
		t.Fatalf("JSON round trip: %v", err)
	}
	if back["segments"] != float64(rep.Segments) {
		t.Errorf("JSON segments = %v, want %d", back["segments"], rep.Segments)
	}
}
