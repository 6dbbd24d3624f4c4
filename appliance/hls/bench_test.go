package hls

import (
	"fmt"
	"strings"
	"testing"
)

// liveTenSegments is what live prefetch polls every target duration: an
// ffmpeg-style live playlist with ten segments and program date times.
func liveTenSegments() []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:1200\n")
	for i := range 10 {
		fmt.Fprintf(&b, "#EXTINF:4.000000,\n#EXT-X-PROGRAM-DATE-TIME:2024-03-05T10:00:%02d.000+0000\nsegment%d.ts\n", i*4, 1200+i)
	}
	return []byte(b.String())
}

func BenchmarkParseMedia(b *testing.B) {
	data := liveTenSegments()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := ParseMedia(data)
		if err != nil || len(m.Segments) != 10 {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseMediaLLHLS(b *testing.B) {
	data := readPlaylist(b, "apple_llhls")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMedia(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRewrite(b *testing.B) {
	data := liveTenSegments()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Rewrite(data, edgeURI); err != nil {
			b.Fatal(err)
		}
	}
}
