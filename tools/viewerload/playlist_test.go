package viewerload

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var pdt0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

var playlistTests = []struct {
	name    string
	in      string
	want    *Playlist
	wantErr error
}{
	{
		name: "live media with program date time",
		in: "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:41\n" +
			"#EXT-X-PROGRAM-DATE-TIME:2025-03-01T12:00:00.000Z\n#EXTINF:2.000,\nseg-41.ts\n" +
			"#EXTINF:1.5,\nseg-42.ts\n",
		want: &Playlist{TargetDuration: 2 * time.Second, MediaSequence: 41, Segments: []Segment{
			{URI: "seg-41.ts", Sequence: 41, Duration: 2 * time.Second, ProgramDateTime: pdt0},
			{URI: "seg-42.ts", Sequence: 42, Duration: 1500 * time.Millisecond, ProgramDateTime: pdt0.Add(2 * time.Second)},
		}},
	},
	{
		name: "program date time with offset and no colon, CRLF, BOM",
		in: "\xef\xbb\xbf#EXTM3U\r\n#EXT-X-TARGETDURATION:6\r\n#EXT-X-PROGRAM-DATE-TIME:2025-03-01T13:00:00+0100\r\n" +
			"#EXTINF:6,title\r\nhttp://cdn.example/a.ts\r\n#EXT-X-ENDLIST\r\n",
		want: &Playlist{TargetDuration: 6 * time.Second, Ended: true, Segments: []Segment{
			{URI: "http://cdn.example/a.ts", Duration: 6 * time.Second, ProgramDateTime: pdt0},
		}},
	},
	{
		name: "later program date time resets the clock",
		in: "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n#EXT-X-DISCONTINUITY\n" +
			"#EXT-X-PROGRAM-DATE-TIME:2025-03-01T12:00:00Z\n#EXTINF:4,\nb.ts\n",
		want: &Playlist{TargetDuration: 4 * time.Second, Segments: []Segment{
			{URI: "a.ts", Sequence: 0, Duration: 4 * time.Second},
			{URI: "b.ts", Sequence: 1, Duration: 4 * time.Second, ProgramDateTime: pdt0},
		}},
	},
	{
		name: "multivariant",
		in: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS=\"avc1.4d401e\",RESOLUTION=640x360\n360p/index.m3u8\n" +
			"#EXT-X-STREAM-INF:RESOLUTION=960x540,BANDWIDTH=1600000\n540p/index.m3u8\n",
		want: &Playlist{Variants: []Variant{{URI: "360p/index.m3u8", Bandwidth: 800000}, {URI: "540p/index.m3u8", Bandwidth: 1600000}}},
	},
	{name: "empty live playlist", in: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n", want: &Playlist{TargetDuration: 2 * time.Second}},
	{name: "empty", in: "", wantErr: ErrNotPlaylist},
	{name: "html", in: "<html>#EXTM3U</html>", wantErr: ErrNotPlaylist},
	{name: "segment without EXTINF", in: "#EXTM3U\na.ts\n", wantErr: ErrMalformed},
	{name: "negative duration", in: "#EXTM3U\n#EXTINF:-1,\na.ts\n", wantErr: ErrMalformed},
	{name: "NaN duration", in: "#EXTM3U\n#EXTINF:NaN,\na.ts\n", wantErr: ErrMalformed},
	{name: "huge target duration", in: "#EXTM3U\n#EXT-X-TARGETDURATION:1e300\n", wantErr: ErrMalformed},
	{name: "negative sequence", in: "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:-3\n", wantErr: ErrMalformed},
	{name: "sequence after segments", in: "#EXTM3U\n#EXTINF:1,\na.ts\n#EXT-X-MEDIA-SEQUENCE:3\n", wantErr: ErrMalformed},
	{name: "bad date", in: "#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n", wantErr: ErrMalformed},
	{name: "sequence overflow", in: "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:9223372036854775807\n#EXTINF:1,\na.ts\n#EXTINF:1,\nb.ts\n", wantErr: ErrMalformed},
}

func TestParsePlaylist(t *testing.T) {
	for _, tt := range playlistTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePlaylist([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParsePlaylist: %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePlaylist (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPublishTime(t *testing.T) {
	s := Segment{Duration: 2 * time.Second, ProgramDateTime: pdt0}
	if got, want := s.PublishTime(), pdt0.Add(2*time.Second); !got.Equal(want) {
		t.Errorf("PublishTime = %v, want %v", got, want)
	}
	if got := (Segment{Duration: time.Second}).PublishTime(); !got.IsZero() {
		t.Errorf("PublishTime without PDT = %v, want zero", got)
	}
}

func FuzzParsePlaylist(f *testing.F) {
	for _, tt := range playlistTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePlaylist(data)
		if err != nil {
			if !errors.Is(err, ErrNotPlaylist) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			return
		}
		for i, s := range p.Segments {
			if s.Sequence != p.MediaSequence+int64(i) {
				t.Fatalf("segment %d has sequence %d, media sequence %d", i, s.Sequence, p.MediaSequence)
			}
			if s.Duration < 0 || s.Duration > maxSegmentDuration || s.URI == "" {
				t.Fatalf("segment %d = %+v", i, s)
			}
		}
		if p.TargetDuration < 0 || p.TargetDuration > maxSegmentDuration {
			t.Fatalf("target duration %v", p.TargetDuration)
		}
	})
}

// BenchmarkParsePlaylist parses a six-segment live playlist, the work every viewer does
// on every reload.
func BenchmarkParsePlaylist(b *testing.B) {
	o := newLiveOrigin(2*time.Second, 6, 1000)
	data := []byte(o.media(time.Now()))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParsePlaylist(data); err != nil {
			b.Fatal(err)
		}
	}
}
