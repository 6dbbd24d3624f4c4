package superpeer_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/outpost-ecdn/outpost/appliance/hls"
	"github.com/outpost-ecdn/outpost/appliance/superpeer"
)

// goldenStreams is testdata/streamids.json: the real npm packages' output
// (tools/browsertest/streamids/gen.mjs) for the playlists in testdata/streamids.
type goldenStreams struct {
	Source string `json:"source"`
	Cases  []struct {
		Playlist    string `json:"playlist"`
		ManifestURL string `json:"manifestUrl"`
		SwarmID     string `json:"swarmId"`
		Versions    map[string][]struct {
			Type          string `json:"type"`
			Index         string `json:"index"`
			URL           string `json:"url"`
			StreamSwarmID string `json:"streamSwarmId"`
			InfoHash      string `json:"infoHash"`
		} `json:"versions"`
	} `json:"cases"`
}

type row struct{ Type, Index, URL, SwarmID, InfoHash string }

func TestStreamsMatchP2PMediaLoader(t *testing.T) {
	b, err := os.ReadFile("testdata/streamids.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenStreams
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range g.Cases {
		t.Run(c.Playlist+" "+c.ManifestURL, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata/streamids", c.Playlist))
			if err != nil {
				t.Fatal(err)
			}
			mv, err := hls.ParseMultivariant(body)
			if err != nil {
				t.Fatal(err)
			}
			if got := superpeer.SwarmIDFromURL(c.ManifestURL); got != c.SwarmID {
				t.Errorf("SwarmIDFromURL = %q, want %q", got, c.SwarmID)
			}
			streams, err := superpeer.StreamsFor(c.ManifestURL, c.SwarmID, mv)
			if err != nil {
				t.Fatal(err)
			}
			for version, want := range map[string]superpeer.Protocol{"2.2.2": superpeer.Protocol22, "2.3.1": superpeer.Protocol23} {
				var exp, got []row
				for _, s := range c.Versions[version] {
					exp = append(exp, row{s.Type, s.Index, s.URL, s.StreamSwarmID, s.InfoHash})
				}
				for _, s := range streams {
					if s.Protocol == want {
						got = append(got, row{s.Type, s.Index, s.URL, s.SwarmID, string(s.InfoHash[:])})
					}
				}
				if d := cmp.Diff(exp, got); d != "" {
					t.Errorf("p2p-media-loader %s streams differ (-npm +ours):\n%s", version, d)
				}
			}
		})
	}
}
