package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/config"
	"github.com/outpost-ecdn/outpost/appliance/hls"
	"github.com/outpost-ecdn/outpost/appliance/superpeer"
	"github.com/outpost-ecdn/outpost/appliance/tracker"
	"github.com/outpost-ecdn/outpost/tools/demoorigin"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// p2pStatusOf decodes the "p2p" part of the box's status.
func p2pStatusOf(t *testing.T, b *box) P2PStatus {
	t.Helper()
	raw, err := json.Marshal(b.status(t).P2P)
	if err != nil {
		t.Fatal(err)
	}
	var st P2PStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestP2PSuperPeerServesDemoSegment: a browser-like pion peer asks the box for
// the demo live playlist, finds the box through its tracker, and downloads a
// real segment (demo origin -> cache -> super-peer -> WebRTC on loopback) that
// is byte for byte what the box serves over HTTP.
func TestP2PSuperPeerServesDemoSegment(t *testing.T) {
	needFFmpeg(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second) // hang guard
	defer cancel()
	_, originURL := startOrigin(t, demoorigin.Config{})
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	writeConfig(t, cfgPath, siteConfig(filepath.Join(dir, "data"), originURL, `tracker: {enabled: true}
superpeer:
  enabled: true
  udp_listen: "127.0.0.1:0"
  loopback_candidates: true
  streams: [{url: "http://outpost.test/o/demo/live/master.m3u8?t=1", path: /o/demo/live/master.m3u8}]
`))
	b := startBox(t, cfgPath)
	code, body := get(t, b.url+"/o/demo/live/master.m3u8")
	if code != http.StatusOK {
		t.Fatalf("master: %d", code)
	}
	mv, err := hls.ParseMultivariant(body)
	if err != nil {
		t.Fatal(err)
	}
	// The box joins the configured stream's swarms as pages name them.
	var sw superpeer.SwarmStream
	// A playlist request made through 127.0.0.1 may also create a swarm named after that
	// host: wait for the one named as the configured pages name it.
	for !strings.HasPrefix(sw.SwarmID, "v2-http://outpost.test/") {
		for _, s := range p2pStatusOf(t, b).Swarms {
			if s.Protocol == superpeer.Protocol23 && s.Type == "main" && strings.HasSuffix(s.URL, mv.Variants[0].URI) &&
				strings.HasPrefix(s.SwarmID, "v2-http://outpost.test/") {
				sw = s
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("the box never joined the stream's swarms")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if want := "http://outpost.test/o/demo/live/master.m3u8"; !strings.HasPrefix(sw.SwarmID, "v2-"+want+"-main-") {
		t.Errorf("swarm id %q, want it named after %s", sw.SwarmID, want)
	}
	// What the page's player loads over HTTP.
	_, mediaBody := get(t, b.url+"/o/demo/live/"+mv.Variants[0].URI)
	media, err := hls.ParseMedia(mediaBody)
	if err != nil {
		t.Fatal(err)
	}
	seg := media.Segments[len(media.Segments)-2]
	_, want := get(t, b.url+"/o/demo/live/"+strings.TrimSuffix(mv.Variants[0].URI, "index.m3u8")+seg.URI)

	pc, dc, cmds, data := dialBox(t, ctx, "ws"+strings.TrimPrefix(b.url, "http")+"/announce", sw.InfoHash)
	defer pc.Close()
	_ = dc
	// Wait until the box announces the segment, then request it.
	for loaded := false; !loaded; {
		c := <-cmds
		for _, id := range c.Loaded {
			loaded = loaded || id == int64(seg.Sequence)
		}
	}
	for _, m := range (superpeer.Command{Type: superpeer.CmdRequest, Segment: int64(seg.Sequence), RequestID: 3}).Encode(superpeer.MaxMessageSize) {
		if err := dc.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	var got []byte
	var size int64 = -1
	for size < 0 || int64(len(got)) < size {
		select {
		case c := <-cmds:
			// Commands and data chunks arrive on separate Go channels, so "all data
			// sent" may be read before the last chunks: keep draining until size.
			if c.Type == superpeer.CmdData {
				size = c.Size
			} else if c.Type != superpeer.CmdAnnouncement && c.Type != superpeer.CmdDone {
				t.Fatalf("unexpected %+v", c)
			}
		case d := <-data:
			got = append(got, d...)
		case <-ctx.Done():
			t.Fatalf("got %d of %d bytes", len(got), size)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("P2P segment: %d bytes, HTTP: %d bytes, not equal", len(got), len(want))
	}
	st := p2pStatusOf(t, b)
	if st.SuperPeer == nil || st.SuperPeer.Answered != 1 || st.Tracker.SuperPeers != 1 {
		t.Errorf("p2p status %+v", st)
	}
}

// TestP2PJoinsStreamsBrowsersAskFor: a multivariant playlist requested from the
// box makes the super-peer join its swarms, named by the URL the browser used;
// media playlists and failures do not.
func TestP2PJoinsStreamsBrowsersAskFor(t *testing.T) {
	needFFmpeg(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // hang guard
	defer cancel()
	_, originURL := startOrigin(t, demoorigin.Config{})
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(siteConfig(filepath.Join(dir, "data"), originURL,
		"tracker: {enabled: true}\nsuperpeer: {enabled: true, udp_listen: \"127.0.0.1:0\"}\n")))
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDaemon(cfg, "", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	srv := httptest.NewServer(d.handler())
	defer srv.Close()
	for _, p := range []string{"/o/demo/live/240p/index.m3u8", "/o/demo/nope/master.m3u8", "/o/demo/live/master.m3u8?session=9"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		d.observeP2P(resp.Request)
	}
	want := "v2-http://" + strings.TrimPrefix(srv.URL, "http://") + "/o/demo/live/master.m3u8-"
	for {
		st := d.p2pStatus().(P2PStatus)
		if len(st.Swarms) > 0 {
			for _, s := range st.Swarms {
				if !strings.HasPrefix(s.SwarmID, want) {
					t.Errorf("swarm %q, want it under %s", s.SwarmID, want)
				}
			}
			if st.SuperPeer.Streams != 1 {
				t.Errorf("streams = %d, want only the multivariant playlist", st.SuperPeer.Streams)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("the box never joined the stream")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// dialBox offers a data channel to the box through its tracker and returns once
// the channel is open, with decoded commands and raw data chunks.
func dialBox(t *testing.T, ctx context.Context, wsURL string, ih tracker.ID) (*webrtc.PeerConnection, *webrtc.DataChannel, chan superpeer.Command, chan []byte) {
	t.Helper()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udp.Close() })
	se := webrtc.SettingEngine{}
	se.SetICEUDPMux(webrtc.NewICEUDPMux(nil, udp))
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := pc.CreateDataChannel("p2pml", nil)
	if err != nil {
		t.Fatal(err)
	}
	open := make(chan struct{})
	cmds, data := make(chan superpeer.Command, 64), make(chan []byte, 1024)
	var j superpeer.Joiner
	dc.OnOpen(func() { close(open) })
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		if !superpeer.IsCommandChunk(m.Data) {
			data <- append([]byte(nil), m.Data...)
			return
		}
		if raw, done, err := j.Add(m.Data); err == nil && done {
			if c, err := superpeer.ParseCommand(raw); err == nil {
				cmds <- c
			}
		}
	})
	offer, _ := pc.CreateOffer(nil)
	gathered := webrtc.GatheringCompletePromise(pc)
	pc.SetLocalDescription(offer)
	<-gathered
	tr, err := tracker.DialWebSocket(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	peerID, _ := tracker.IDFromString("-PM0203-outpostdtest")
	offerID, _ := tracker.IDFromString("offer-outpostd-test1")
	cl := tracker.NewClient(tr, peerID)
	sdp, _ := json.Marshal(pc.LocalDescription())
	if err := cl.Announce(ctx, tracker.Announce{InfoHash: ih, Event: "started", Offers: []tracker.Offer{{Offer: sdp, OfferID: offerID}}}); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := cl.Recv(ctx)
		if err != nil {
			t.Fatalf("no answer from the box: %v", err)
		}
		if m.IsAnswer() {
			var ans webrtc.SessionDescription
			if err := json.Unmarshal(m.Answer, &ans); err != nil {
				t.Fatal(err)
			}
			if err := pc.SetRemoteDescription(ans); err != nil {
				t.Fatal(fmt.Errorf("answer: %w", err))
			}
			break
		}
	}
	select {
	case <-open:
	case <-ctx.Done():
		t.Fatal("data channel never opened")
	}
	return pc, dc, cmds, data
}
