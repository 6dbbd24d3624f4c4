package demoorigin_test

import (
	"errors"
	"testing"

	"github.com/outpost-ecdn/outpost/tools/demoorigin"
)

func TestAVCCodec(t *testing.T) {
	tests := []struct {
		name   string
		annexB []byte
		want   string
		err    error
	}{
		// First bytes of x264 output (veryfast, main, level 4.0) dumped
		// with ffmpeg -c:v copy -f h264: AUD, then SPS.
		{"x264 main", []byte{0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x4d, 0x40, 0x28, 0xec, 0xa0}, "avc1.4d4028", nil},
		{"three-byte start code", []byte{0, 0, 1, 0x27, 0x42, 0xc0, 0x1e, 0x00}, "avc1.42c01e", nil},
		{"PPS only", []byte{0, 0, 0, 1, 0x68, 0xee, 0x3c, 0x80}, "", demoorigin.ErrBadEncode},
		{"truncated SPS", []byte{0, 0, 1, 0x67, 0x4d, 0x40}, "", demoorigin.ErrBadEncode},
		{"empty", nil, "", demoorigin.ErrBadEncode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := demoorigin.AVCCodec(tt.annexB)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("AVCCodec = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestH264Level(t *testing.T) {
	tests := []struct {
		w, h, fps, kbps int
		want            string
	}{
		{160, 90, 25, 100, "3.0"},
		{720, 576, 25, 2000, "3.0"},   // 1620 macroblocks, the 3.0 limit
		{960, 540, 25, 1200, "3.1"},   // 2040 macroblocks
		{1280, 720, 25, 15000, "3.2"}, // bit rate over 3.1's 14 Mbit/s
		{1920, 1080, 25, 4000, "4.0"},
		{1920, 1080, 50, 4000, "4.2"},
		{3840, 2160, 25, 20000, "5.1"},
	}
	for _, tt := range tests {
		if got := demoorigin.H264Level(tt.w, tt.h, tt.fps, tt.kbps); got != tt.want {
			t.Errorf("H264Level(%dx%d@%d, %d kbit/s) = %s, want %s", tt.w, tt.h, tt.fps, tt.kbps, got, tt.want)
		}
	}
}
