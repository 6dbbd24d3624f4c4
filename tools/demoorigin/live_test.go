package demoorigin_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/grafov/m3u8"
	"github.com/outpost-ecdn/outpost/tools/demoorigin"
)

// liveView is what a player learns from one live playlist.
type liveView struct {
	MediaSequence uint64
	DiscSequence  uint64
	URIs          []string
	Discontinuity []bool      // per segment: EXT-X-DISCONTINUITY before it
	PDT           []time.Time // per segment
}

func decodeMedia(t *testing.T, body []byte) *m3u8.MediaPlaylist {
	t.Helper()
	pl, typ, err := m3u8.DecodeFrom(bytes.NewReader(body), true)
	if err != nil || typ != m3u8.MEDIA {
		t.Fatalf("decode media playlist: %v (type %v)\n%s", err, typ, body)
	}
	return pl.(*m3u8.MediaPlaylist)
}

func viewOf(t *testing.T, body []byte) liveView {
	t.Helper()
	p := decodeMedia(t, body)
	v := liveView{MediaSequence: p.SeqNo, DiscSequence: p.DiscontinuitySeq}
	for _, s := range p.Segments {
		if s == nil {
			continue
		}
		v.URIs = append(v.URIs, s.URI)
		v.Discontinuity = append(v.Discontinuity, s.Discontinuity)
		v.PDT = append(v.PDT, s.ProgramDateTime.UTC())
		if s.Duration != testSegment.Seconds() {
			t.Errorf("EXTINF %v, want %v", s.Duration, testSegment.Seconds())
		}
	}
	if p.TargetDuration != testSegment.Seconds() || p.Closed {
		t.Errorf("target duration %v closed %v", p.TargetDuration, p.Closed)
	}
	return v
}

// segs builds the expected view of live segments first..last.
func segs(prefix string, first, last uint64, disc ...uint64) liveView {
	v := liveView{MediaSequence: first}
	isDisc := map[uint64]bool{}
	for _, d := range disc {
		isDisc[d] = true
	}
	for seq := first; seq <= last; seq++ {
		v.URIs = append(v.URIs, fmt.Sprintf("%sseg-%d.ts", prefix, seq))
		v.Discontinuity = append(v.Discontinuity, isDisc[seq])
		v.PDT = append(v.PDT, testEpoch.Add(time.Duration(seq)*testSegment))
	}
	return v
}

func withDisc(v liveView, dsn uint64) liveView {
	v.DiscSequence = dsn
	return v
}

// TestLivePlaylistAdvances walks the fake clock across clip loops (4
// segments, window 3) and checks sequence numbers, URIs, date-times and
// discontinuities.
func TestLivePlaylistAdvances(t *testing.T) {
	_, ts, clock := newOrigin(t, nil)
	tests := []struct {
		name string
		at   time.Duration // after the epoch
		want liveView
	}{
		{"before first publish", 999 * time.Millisecond, liveView{}},
		{"first segment", time.Second, segs("", 0, 0)},
		{"window filling", 3900 * time.Millisecond, segs("", 0, 2)},
		{"loop enters window", 5 * time.Second, segs("", 2, 4, 4)},
		{"loop mid window", 6 * time.Second, segs("", 3, 5, 4)},
		{"loop start is first", 7 * time.Second, withDisc(segs("", 4, 6), 1)},
		{"second loop", 9 * time.Second, withDisc(segs("", 6, 8, 8), 1)},
		{"far later", 1000 * time.Second, withDisc(segs("", 997, 999), 249)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Set(testEpoch.Add(tt.at))
			r := get(t, ts.URL+"/live/lo/index.m3u8", http.StatusOK)
			if diff := cmp.Diff(tt.want, viewOf(t, r.body)); diff != "" {
				t.Errorf("playlist at +%v (-want +got):\n%s\n%s", tt.at, diff, r.body)
			}
			if got := r.header.Get("Content-Type"); got != "application/vnd.apple.mpegurl" {
				t.Errorf("Content-Type %q", got)
			}
			if got := r.header.Get("Cache-Control"); got != "max-age=1" {
				t.Errorf("Cache-Control %q", got)
			}
			if bytes.Contains(r.body, []byte("SERVER-CONTROL")) {
				t.Errorf("SERVER-CONTROL without BlockingReload:\n%s", r.body)
			}
		})
	}
}

