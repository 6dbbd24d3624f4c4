package hls

// TestGrafovM3U8Gaps records what github.com/grafov/m3u8 v0.12.1 loses or
// gets wrong on the testdata playlists, which is why this package has its own
// parser (see parse_media.go). Each subtest asserts the gap; when a grafov
// upgrade closes one, the subtest fails and the choice should be revisited.

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/grafov/m3u8"
)

func grafovDecode(t *testing.T, name string, strict bool) (m3u8.Playlist, error) {
	t.Helper()
	p, _, err := m3u8.DecodeFrom(bytes.NewReader(readPlaylist(t, name)), strict)
	return p, err
}

func grafovMedia(t *testing.T, name string) *m3u8.MediaPlaylist {
	t.Helper()
	p, err := grafovDecode(t, name, false)
	if err != nil {
		t.Fatalf("grafov decode %s: %v", name, err)
	}
	m, ok := p.(*m3u8.MediaPlaylist)
	if !ok {
		t.Fatalf("grafov decoded %s as %T", name, p)
	}
	return m
}

func grafovMaster(t *testing.T, name string) *m3u8.MasterPlaylist {
	t.Helper()
	p, err := grafovDecode(t, name, false)
	if err != nil {
		t.Fatalf("grafov decode %s: %v", name, err)
	}
	m, ok := p.(*m3u8.MasterPlaylist)
	if !ok {
		t.Fatalf("grafov decoded %s as %T", name, p)
	}
	return m
}

func grafovSegments(m *m3u8.MediaPlaylist) []*m3u8.MediaSegment {
	return m.Segments[:m.Count()]
}

// missing returns the elements of a that b lacks, in order.
func missing(a, b []string) []string {
	in := map[string]bool{}
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	return out
}

