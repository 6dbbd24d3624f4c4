package hls

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func identity(uri string) (string, bool) { return uri, true }
func keep(string) (string, bool)         { return "changed", false }

// edgeURI is what the edge does: send viewers to /o/{origin}/..., but leave
// DRM key URIs (skd:, data:) alone.
func edgeURI(uri string) (string, bool) {
	if strings.HasPrefix(uri, "skd:") || strings.HasPrefix(uri, "data:") {
		return "", false
	}
	return "/o/cdn/" + strings.TrimPrefix(uri, "https://"), true
}

func TestRewriteIdentity(t *testing.T) {
	valid := readPlaylists(t, "")
	for i, tp := range append(valid, readPlaylists(t, "malformed")...) {
		for enc, data := range encodings(tp.data) {
			for name, fn := range map[string]func(string) (string, bool){"identity": identity, "ok=false": keep} {
				got, err := Rewrite(data, fn)
				if err != nil {
					// Only malformed input may fail, and only as such.
					if i < len(valid) || !errors.Is(err, ErrNotPlaylist) && !errors.Is(err, ErrMalformed) {
						t.Errorf("%s/%s/%s: %v", tp.name, enc, name, err)
					}
					continue
				}
				if !bytes.Equal(got, data) {
					t.Errorf("%s/%s/%s: output differs from input:\n%s", tp.name, enc, name, cmp.Diff(string(data), string(got)))
				}
			}
		}
	}
}

func TestRewriteGolden(t *testing.T) {
	for _, tp := range readPlaylists(t, "") {
		t.Run(tp.name, func(t *testing.T) {
			got, err := Rewrite(tp.data, edgeURI)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tp.name+".rewritten.m3u8", got, func(want []byte) string {
				return cmp.Diff(string(want), string(got))
			})
			// CRLF in, CRLF out, with the same rewrite.
			crlf := encodings(tp.data)["bom+crlf"]
			got2, err := Rewrite(crlf, edgeURI)
			if err != nil {
				t.Fatal(err)
			}
			want2 := encodings(got)["bom+crlf"]
			if !bytes.Equal(got2, want2) {
				t.Errorf("bom+crlf rewrite differs:\n%s", cmp.Diff(string(want2), string(got2)))
			}
		})
	}
}

// uriAttr finds URI attributes the way a player would: URI= after a colon or
// comma, quoted or not.
var uriAttr = regexp.MustCompile(`[:,]\s*URI\s*=\s*("[^"]*"|[^,]*)`)

// TestRewriteReachesEveryURI rewrites every testdata playlist and checks,
// line by line, that no URI was left out, and that the parsers see the
// rewritten URIs where they saw the old ones.
func TestRewriteReachesEveryURI(t *testing.T) {
	const mark = "R/"
	var calls int
	prefix := func(uri string) (string, bool) { calls++; return mark + uri, true }
	for _, tp := range readPlaylists(t, "") {
		t.Run(tp.name, func(t *testing.T) {
			calls = 0
			out, err := Rewrite(tp.data, prefix)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for i, line := range strings.Split(string(out), "\n") {
				line = strings.TrimSpace(line)
				switch {
				case line == "" || strings.HasPrefix(line, "#EXTM3U"):
				case !strings.HasPrefix(line, "#"):
					want++
					if !strings.HasPrefix(line, mark) {
						t.Errorf("line %d: URI line not rewritten: %q", i+1, line)
					}
				case strings.HasPrefix(line, "#EXT") && !strings.HasPrefix(line, "#EXTINF"):
					for _, m := range uriAttr.FindAllStringSubmatch(line, -1) {
						want++
						if !strings.HasPrefix(strings.Trim(m[1], `"`), mark) {
							t.Errorf("line %d: URI attribute not rewritten: %q", i+1, line)
						}
					}
				}
			}
			if calls != want || want == 0 {
				t.Errorf("fn called %d times for %d URIs", calls, want)
			}
			before, err := parseAny(tp.data)
			if err != nil {
				t.Fatal(err)
			}
			after, err := parseAny(out)
			if err != nil {
				t.Fatal(err)
			}
			if before.Media != nil {
				var wantURIs []string
				for _, u := range before.URIs {
					wantURIs = append(wantURIs, mark+u)
				}
				if diff := cmp.Diff(wantURIs, after.URIs, cmpOpts); diff != "" {
					t.Errorf("Media.URIs() after rewrite (-want +got):\n%s", diff)
				}
			} else {
				for i, v := range before.Multivariant.Variants {
					if got := after.Multivariant.Variants[i].URI; got != mark+v.URI {
						t.Errorf("variant %d URI = %q, want %q", i, got, mark+v.URI)
					}
				}
			}
		})
	}
}