// TestPublishTime checks that each segment appears in the playlist exactly
// at PublishTime, as the newest segment.
func TestPublishTime(t *testing.T) {
	srv, ts, clock := newOrigin(t, nil)
	for seq := uint64(0); seq < 6; seq++ {
		at := srv.PublishTime(seq)
		if want := testEpoch.Add(time.Duration(seq+1) * testSegment); !at.Equal(want) {
			t.Fatalf("PublishTime(%d) = %v, want %v", seq, at, want)
		}
		uri := fmt.Sprintf("seg-%d.ts", seq)
		clock.Set(at.Add(-time.Nanosecond))
		if v := viewOf(t, get(t, ts.URL+"/live/hi/index.m3u8", 200).body); len(v.URIs) > 0 && v.URIs[len(v.URIs)-1] == uri {
			t.Errorf("%s listed before PublishTime", uri)
		}
		get(t, ts.URL+"/live/hi/"+uri, http.StatusNotFound)
		clock.Set(at)
		if v := viewOf(t, get(t, ts.URL+"/live/hi/index.m3u8", 200).body); len(v.URIs) == 0 || v.URIs[len(v.URIs)-1] != uri {
			t.Errorf("at PublishTime the newest segment is %v, want %s", v.URIs, uri)
		}
		get(t, ts.URL+"/live/hi/"+uri, http.StatusOK)
	}
}

// TestLiveSegments checks which live segment URIs exist at one instant
// and that segment seq carries clip segment seq % ClipSegments.
func TestLiveSegments(t *testing.T) {
	_, ts, clock := newOrigin(t, nil)
	clock.Set(testEpoch.Add(20 * testSegment)) // newest published: 19
	vod := make([][]byte, testClip)
	for i := range vod {
		vod[i] = get(t, fmt.Sprintf("%s/vod/lo/seg-%d.ts", ts.URL, i), 200).body
	}
	tests := []struct {
		path string
		want int
		clip int // expected clip index when 200
	}{
		{"/live/lo/seg-19.ts", 200, 3},
		{"/live/lo/seg-16.ts", 200, 0},
		{"/live/lo/seg-14.ts", 200, 2}, // out of the window, within two windows
		{"/live/lo/seg-13.ts", 404, 0}, // two windows old
		{"/live/lo/seg-0.ts", 404, 0},
		{"/live/lo/seg-20.ts", 404, 0}, // not yet published
		{"/live/lo/seg-18446744073709551615.ts", 404, 0},
		{"/live/lo/seg-019.ts", 404, 0}, // not canonical
		{"/live/lo/seg-+19.ts", 404, 0},
		{"/live/lo/seg-19.mp4", 404, 0},
		{"/live/nope/seg-19.ts", 404, 0},
		{"/live/big/seg-19.ts", 404, 0}, // VOD-only rendition
		{"/live/big/index.m3u8", 404, 0},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := get(t, ts.URL+tt.path, tt.want)
			if tt.want != 200 {
				return
			}
			if !bytes.Equal(r.body, vod[tt.clip]) {
				t.Errorf("body is not clip segment %d", tt.clip)
			}
			if r.header.Get("Content-Type") != "video/mp2t" || !strings.Contains(r.header.Get("Cache-Control"), "max-age=86400") || r.header.Get("ETag") == "" {
				t.Errorf("headers %v", r.header)
			}
			h := fetch(t, http.MethodHead, ts.URL+tt.path)
			if h.status != 200 || len(h.body) != 0 || h.header.Get("Content-Length") != fmt.Sprint(len(r.body)) {
				t.Errorf("HEAD: status %d, %d body bytes, Content-Length %q, want 200, 0, %d",
					h.status, len(h.body), h.header.Get("Content-Length"), len(r.body))
			}
		})
	}
}

func TestAbsolutePlaylist(t *testing.T) {
	_, ts, clock := newOrigin(t, nil)
	clock.Set(testEpoch.Add(5 * testSegment))
	host := strings.TrimPrefix(ts.URL, "http://")
	v := viewOf(t, get(t, ts.URL+"/abs/live/hi/index.m3u8", 200).body)
	if diff := cmp.Diff(segs("http://"+host+"/live/hi/", 2, 4, 4), v); diff != "" {
		t.Fatalf("absolute playlist (-want +got):\n%s", diff)
	}
	get(t, v.URIs[len(v.URIs)-1], 200)

	pl, _, err := m3u8.DecodeFrom(bytes.NewReader(get(t, ts.URL+"/abs/live/master.m3u8", 200).body), true)
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, v := range pl.(*m3u8.MasterPlaylist).Variants {
		uris = append(uris, v.URI)
	}
	want := []string{"http://" + host + "/abs/live/lo/index.m3u8", "http://" + host + "/abs/live/hi/index.m3u8"}
	if diff := cmp.Diff(want, uris); diff != "" {
		t.Errorf("absolute multivariant URIs (-want +got):\n%s", diff)
	}
}