func mustParseMedia(t *testing.T, name string) *Media {
	t.Helper()
	m, err := ParseMedia(readPlaylist(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGrafovM3U8Gaps(t *testing.T) {
	t.Run("LL-HLS parts and preload hints are dropped", func(t *testing.T) {
		ours := mustParseMedia(t, "apple_llhls")
		var theirs []string
		for _, s := range grafovSegments(grafovMedia(t, "apple_llhls")) {
			theirs = append(theirs, s.URI)
			if s.Map != nil {
				theirs = append(theirs, s.Map.URI)
			}
		}
		var want []string // every part and hint: what live prefetch needs most
		for _, s := range ours.Segments {
			for _, p := range s.Parts {
				want = append(want, p.URI)
			}
		}
		for _, p := range ours.TrailingParts {
			want = append(want, p.URI)
		}
		want = append(want, ours.PreloadHints...)
		if len(want) == 0 {
			t.Fatal("test playlist has no parts")
		}
		if diff := cmp.Diff(want, missing(ours.URIs(), theirs)); diff != "" {
			t.Errorf("URIs grafov loses (-expected gap +actual gap):\n%s", diff)
		}
	})

	t.Run("no fields for gaps, parts, hints, server control, date ranges", func(t *testing.T) {
		for _, typ := range []reflect.Type{reflect.TypeFor[m3u8.MediaPlaylist](), reflect.TypeFor[m3u8.MediaSegment]()} {
			for f := range typ.Fields() {
				name := strings.ToLower(f.Name)
				for _, gap := range []string{"gap", "part", "preload", "hint", "server", "block", "skip", "daterange", "rendition"} {
					if strings.Contains(name, gap) {
						t.Errorf("grafov %s has field %s now: re-evaluate", typ.Name(), f.Name)
					}
				}
			}
		}
	})

	t.Run("delta update sequence numbers ignore EXT-X-SKIP", func(t *testing.T) {
		ours := mustParseMedia(t, "apple_llhls_delta")
		theirs := grafovSegments(grafovMedia(t, "apple_llhls_delta"))
		if got, want := theirs[0].SeqId, ours.Segments[0].Sequence; got == want {
			t.Errorf("grafov numbers %s as %d, like us", theirs[0].URI, got)
		}
		if ours.Segments[0].URI != "fileSequence267.mp4" || ours.Segments[0].Sequence != 267 {
			t.Errorf("we number %s as %d", ours.Segments[0].URI, ours.Segments[0].Sequence)
		}
	})

	t.Run("target duration is raised to the longest segment", func(t *testing.T) {
		ours := mustParseMedia(t, "apple_llhls")
		theirs := grafovMedia(t, "apple_llhls")
		if time.Duration(theirs.TargetDuration*float64(time.Second)) == ours.TargetDuration {
			t.Errorf("grafov TargetDuration = %v, same as the declared %v", theirs.TargetDuration, ours.TargetDuration)
		}
	})

	t.Run("strict mode rejects EXTINF without comma", func(t *testing.T) {
		if _, err := grafovDecode(t, "packager_gap_daterange_keys", true); err == nil {
			t.Error("grafov strict decode accepts EXTINF without comma now")
		}
	})

	t.Run("lenient mode leaks a title into the next segment", func(t *testing.T) {
		ours := mustParseMedia(t, "packager_gap_daterange_keys")
		theirs := grafovSegments(grafovMedia(t, "packager_gap_daterange_keys"))
		if theirs[1].Title == ours.Segments[1].Title {
			t.Errorf("grafov title of %s = %q, like ours", theirs[1].URI, theirs[1].Title)
		}
	})

	t.Run("re-encoding drops tags and the live edge", func(t *testing.T) {
		out := grafovMedia(t, "apple_llhls").Encode().String()
		for _, lost := range []string{"#EXT-X-PART:", "#EXT-X-PRELOAD-HINT:", "#EXT-X-RENDITION-REPORT:", "#EXT-X-SERVER-CONTROL:", "#EXT-X-PART-INF:", "fileSequence272.mp4"} {
			if strings.Contains(out, lost) {
				t.Errorf("grafov Encode keeps %s now", lost)
			}
		}
		out = grafovMedia(t, "packager_gap_daterange_keys").Encode().String()
		for _, lost := range []string{"#EXT-X-GAP", "#EXT-X-DATERANGE:", "#EXT-X-UNKNOWN-FUTURE-TAG:"} {
			if strings.Contains(out, lost) {
				t.Errorf("grafov Encode keeps %s now", lost)
			}
		}
	})

	t.Run("I-frame variants shift variant indexes", func(t *testing.T) {
		ours, err := ParseMultivariant(readPlaylist(t, "apple_multivariant_adv_fmp4"))
		if err != nil {
			t.Fatal(err)
		}
		theirs := grafovMaster(t, "apple_multivariant_adv_fmp4").Variants
		if len(theirs) != len(ours.Variants)+len(ours.IFrameVariants) {
			t.Fatalf("grafov has %d variants, we have %d + %d I-frame", len(theirs), len(ours.Variants), len(ours.IFrameVariants))
		}
		if theirs[0].URI == ours.Variants[0].URI {
			t.Errorf("grafov variant 0 is %s, like ours", theirs[0].URI)
		}
	})

	t.Run("renditions hang off the wrong variants, repeated", func(t *testing.T) {
		ours, err := ParseMultivariant(readPlaylist(t, "multivariant_session_tags_loose"))
		if err != nil {
			t.Fatal(err)
		}
		v0 := grafovMaster(t, "multivariant_session_tags_loose").Variants[0]
		var foreign int
		for _, a := range v0.Alternatives {
			if a.GroupId != v0.Audio {
				foreign++
			}
		}
		if foreign == 0 && len(v0.Alternatives) <= len(ours.Renditions) {
			t.Errorf("grafov attaches %d renditions to %s, none foreign: re-evaluate", len(v0.Alternatives), v0.URI)
		}
	})
}
