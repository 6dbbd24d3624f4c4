package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// vodOrigin serves a three-segment VOD playlist; viewers fetch it to the end and stop.
func vodOrigin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /vod/index.m3u8", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n"+
			"#EXTINF:2,\nseg-0.ts\n#EXTINF:2,\nseg-1.ts\n#EXTINF:2,\nseg-2.ts\n#EXT-X-ENDLIST\n")
	})
	mux.HandleFunc("GET /vod/{seg}", func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte{0x47}, 1880))
	})
	return mux
}

func TestRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	srv := httptest.NewServer(vodOrigin())
	defer srv.Close()
	jsonPath := filepath.Join(t.TempDir(), "report.json")
	var out bytes.Buffer
	err := run(t.Context(), []string{"-url", srv.URL + "/vod/index.m3u8", "-n", "3", "-duration", "20s",
		"-join-jitter", "0", "-json", jsonPath}, &out, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var rep struct {
		Viewers  int   `json:"viewers"`
		Segments int64 `json:"segments"`
		LANBytes int64 `json:"lan_bytes"`
		Errors   int64 `json:"errors"`
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if rep.Viewers != 3 || rep.Segments != 9 || rep.Errors != 0 {
		t.Errorf("report = %+v, want 3 viewers with 3 segments each and no errors", rep)
	}
	if !strings.Contains(out.String(), "segments fetched") {
		t.Errorf("text report:\n%s", out.String())
	}
}

func TestRunFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"help", []string{"-h"}, flag.ErrHelp.Error()},
		{"no url", []string{"-n", "1"}, "no URL"},
		{"too many viewers", []string{"-url", "http://127.0.0.1:1/x.m3u8", "-n", "5001"}, "viewers 5001"},
		{"stray argument", []string{"-url", "http://127.0.0.1:1/x.m3u8", "extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(t.Context(), tt.args, io.Discard, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("run(%q) = %v, want error containing %q", tt.args, err, tt.wantErr)
			}
			if tt.name == "help" && !errors.Is(err, flag.ErrHelp) {
				t.Errorf("run(-h) = %v, want flag.ErrHelp", err)
			}
		})
	}
}
