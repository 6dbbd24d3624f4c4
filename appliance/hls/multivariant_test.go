package hls

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseMultivariant(t *testing.T) {
	tests := []struct {
		name string
		data string
		want *Multivariant
	}{{
		name: "variant order is ordinal order, I-frames apart",
		data: "#EXTM3U\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=10,URI=\"i0\"\n#EXT-X-STREAM-INF:BANDWIDTH=300\nv0\n#EXT-X-STREAM-INF:BANDWIDTH=100\nv1\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=5,URI=\"i1\"\n#EXT-X-STREAM-INF:BANDWIDTH=200\nv2\n",
		want: &Multivariant{
			Variants: []Variant{
				{URI: "v0", Bandwidth: 300, Attrs: map[string]string{"BANDWIDTH": "300"}},
				{URI: "v1", Bandwidth: 100, Attrs: map[string]string{"BANDWIDTH": "100"}},
				{URI: "v2", Bandwidth: 200, Attrs: map[string]string{"BANDWIDTH": "200"}},
			},
			IFrameVariants: []Variant{
				{URI: "i0", Bandwidth: 10, Attrs: map[string]string{"BANDWIDTH": "10", "URI": "i0"}},
				{URI: "i1", Bandwidth: 5, Attrs: map[string]string{"BANDWIDTH": "5", "URI": "i1"}},
			},
		},
	}, {
		name: "every attribute kept, quoted commas, unknown attributes",
		data: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=6000000000,AVERAGE-BANDWIDTH=1,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=29.970,VIDEO=\"v\",AUDIO=\"a\",SUBTITLES=\"s\",CLOSED-CAPTIONS=NONE,HDCP-LEVEL=TYPE-0,X-CUSTOM=\"x,y\"\nhi.m3u8\n",
		want: &Multivariant{Variants: []Variant{{
			URI: "hi.m3u8", Bandwidth: 6000000000, AverageBandwidth: 1, Codecs: "avc1.64001f,mp4a.40.2",
			Resolution: "1280x720", FrameRate: "29.970", Video: "v", Audio: "a", Subtitles: "s", ClosedCaptions: "NONE",
			Attrs: map[string]string{"BANDWIDTH": "6000000000", "AVERAGE-BANDWIDTH": "1", "CODECS": "avc1.64001f,mp4a.40.2",
				"RESOLUTION": "1280x720", "FRAME-RATE": "29.970", "VIDEO": "v", "AUDIO": "a", "SUBTITLES": "s",
				"CLOSED-CAPTIONS": "NONE", "HDCP-LEVEL": "TYPE-0", "X-CUSTOM": "x,y"},
		}}},
	}, {
		name: "renditions without URI, comments and tags before the variant URI",
		data: "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MEDIA:TYPE=closed-captions,GROUP-ID=\"cc\",NAME=\"CC1\",INSTREAM-ID=\"CC1\",DEFAULT=no\n#EXT-X-STREAM-INF:BANDWIDTH=1\n# note\n#EXT-X-FUTURE-TAG\n\nv.m3u8\n",
		want: &Multivariant{Version: 4, IndependentSegments: true,
			Renditions: []Rendition{{Type: "CLOSED-CAPTIONS", GroupID: "cc", Name: "CC1",
				Attrs: map[string]string{"TYPE": "closed-captions", "GROUP-ID": "cc", "NAME": "CC1", "INSTREAM-ID": "CC1", "DEFAULT": "no"}}},
			Variants: []Variant{{URI: "v.m3u8", Bandwidth: 1, Attrs: map[string]string{"BANDWIDTH": "1"}}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMultivariant([]byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts); diff != "" {
				t.Errorf("ParseMultivariant() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMultivariantErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		line int
	}{
		{"stream-inf at eof", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n", 2},
		{"bad bandwidth", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=-1\nv\n", 2},
		{"bandwidth overflow", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=9223372036854775808\nv\n", 2},
		{"i-frame without URI", "#EXTM3U\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1\n", 2},
		{"media attributes unterminated", "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,NAME=\"x\n", 2},
		{"session data junk", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv\n#EXT-X-SESSION-DATA:DATA-ID=\"a\"\"b\"\n", 4},
		{"bad version", "#EXTM3U\n#EXT-X-VERSION:x\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv\n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMultivariant([]byte(tt.data))
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
