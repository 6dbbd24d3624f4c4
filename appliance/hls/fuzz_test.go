package hls

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// seedCorpus adds every testdata playlist, as captured and with CRLF and a
// byte order mark, plus the inline cases.
func seedCorpus(f *testing.F) {
	for _, dir := range []string{"", "malformed"} {
		for _, tp := range readPlaylists(f, dir) {
			for _, data := range encodings(tp.data) {
				f.Add(data)
			}
		}
	}
	for _, s := range []string{
		"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n#EXTINF:1,\na\n",
		"#EXTM3U\n#EXT-X-KEY:URI=k,URI=\"q\"\n#EXT-X-TARGETDURATION:1\n",
		"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"a,b\"\nv\n",
		"\xef\xbb\xbf\n#EXTM3U\r\n#EXTINF:1\r\n\x00\r\n",
	} {
		f.Add([]byte(s))
	}
}

// checkErr fails unless err is one of the documented kinds.
func checkErr(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrNotPlaylist) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrWrongKind) {
		t.Fatalf("undocumented error: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "hls: ") {
		t.Fatalf("error without package prefix: %v", err)
	}
}

// prefixed is a rewrite that changes every URI and can be undone.
func prefixed(uri string) (string, bool) { return "R/" + uri, true }

func FuzzParseMedia(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMedia(data)
		if err != nil {
			checkErr(t, err)
			return
		}
		if m.TargetDuration%time.Second != 0 || m.TargetDuration < 0 {
			t.Errorf("TargetDuration %v is not whole non-negative seconds", m.TargetDuration)
		}
		for i, s := range m.Segments {
			if s.Sequence != m.MediaSequence+m.Skipped+uint64(i) {
				t.Errorf("segment %d: Sequence %d, MediaSequence %d, Skipped %d", i, s.Sequence, m.MediaSequence, m.Skipped)
			}
			if s.URI == "" || s.Duration < 0 || s.Duration > maxSeconds*time.Second {
				t.Errorf("segment %d: URI %q, Duration %v", i, s.URI, s.Duration)
			}
		}
		uris := m.URIs()
		seen := map[string]bool{}
		for _, u := range uris {
			if u == "" || seen[u] {
				t.Errorf("URIs() has empty or repeated %q", u)
			}
			seen[u] = true
		}
		// A playlist that parses can be rewritten, losslessly by identity.
		if out, err := Rewrite(data, identity); err != nil || !bytes.Equal(out, data) {
			t.Fatalf("identity Rewrite of a parsed playlist: %v", err)
		}
		out, err := Rewrite(data, prefixed)
		if errors.Is(err, ErrBadURI) {
			return // a URI with a carriage return inside cannot take a prefix
		}
		if err != nil {
			t.Fatalf("Rewrite: %v", err)
		}
		m2, err := ParseMedia(out)
		if err != nil {
			t.Fatalf("rewritten playlist does not parse: %v\n%q", err, out)
		}
		uris2 := m2.URIs()
		if len(uris2) != len(uris) || len(m2.Segments) != len(m.Segments) {
			t.Fatalf("rewritten playlist has %d URIs, %d segments; want %d, %d", len(uris2), len(m2.Segments), len(uris), len(m.Segments))
		}
		for i := range uris {
			if uris2[i] != "R/"+uris[i] {
				t.Errorf("URI %d: %q after rewrite, was %q", i, uris2[i], uris[i])
			}
		}
	})
}

func FuzzParseMultivariant(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		mv, err := ParseMultivariant(data)
		if err != nil {
			checkErr(t, err)
			return
		}
		for i, v := range append(mv.Variants, mv.IFrameVariants...) {
			if v.URI == "" || v.Bandwidth < 0 || v.AverageBandwidth < 0 || v.Attrs == nil || len(v.Attrs) > maxAttrs {
				t.Errorf("variant %d: %+v", i, v)
			}
		}
		if out, err := Rewrite(data, identity); err != nil || !bytes.Equal(out, data) {
			t.Fatalf("identity Rewrite of a parsed playlist: %v", err)
		}
		out, err := Rewrite(data, prefixed)
		if errors.Is(err, ErrBadURI) {
			return
		}
		if err != nil {
			t.Fatalf("Rewrite: %v", err)
		}
		mv2, err := ParseMultivariant(out)
		if err != nil {
			t.Fatalf("rewritten playlist does not parse: %v\n%q", err, out)
		}
		if len(mv2.Variants) != len(mv.Variants) || len(mv2.Renditions) != len(mv.Renditions) {
			t.Fatalf("rewritten playlist has %d variants, %d renditions; want %d, %d",
				len(mv2.Variants), len(mv2.Renditions), len(mv.Variants), len(mv.Renditions))
		}
		for i, v := range mv.Variants {
			if mv2.Variants[i].URI != "R/"+v.URI {
				t.Errorf("variant %d: %q after rewrite, was %q", i, mv2.Variants[i].URI, v.URI)
			}
		}
	})
}

func FuzzRewrite(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := Rewrite(data, identity)
		if err != nil {
			if !errors.Is(err, ErrNotPlaylist) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("undocumented error: %v", err)
			}
			return
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("identity Rewrite changed the playlist:\n%q\n%q", data, out)
		}
		if out, err := Rewrite(data, keep); err != nil || !bytes.Equal(out, data) {
			t.Fatalf("ok=false Rewrite changed the playlist: %v", err)
		}
		// Adding a prefix and taking it off again gives back the input.
		calls := 0
		added, err := Rewrite(data, func(u string) (string, bool) { calls++; return prefixed(u) })
		if errors.Is(err, ErrBadURI) {
			return
		}
		if err != nil {
			t.Fatalf("prefix Rewrite: %v", err)
		}
		if len(added) != len(data)+2*calls {
			t.Fatalf("prefix Rewrite grew %d bytes for %d URIs", len(added)-len(data), calls)
		}
		back, err := Rewrite(added, func(u string) (string, bool) {
			if !strings.HasPrefix(u, "R/") {
				t.Errorf("URI %q lost its prefix", u)
			}
			return strings.TrimPrefix(u, "R/"), true
		})
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("undoing the prefix: %v\n%q\n%q", err, data, back)
		}
	})
}
