package hls

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseMediaTolerance(t *testing.T) {
	const sec = time.Second
	tests := []struct {
		name string
		data string
		want *Media
	}{{
		name: "fractional target duration rounds up",
		data: "#EXTM3U\n#EXT-X-TARGETDURATION:5.2\n#EXTINF:5.2,\na.ts\n",
		want: &Media{TargetDuration: 6 * sec, Segments: []Segment{{URI: "a.ts", Duration: 5200 * time.Millisecond}}},
	}, {
		name: "whole target duration stays",
		data: "#EXTM3U\n#EXT-X-TARGETDURATION:6.000\n",
		want: &Media{TargetDuration: 6 * sec},
	}, {
		name: "spaces after colons and around attributes",
		data: "#EXTM3U\n#EXT-X-VERSION: 7\n#EXT-X-TARGETDURATION: 4\n#EXT-X-MEDIA-SEQUENCE: 12\n#EXT-X-MAP: URI = \"i.mp4\" , BYTERANGE=\"10@0\"\n#EXTINF: 4.0 ,t\n  a.m4s \t\n",
		want: &Media{Version: 7, TargetDuration: 4 * sec, MediaSequence: 12,
			Segments: []Segment{{URI: "a.m4s", Sequence: 12, Duration: 4 * sec, Title: "t", MapURI: "i.mp4"}}},
	}, {
		name: "EXTINF without comma or title",
		data: "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4\na.ts\n#EXTINF:3.5,\nb.ts\n",
		want: &Media{TargetDuration: 4 * sec, Segments: []Segment{
			{URI: "a.ts", Duration: 4 * sec}, {URI: "b.ts", Sequence: 1, Duration: 3500 * time.Millisecond}}},
	}, {
		name: "EXTINF title keeps commas and IPTV attributes are skipped",
		data: "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4 tvg-id=\"x\",News, live\na.ts\n",
		want: &Media{TargetDuration: 4 * sec, Segments: []Segment{{URI: "a.ts", Duration: 4 * sec, Title: "News, live"}}},
	}, {
		name: "nanosecond precision and extra digits dropped",
		data: "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:.1234567891234,\na.ts\n",
		want: &Media{TargetDuration: 1 * sec, Segments: []Segment{{URI: "a.ts", Duration: 123456789}}},
	}, {
		name: "comments blank lines and unknown tags",
		data: "#EXTM3U\n\n# comment\n#EXT-X-FUTURE:A=1\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n\n# between EXTINF and URI\n#EXT-X-FOO\na.ts\n",
		want: &Media{TargetDuration: 2 * sec, Segments: []Segment{{URI: "a.ts", Duration: 2 * sec}}},
	}, {
		name: "key and map carry over; METHOD=NONE clears the key",
		data: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=AES-128,URI=\"k1\",IV=0xdeadbeefdeadbeefdeadbeefdeadbeef\n#EXT-X-MAP:URI=\"m1\"\n#EXTINF:2,\na\n#EXTINF:2,\nb\n#EXT-X-KEY:METHOD=NONE\n#EXTINF:2,\nc\n#EXT-X-KEY:method=aes-128,URI=\"k2\"\n#EXTINF:2,\nd\n",
		want: &Media{TargetDuration: 2 * sec, Segments: []Segment{
			{URI: "a", Duration: 2 * sec, KeyURI: "k1", MapURI: "m1"},
			{URI: "b", Sequence: 1, Duration: 2 * sec, KeyURI: "k1", MapURI: "m1"},
			{URI: "c", Sequence: 2, Duration: 2 * sec, MapURI: "m1"},
			{URI: "d", Sequence: 3, Duration: 2 * sec, KeyURI: "k2", MapURI: "m1"},
		}},
	}, {
		name: "tags after EXTINF belong to its segment, one-shot tags do not carry over",
		data: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:10@5\n#EXT-X-DISCONTINUITY\n#EXT-X-GAP\n#EXT-X-PROGRAM-DATE-TIME:2024-01-02T03:04:05.5Z\na\n#EXTINF:2,\nb\n",
		want: &Media{TargetDuration: 2 * sec, Segments: []Segment{
			{URI: "a", Duration: 2 * sec, ByteRange: "10@5", Discontinuity: true, Gap: true,
				ProgramDateTime: time.Date(2024, 1, 2, 3, 4, 5, 5e8, time.UTC)},
			{URI: "b", Sequence: 1, Duration: 2 * sec},
		}},
	}, {
		name: "playlist type in lowercase, endlist, huge media sequence",
		data: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:vod\n#EXT-X-MEDIA-SEQUENCE:18446744073709551614\n#EXTINF:2,\na\n#EXTINF:2,\nb\n#EXT-X-ENDLIST\n",
		want: &Media{TargetDuration: 2 * sec, Type: "VOD", Ended: true, MediaSequence: 1<<64 - 2, Segments: []Segment{
			{URI: "a", Sequence: 1<<64 - 2, Duration: 2 * sec}, {URI: "b", Sequence: 1<<64 - 1, Duration: 2 * sec}}},
	}, {
		name: "LL-HLS parts, map hint and trailing parts",
		data: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,HOLD-BACK=6,PART-HOLD-BACK=1.5\n#EXT-X-PART-INF:PART-TARGET=0.5\n#EXT-X-PART:DURATION=0.5,URI=\"p0\",INDEPENDENT=YES,BYTERANGE=\"100@0\"\n#EXT-X-PART:URI=\"p1\",DURATION=0.5\n#EXTINF:1,\ns0\n#EXT-X-PART:DURATION=0.5,URI=\"p2\",GAP=YES\n#EXT-X-PRELOAD-HINT:TYPE=MAP,URI=\"init2\"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p3\"\n",
		want: &Media{TargetDuration: 2 * sec, CanBlockReload: true, HoldBack: 6 * sec, PartHoldBack: 1500 * time.Millisecond,
			PartTarget: sec / 2, PreloadHints: []string{"init2", "p3"},
			Segments: []Segment{{URI: "s0", Duration: sec, Parts: []Part{
				{URI: "p0", Duration: sec / 2, Independent: true, ByteRange: "100@0"},
				{URI: "p1", Duration: sec / 2}}}},
			TrailingParts: []Part{{URI: "p2", Duration: sec / 2}}},
	}, {
		name: "program date time layouts",
		data: "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PROGRAM-DATE-TIME:2024-03-05T10:00:00.000+0100\n#EXTINF:1,\na\n#EXT-X-PROGRAM-DATE-TIME:2024-03-05T09:00:01+00:00\n#EXTINF:1,\nb\n#EXT-X-PROGRAM-DATE-TIME:2024-03-05T09:00:02\n#EXTINF:1,\nc\n",
		want: &Media{TargetDuration: sec, Segments: []Segment{
			{URI: "a", Duration: sec, ProgramDateTime: time.Date(2024, 3, 5, 9, 0, 0, 0, time.UTC)},
			{URI: "b", Sequence: 1, Duration: sec, ProgramDateTime: time.Date(2024, 3, 5, 9, 0, 1, 0, time.UTC)},
			{URI: "c", Sequence: 2, Duration: sec, ProgramDateTime: time.Date(2024, 3, 5, 9, 0, 2, 0, time.UTC)},
		}},
	}, {
		name: "NUL bytes stay inside a URI",
		data: "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\x00\na\x00b\n",
		want: &Media{TargetDuration: sec, Segments: []Segment{{URI: "a\x00b", Duration: sec, Title: "\x00"}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMedia([]byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts); diff != "" {
				t.Errorf("ParseMedia() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMediaHostile(t *testing.T) {
	manyAttrs := "#EXT-X-KEY:" + strings.Repeat("A=1,", maxAttrs) + "URI=\"k\""
	tests := []struct {
		name string
		data string
		line int
	}{
		{"too many attributes", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n" + manyAttrs + "\n", 3},
		{"absurd target duration", "#EXTM3U\n#EXT-X-TARGETDURATION:1000001\n", 2},
		{"negative duration", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:-1,\na\n", 3},
		{"exponent duration", "#EXTM3U\n#EXT-X-TARGETDURATION:1e3\n", 2},
		{"hex duration", "#EXTM3U\n#EXT-X-TARGETDURATION:0x10\n", 2},
		{"inf part duration", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PART:URI=\"p\",DURATION=Inf\n", 3},
		{"negative sequence", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:-11\n", 3},
		{"huge version", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-VERSION:99999999999\n", 3},
		{"skip overflows sequence", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n", 3},
		{"bad byte range", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-BYTERANGE:10@\n", 3},
		{"bad part byte range", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PART:URI=\"p\",BYTERANGE=\"x\"\n", 3},
		{"bad date", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n", 3},
		{"map without URI", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:BYTERANGE=\"1@0\"\n", 3},
		{"key without URI", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-KEY:METHOD=AES-128\n", 3},
		{"junk in rendition report", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-RENDITION-REPORT:URI=\"a\"x\n", 3},
		{"attribute without value", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PRELOAD-HINT:URI\n", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMedia([]byte(tt.data))
			var se *SyntaxError
			if !errors.Is(err, ErrMalformed) || !errors.As(err, &se) {
				t.Fatalf("error = %v, want a SyntaxError", err)
			}
			if se.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", se.Line, tt.line, err)
			}
		})
	}
}

func TestMediaLive(t *testing.T) {
	tests := []struct {
		file string
		live bool
		edge string // URI of the live edge
		seq  uint64 // its sequence number
	}{
		{"ffmpeg_live_pdt", true, "index1211.ts", 1211},
		{"ffmpeg_aes128_discont_live", true, "index79.ts", 79},
		{"ffmpeg_vod", false, "index3.ts", 3},
		{"ffmpeg_fmp4_event", false, "index3.m4s", 3}, // EVENT that has ended
		{"apple_llhls", true, "fileSequence272.mp4", 272},
		{"apple_llhls_delta", true, "fileSequence272.mp4", 272},
		{"apple_iframes_only", false, "main.mp4", 3},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m, err := ParseMedia(readPlaylist(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if m.Live() != tt.live {
				t.Errorf("Live() = %v, want %v", m.Live(), tt.live)
			}
			edge, ok := m.LiveEdge()
			if !ok || edge.URI != tt.edge || edge.Sequence != tt.seq {
				t.Errorf("LiveEdge() = %q #%d, %v; want %q #%d", edge.URI, edge.Sequence, ok, tt.edge, tt.seq)
			}
		})
	}
	empty := &Media{Type: "EVENT"}
	if _, ok := empty.LiveEdge(); ok || !empty.Live() {
		t.Errorf("empty EVENT playlist: LiveEdge ok = %v, Live = %v", ok, empty.Live())
	}
	if (&Media{Type: "VOD"}).Live() {
		t.Error("VOD playlist without ENDLIST is live")
	}
}

func TestMediaURIs(t *testing.T) {
	m := &Media{
		Segments: []Segment{
			{URI: "s1", KeyURI: "k", MapURI: "m", Parts: []Part{{URI: "p1"}, {URI: "p2"}}},
			{URI: "s1", KeyURI: "k", MapURI: "m"}, // byte ranges of one file
			{URI: "s2", MapURI: "m2"},
		},
		TrailingParts: []Part{{URI: "p3"}, {URI: "p3"}},
		PreloadHints:  []string{"p4", "m2"},
	}
	want := []string{"k", "m", "p1", "p2", "s1", "m2", "s2", "p3", "p4"}
	if diff := cmp.Diff(want, m.URIs()); diff != "" {
		t.Errorf("URIs() mismatch (-want +got):\n%s", diff)
	}
	if got := (&Media{}).URIs(); len(got) != 0 {
		t.Errorf("empty playlist URIs() = %q", got)
	}
}