// TestMultivariant checks the variant attributes against the served
// segments: AVERAGE-BANDWIDTH is the clip's bit rate, BANDWIDTH its
// busiest segment's.
func TestMultivariant(t *testing.T) {
	_, ts, clock := newOrigin(t, nil)
	clock.Set(testEpoch.Add(testClip * testSegment)) // live 0..3 published
	for _, tt := range []struct {
		kind string
		want []demoorigin.Rendition
	}{
		{"live", []demoorigin.Rendition{lo, hi}},
		{"vod", []demoorigin.Rendition{lo, big}},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			r := get(t, ts.URL+"/"+tt.kind+"/master.m3u8", 200)
			pl, typ, err := m3u8.DecodeFrom(bytes.NewReader(r.body), true)
			if err != nil || typ != m3u8.MASTER {
				t.Fatalf("decode: %v\n%s", err, r.body)
			}
			vs := pl.(*m3u8.MasterPlaylist).Variants
			if len(vs) != len(tt.want) {
				t.Fatalf("%d variants, want %d", len(vs), len(tt.want))
			}
			for i, v := range vs {
				rd := tt.want[i]
				if v.URI != rd.Name+"/index.m3u8" || v.Resolution != fmt.Sprintf("%dx%d", rd.Width, rd.Height) ||
					v.FrameRate != demoorigin.FPS || !strings.HasSuffix(v.Codecs, ",mp4a.40.2") || !strings.HasPrefix(v.Codecs, "avc1.") {
					t.Errorf("variant %d: %+v", i, v.VariantParams)
				}
				var total, peak int
				for j := range testClip {
					n := len(get(t, fmt.Sprintf("%s/%s/%s/seg-%d.ts", ts.URL, tt.kind, rd.Name, j), 200).body)
					total += n
					peak = max(peak, n)
				}
				seconds := int(testSegment.Seconds())
				wantPeak := peak * 8 / seconds
				wantAvg := (total*8 + testClip*seconds - 1) / (testClip * seconds)
				if int(v.Bandwidth) != wantPeak || int(v.AverageBandwidth) != wantAvg {
					t.Errorf("variant %s: BANDWIDTH %d AVERAGE-BANDWIDTH %d, want %d and %d",
						rd.Name, v.Bandwidth, v.AverageBandwidth, wantPeak, wantAvg)
				}
				// CBR: the clip's bit rate is close to the configured one
				// (plus MPEG-TS overhead).
				audio := rd.AudioKbps
				if audio == 0 {
					audio = 64
				}
				configured := (rd.VideoKbps + audio) * 1000
				if ratio := float64(v.AverageBandwidth) / float64(configured); ratio < 0.9 || ratio > 1.6 {
					t.Errorf("variant %s: AVERAGE-BANDWIDTH %d is %.2f of the configured %d", rd.Name, v.AverageBandwidth, ratio, configured)
				}
			}
		})
	}
}

func TestVODPlaylist(t *testing.T) {
	_, ts, _ := newOrigin(t, nil)
	r := get(t, ts.URL+"/vod/big/index.m3u8", 200)
	p := decodeMedia(t, r.body)
	if !p.Closed || p.MediaType != m3u8.VOD || p.SeqNo != 0 {
		t.Fatalf("closed %v type %v seq %d, want an ended VOD playlist from 0", p.Closed, p.MediaType, p.SeqNo)
	}
	var uris []string
	for _, s := range p.Segments {
		if s != nil {
			uris = append(uris, s.URI)
		}
	}
	if diff := cmp.Diff([]string{"seg-0.ts", "seg-1.ts", "seg-2.ts", "seg-3.ts"}, uris); diff != "" {
		t.Errorf("VOD URIs (-want +got):\n%s", diff)
	}
	get(t, ts.URL+"/vod/big/seg-4.ts", 404)
	get(t, ts.URL+"/vod/hi/index.m3u8", 404) // live-only rendition
	if got := r.header.Get("Cache-Control"); !strings.Contains(got, "max-age=86400") {
		t.Errorf("VOD playlist Cache-Control %q", got)
	}
}

func TestRangeRequest(t *testing.T) {
	_, ts, _ := newOrigin(t, nil)
	full := get(t, ts.URL+"/vod/lo/seg-0.ts", 200).body
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/vod/lo/seg-0.ts", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Range", "bytes=100-299")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got bytes.Buffer
	if _, err := got.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got.Bytes(), full[100:300]) {
		t.Errorf("range: status %d, %d bytes", resp.StatusCode, got.Len())
	}
}
