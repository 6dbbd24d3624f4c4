package main

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// meshOpts is the "mesh" option of page/drive.mjs: the listed pages corrupt
// the segment bytes they upload to other browsers (page/mesh-init.js).
type meshOpts struct {
	Poison []int                  `json:"poison"`
	HLS    map[int]map[string]any `json:"hls"` // page -> hls.js settings
}

// meshReport is window.outpostMesh of a page in a mesh run (page/mesh-init.js):
// p2p-media-loader's own events keyed by the other side's tracker peer id.
type meshReport struct {
	Index             int                       `json:"index"`
	Poison            bool                      `json:"poison"`
	Prefix            string                    `json:"prefix"`     // this page's peer id prefix
	LoadedFrom        map[string]int64          `json:"loadedFrom"` // onSegmentLoaded (p2p)
	BytesFrom         map[string]int64          `json:"bytesFrom"`  // onChunkDownloaded (p2p)
	ErrorsFrom        map[string]map[string]int `json:"errorsFrom"` // onSegmentError (p2p): peer -> type -> n
	UploadedTo        map[string]int64          `json:"uploadedTo"` // onChunkUploaded
	CorruptedChunks   int64                     `json:"corruptedChunks"`
	CorruptedBytes    int64                     `json:"corruptedBytes"`
	CorruptedSegments int64                     `json:"corruptedSegments"`     // uploads begun
	CorruptedSent     int64                     `json:"corruptedSegmentsSent"` // uploads sent in full
}

// boxPeerPrefix starts the super-peer's tracker peer id (superpeer.randomPeerID).
const boxPeerPrefix = "-OP"

// How the mesh run gets browser-to-browser transfers at all: p2p-media-loader
// picks among the peers that hold a segment at random, weighted by the speed
// it measured from each (a peer not yet measured weighs a tenth of the
// fastest), so next to the box on loopback pages pick each other only a few
// times in 40 s, some runs never (measured: 0-11 segments; capping the box
// with superpeer.peer_upload_mbps 4-8 did not help and at 4 Mbit/s pages
// stalled). Instead the box is at its connection limit, as a busy box is:
// superpeer.max_peers 4 lets it serve the first two pages (two swarms each)
// and refuses the third, which then gets its P2P segments from the other
// pages, honest and poisoning. That last page also sits two segments further
// behind the live edge (hls.js liveSyncDurationCount 5 instead of 3), as real
// viewers do, so the honest page before it already holds what it needs. A
// 10 s tracker interval has pages re-announce and reconnect, so a page that
// dropped the poisoning peer after a failed validation meets it again.
const (
	meshBoxMaxPeers      = 4
	meshLateLiveSync     = 5
	meshTrackerIntervalS = 10
)

// browserMesh plays the demo stream in three p2p-media-loader 2.3.x pages with
// the tracker in mesh mode, one of them poisoning: it checks that segments
// went browser to browser, that the poisoning page's corrupted uploads were
// all refused by /sdk/outpost-p2p.js's validateP2PSegment and that the honest
// pages kept playing.
func browserMesh(t *testing.T) {
	s := newSite(t)
	s.write(t, fmt.Sprintf(`tracker: {enabled: true, mode: mesh, interval_seconds: %d}
superpeer:
  enabled: true
  udp_listen: "127.0.0.1:0"
  loopback_candidates: true
  max_peers: %d
`, meshTrackerIntervalS, meshBoxMaxPeers))
	b := startBox(t, s.cfgPath)
	r := browserRun{name: "p2pml 2.3.x mesh+poison", url: b.url + "/sdk/test.html?v=23", pages: 3, seconds: 40,
		minP2PShare: 0.6, wantTrackerHead: "ws://", mesh: &meshOpts{Poison: []int{0}, HLS: map[int]map[string]any{2: {"liveSyncDurationCount": meshLateLiveSync}}}}
	meshCheck(t, r, browserPlay(t, b, s, r))
}