func TestRewriteCases(t *testing.T) {
	upper := func(uri string) (string, bool) { return strings.ToUpper(uri), true }
	tests := []struct {
		name string
		in   string
		fn   func(string) (string, bool)
		want string
		err  error
	}{
		{"unknown tag URI attribute", "#EXTM3U\n#EXT-X-NEW:A=1,URI=\"x\",B=\"URI=no\"\n", upper, "#EXTM3U\n#EXT-X-NEW:A=1,URI=\"X\",B=\"URI=no\"\n", nil},
		{"unquoted URI attribute keeps its blanks", "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128, URI = k ,IV=0x1\n", upper, "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128, URI = K ,IV=0x1\n", nil},
		{"URI line keeps its blanks and CRLF", "#EXTM3U\r\n#EXTINF:1,\r\n\t a.ts \r\n", upper, "#EXTM3U\r\n#EXTINF:1,\r\n\t A.TS \r\n", nil},
		{"no final newline", "#EXTM3U\n#EXTINF:1,\na.ts", upper, "#EXTM3U\n#EXTINF:1,\nA.TS", nil},
		{"EXTINF title is not an attribute", "#EXTM3U\n#EXTINF:1,URI=\"t\"\na\n", upper, "#EXTM3U\n#EXTINF:1,URI=\"t\"\nA\n", nil},
		{"comments are kept", "#EXTM3U\n# URI=\"c\"\n#EXT-X-MAP:URI=\"m\"\n", upper, "#EXTM3U\n# URI=\"c\"\n#EXT-X-MAP:URI=\"M\"\n", nil},
		{"non-attribute unknown tag", "#EXTM3U\n#EXT-OATCLS-SCTE35:/DAlAA==\n#EXT-X-CUE-OUT:30\n", upper, "#EXTM3U\n#EXT-OATCLS-SCTE35:/DAlAA==\n#EXT-X-CUE-OUT:30\n", nil},
		{"bom kept", bom + "#EXTM3U\nv\n", upper, bom + "#EXTM3U\nV\n", nil},
		{"every URI of a tag", "#EXTM3U\n#EXT-X-X:URI=\"a\",URI=\"b\"\n", upper, "#EXTM3U\n#EXT-X-X:URI=\"A\",URI=\"B\"\n", nil},
		{"line break from fn", "#EXTM3U\na\n", func(string) (string, bool) { return "a\nb", true }, "", ErrBadURI},
		{"quote from fn", "#EXTM3U\n#EXT-X-MAP:URI=\"m\"\n", func(string) (string, bool) { return `m"`, true }, "", ErrBadURI},
		{"comma into unquoted attribute", "#EXTM3U\n#EXT-X-MAP:URI=m\n", func(string) (string, bool) { return "m,n", true }, "", ErrBadURI},
		{"empty URI line", "#EXTM3U\na\n", func(string) (string, bool) { return "", true }, "", ErrBadURI},
		{"URI line made a comment", "#EXTM3U\na\n", func(string) (string, bool) { return "#a", true }, "", ErrBadURI},
		{"broken URI-carrying tag", "#EXTM3U\n#EXT-X-PART:URI=\"p\n", upper, "", ErrMalformed},
		{"no header", "a.ts\n", upper, "", ErrNotPlaylist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Rewrite([]byte(tt.in), tt.fn)
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("error = %v, want %v", err, tt.err)
			}
			if string(got) != tt.want {
				t.Errorf("Rewrite() mismatch (-want +got):\n%s", cmp.Diff(tt.want, string(got)))
			}
		})
	}
}

func TestRewriteErrorNamesLine(t *testing.T) {
	_, err := Rewrite([]byte("#EXTM3U\n\n#EXT-X-KEY:URI=\"k\"\n"), func(string) (string, bool) { return "\r", true })
	if want := fmt.Sprintf("hls: line 3: rewrite %q to %q: %v", "k", "\r", ErrBadURI); err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}
