package hls

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// testPlaylist is one file of testdata: a playlist captured from (or written
// after) a real system, named after its source.
type testPlaylist struct {
	name string // file name without .m3u8
	data []byte
}

func readPlaylists(t testing.TB, dir string) []testPlaylist {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no playlists in testdata/%s", dir)
	}
	var out []testPlaylist
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, testPlaylist{strings.TrimSuffix(filepath.Base(p), ".m3u8"), data})
	}
	return out
}

func readPlaylist(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// encodings returns data as captured, with CRLF line endings, and with a
// byte order mark and CRLF: all three must parse alike.
func encodings(data []byte) map[string][]byte {
	crlf := bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
	return map[string][]byte{
		"lf":       data,
		"crlf":     crlf,
		"bom+crlf": append([]byte(bom), crlf...),
	}
}

// parsed is what the golden files hold.
type parsed struct {
	Kind         string
	Media        *Media        `json:",omitempty"`
	Multivariant *Multivariant `json:",omitempty"`
	URIs         []string      `json:",omitempty"` // Media.URIs()
}

func parseAny(data []byte) (parsed, error) {
	kind, err := Detect(data)
	if err != nil {
		return parsed{}, err
	}
	out := parsed{Kind: kind.String()}
	if kind == KindMedia {
		out.Media, err = ParseMedia(data)
		if err == nil {
			out.URIs = out.Media.URIs()
		}
	} else {
		out.Multivariant, err = ParseMultivariant(data)
	}
	return out, err
}

var cmpOpts = cmp.Options{cmpopts.EquateEmpty()}

// checkGolden compares got with testdata/golden/name, or writes it there
// with -update.
func checkGolden(t *testing.T, name string, got []byte, compare func(want []byte) string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -update to create it): %v", err)
	}
	if diff := compare(want); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestParseGolden(t *testing.T) {
	for _, tp := range readPlaylists(t, "") {
		t.Run(tp.name, func(t *testing.T) {
			got, err := parseAny(tp.data)
			if err != nil {
				t.Fatal(err)
			}
			js, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tp.name+".json", append(js, '\n'), func(want []byte) string {
				var w parsed
				if err := json.Unmarshal(want, &w); err != nil {
					t.Fatal(err)
				}
				return cmp.Diff(w, got, cmpOpts)
			})
			for enc, data := range encodings(tp.data) {
				other, err := parseAny(data)
				if err != nil {
					t.Fatalf("%s: %v", enc, err)
				}
				if diff := cmp.Diff(got, other, cmpOpts); diff != "" {
					t.Errorf("%s parses differently (-lf +%s):\n%s", enc, enc, diff)
				}
			}
		})
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		data string
		want Kind
		err  error
	}{
		{"media", "#EXTM3U\n#EXT-X-TARGETDURATION:4\n", KindMedia, nil},
		{"media only parts", "#EXTM3U\n#EXT-X-PART:URI=\"p\"\n", KindMedia, nil},
		{"multivariant", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n", KindMultivariant, nil},
		{"multivariant media only", "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO\n", KindMultivariant, nil},
		{"bom", bom + "#EXTM3U\n#EXTINF:1,\na\n", KindMedia, nil},
		{"blank lines first", "\n \r\n\t\n#EXTM3U\n#EXTINF:1,\na\n", KindMedia, nil},
		{"header with trailing attributes", "#EXTM3U x-tvg-url=\"a\"\n#EXTINF:1,\na\n", KindMedia, nil},
		{"crlf", "#EXTM3U\r\n#EXT-X-I-FRAME-STREAM-INF:URI=\"i\"\r\n", KindMultivariant, nil},
		{"empty", "", 0, ErrNotPlaylist},
		{"only blanks", "\n\n  \n", 0, ErrNotPlaylist},
		{"bom only", bom, 0, ErrNotPlaylist},
		{"no header", "#EXT-X-TARGETDURATION:4\n", 0, ErrNotPlaylist},
		{"header typo", "#EXTM3Ux\n#EXTINF:1,\na\n", 0, ErrNotPlaylist},
		{"json", `{"error":"not found"}`, 0, ErrNotPlaylist},
		{"header only", "#EXTM3U\n", 0, ErrMalformed},
		{"mixed", "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO\n#EXTINF:1,\na\n", 0, ErrMalformed},
		{"lowercase tags are unknown", "#EXTM3U\n#extinf:1,\n", 0, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Detect([]byte(tt.data))
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("Detect() error = %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Errorf("Detect() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDetectTestdata(t *testing.T) {
	for _, tp := range readPlaylists(t, "") {
		want := KindMedia
		if strings.Contains(tp.name, "multivariant") {
			want = KindMultivariant
		}
		if got, err := Detect(tp.data); err != nil || got != want {
			t.Errorf("Detect(%s) = %v, %v; want %v", tp.name, got, err, want)
		}
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		file string
		err  error
		line int    // for ErrMalformed: the line the SyntaxError names
		text string // part of the message
	}{
		{"extinf_followed_by_extinf", ErrMalformed, 3, "EXTINF without URI"},
		{"extinf_at_eof", ErrMalformed, 5, "EXTINF without URI"},
		{"uri_without_extinf", ErrMalformed, 5, "URI without EXTINF"},
		{"streaminf_without_uri", ErrMalformed, 4, "EXT-X-STREAM-INF without URI"},
		{"multivariant_uri_first", ErrMalformed, 2, "URI without EXT-X-STREAM-INF"},
		{"extinf_bad_duration", ErrMalformed, 3, "bad EXTINF"},
		{"extinf_absurd_duration", ErrMalformed, 3, "bad EXTINF"},
		{"extinf_nan", ErrMalformed, 3, "bad EXTINF"},
		{"mixed_kinds", ErrMalformed, 5, "EXT-X-STREAM-INF in a media playlist"},
		{"key_unterminated_quote", ErrMalformed, 3, "unterminated quoted string"},
		{"media_sequence_overflow", ErrMalformed, 3, "overflow"},
		{"media_sequence_too_big", ErrMalformed, 3, "bad EXT-X-MEDIA-SEQUENCE"},
		{"missing_targetduration", ErrMalformed, 0, "missing EXT-X-TARGETDURATION"},
		{"part_without_uri", ErrMalformed, 4, "EXT-X-PART without URI"},
		{"bad_playlist_type", ErrMalformed, 3, "bad EXT-X-PLAYLIST-TYPE"},
		{"header_only", ErrMalformed, 0, "neither media nor multivariant"},
		{"html_error_page", ErrNotPlaylist, 0, "no #EXTM3U"},
		{"comment_before_header", ErrNotPlaylist, 0, "no #EXTM3U"},
		{"empty", ErrNotPlaylist, 0, "no #EXTM3U"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			data := readPlaylist(t, "malformed/"+tt.file)
			var err error
			if strings.Contains(tt.file, "multivariant") || strings.Contains(tt.file, "streaminf") {
				_, err = ParseMultivariant(data)
			} else {
				_, err = ParseMedia(data)
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("error = %v, want %v", err, tt.err)
			}
			if !strings.Contains(err.Error(), tt.text) || !strings.HasPrefix(err.Error(), "hls: ") {
				t.Errorf("error %q does not start with hls: or say %q", err, tt.text)
			}
			var se *SyntaxError
			if errors.As(err, &se) != (tt.err == ErrMalformed) {
				t.Fatalf("errors.As(%v, *SyntaxError) mismatch", err)
			}
			if se != nil && se.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", se.Line, tt.line, err)
			}
			// The same line is reported with CRLF endings and a BOM.
			for enc, data := range encodings(data) {
				var err2 error
				if strings.Contains(tt.file, "multivariant") || strings.Contains(tt.file, "streaminf") {
					_, err2 = ParseMultivariant(data)
				} else {
					_, err2 = ParseMedia(data)
				}
				if err2 == nil || err2.Error() != err.Error() {
					t.Errorf("%s: error = %v, want %v", enc, err2, err)
				}
			}
		})
	}
	for _, tp := range readPlaylists(t, "malformed") {
		if !seen[tp.name] {
			t.Errorf("testdata/malformed/%s.m3u8 has no case in the table", tp.name)
		}
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := ParseMedia([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:4\n\n\n#EXT-X-VERSION:3\n\n#EXTINF:4,\n"))
	if got, want := err.Error(), "hls: line 7: EXTINF without URI"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func TestWrongKind(t *testing.T) {
	media := readPlaylist(t, "ffmpeg_vod")
	multi := readPlaylist(t, "ffmpeg_multivariant_audio_group")
	if _, err := ParseMedia(multi); !errors.Is(err, ErrWrongKind) {
		t.Errorf("ParseMedia(multivariant) error = %v, want ErrWrongKind", err)
	}
	if _, err := ParseMultivariant(media); !errors.Is(err, ErrWrongKind) {
		t.Errorf("ParseMultivariant(media) error = %v, want ErrWrongKind", err)
	}
	for _, parse := range []func([]byte) error{
		func(b []byte) error { _, err := ParseMedia(b); return err },
		func(b []byte) error { _, err := ParseMultivariant(b); return err },
		func(b []byte) error { _, err := Rewrite(b, nil); return err },
	} {
		if err := parse([]byte("<html>")); !errors.Is(err, ErrNotPlaylist) {
			t.Errorf("error = %v, want ErrNotPlaylist", err)
		}
	}
}