// meshCheck attributes every page's P2P segments, bytes and validation
// failures to the box, an honest page or the poisoning page by peer id.
func meshCheck(t *testing.T, r browserRun, pages []pageReport) {
	if len(pages) != r.pages {
		t.Fatalf("%d page reports, want %d", len(pages), r.pages)
	}
	poisoner := map[int]bool{}
	for _, i := range r.mesh.Poison {
		poisoner[i] = true
	}
	// who names the page (or the box) behind a peer id.
	who := func(peerID string) (page int, box bool) {
		if strings.HasPrefix(peerID, boxPeerPrefix) {
			return -1, true
		}
		for j, p := range pages {
			if p.Mesh != nil && p.Mesh.Prefix != "" && strings.HasPrefix(peerID, p.Mesh.Prefix) {
				return j, false
			}
		}
		return -1, false
	}
	var (
		b2bSeg, b2bBytes, boxSeg, boxBytes   int64 // honest uploaders only
		poisonAccepted, poisonBytes          int64 // received from a poisoning page
		poisonRejected, corrupt, corruptSent int64
		validatorRejected                    int64 // outpost-p2p.js's own count, honest pages
	)
	for i, p := range pages {
		m := p.Mesh
		if m == nil || m.Prefix == "" {
			t.Fatalf("page %d: no mesh report (page/mesh-init.js not run?)", i)
		}
		if m.Poison != poisoner[i] {
			t.Errorf("page %d: poisoning %v, want %v", i, m.Poison, poisoner[i])
		}
		corrupt, corruptSent = corrupt+m.CorruptedSegments, corruptSent+m.CorruptedSent
		for id, n := range m.LoadedFrom {
			switch j, box := who(id); {
			case box:
				boxSeg += n
			case j < 0:
				t.Errorf("page %d: %d segments from unknown peer %q", i, n, id)
			case poisoner[j]:
				poisonAccepted += n
				t.Errorf("page %d accepted %d corrupted segments from poisoning page %d", i, n, j)
			default:
				b2bSeg += n
			}
		}
		for id, n := range m.BytesFrom {
			switch j, box := who(id); {
			case box:
				boxBytes += n
			case j >= 0 && poisoner[j]:
				poisonBytes += n
			case j >= 0:
				b2bBytes += n
			}
		}
		if !m.Poison {
			validatorRejected += int64(p.Validation.Rejected)
		}
		var rejected int64
		for id, types := range m.ErrorsFrom {
			n := int64(types["p2p-segment-validation-failed"])
			rejected += n
			if j, _ := who(id); j >= 0 && poisoner[j] {
				poisonRejected += n
			} else if n > 0 {
				t.Errorf("page %d: %d segments from honest peer %q failed validation", i, n, id)
			}
		}
		// Every segment a page accepted over P2P passed the box's hash check.
		if int64(p.Segments["p2p"]) > int64(p.Validation.Verified) {
			t.Errorf("page %d: %d P2P segments but only %d verified against the box's hashes", i, p.Segments["p2p"], p.Validation.Verified)
		}
		if int64(p.Validation.Rejected) != rejected {
			t.Logf("page %d: validateP2PSegment refused %d, p2p-media-loader reported %d validation failures", i, p.Validation.Rejected, rejected)
		}
		t.Logf("page %d (%s%s): p2p segments from %s; errors %s; uploaded %s; corrupted uploads %d segments (%d sent in full)/%d chunks/%d B",
			i, m.Prefix, map[bool]string{true: " poisoning", false: ""}[m.Poison], peerCounts(m.LoadedFrom), peerErrors(m.ErrorsFrom),
			peerCounts(m.UploadedTo), m.CorruptedSegments, m.CorruptedSent, m.CorruptedChunks, m.CorruptedBytes)
	}
	t.Logf("p2p_browser mesh: browser-to-browser %d segments/%d B (honest uploaders), box %d segments/%d B; poisoning page corrupted %d segment uploads (%d sent in full), %d B of them reached pages, %d refused (p2p-media-loader p2p-segment-validation-failed; validateP2PSegment counted %d), %d accepted",
		b2bSeg, b2bBytes, boxSeg, boxBytes, corrupt, corruptSent, poisonBytes, poisonRejected, validatorRejected, poisonAccepted)
	if b2bSeg == 0 {
		t.Errorf("no segment went from one browser to another in mesh mode")
	}
	if corrupt == 0 {
		t.Errorf("the poisoning page uploaded no segment: the integrity check was not exercised")
	}
	// A validation that ends after the request was dropped (the player moved
	// on) is counted by validateP2PSegment but raises no onSegmentError.
	refused := max(poisonRejected, validatorRejected)
	if (corrupt > 0 || poisonBytes > 0) && refused == 0 {
		t.Errorf("the poisoning page sent %d corrupted segments (%d B reached pages), none was refused by validateP2PSegment", corrupt, poisonBytes)
	}
	if refused < corruptSent {
		// Not an error: a page that gave up the request before the last chunk
		// arrived never validates it (and never accepts it either).
		t.Logf("%d corrupted segments were sent in full, %d refused", corruptSent, refused)
	}
}

func peerCounts(m map[string]int64) string {
	var parts []string
	for id, n := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", shortPeer(id), n))
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, " ") + "}"
}

func peerErrors(m map[string]map[string]int) string {
	var parts []string
	for id, types := range m {
		for typ, n := range types {
			parts = append(parts, fmt.Sprintf("%s:%s=%d", shortPeer(id), typ, n))
		}
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, " ") + "}"
}

// shortPeer is a peer id's client prefix ("-OP0100-", "-PM23H1-").
func shortPeer(id string) string {
	if i := strings.Index(id[min(1, len(id)):], "-"); i >= 0 {
		return id[:i+2]
	}
	return id
}
