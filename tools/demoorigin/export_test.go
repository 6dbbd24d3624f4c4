package demoorigin

import "testing"

// ParseSegmentName exposes the segment URI parser to the fuzz test.
var ParseSegmentName = parseSegmentName

// EncodeDir returns the directory Prepare uses for cfg's encode.
func EncodeDir(t testing.TB, cfg Config) string {
	t.Helper()
	c, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return c.encodeParams().dir(c.MediaDir)
}

// SetFontFiles swaps the overlay font candidates for one test.
func SetFontFiles(t testing.TB, files []string) {
	old := fontFiles
	fontFiles = files
	t.Cleanup(func() { fontFiles = old })
}

// ChunkSize is the WAN write granularity and bucket burst.
const ChunkSize = chunkSize

// SlowChunk and SlowInterval pace /fault/slow/.
const (
	SlowChunk    = slowChunk
	SlowInterval = slowInterval
)

// AVCCodec and H264Level expose the codec string helpers.
var (
	AVCCodec  = avcCodec
	H264Level = h264Level
)
