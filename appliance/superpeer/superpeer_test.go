package superpeer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/superpeer"
	"github.com/outpost-ecdn/outpost/appliance/tracker"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

// fakeSource is a live stream: a multivariant playlist, one media playlist per
// variant, segments of random bytes. cached says which the cache holds.
type fakeSource struct {
	mu      sync.Mutex
	objects map[string][]byte
	cached  map[string]bool
	fetches map[string]int
}

const master = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
	"#EXT-X-STREAM-INF:BANDWIDTH=1210000,AVERAGE-BANDWIDTH=1100000,RESOLUTION=1280x720,CODECS=\"avc1.64001f,mp4a.40.2\",FRAME-RATE=30.000\n720p/index.m3u8\n" +
	"#EXT-X-STREAM-INF:BANDWIDTH=330000,AVERAGE-BANDWIDTH=300000,RESOLUTION=640x360,CODECS=\"avc1.42c01e,mp4a.40.2\",FRAME-RATE=30.000\n360p/index.m3u8\n"

func newFakeSource(t *testing.T) *fakeSource {
	f := &fakeSource{objects: map[string][]byte{}, cached: map[string]bool{}, fetches: map[string]int{}}
	f.objects["/o/demo/live/master.m3u8"] = []byte(master)
	for _, v := range []string{"720p", "360p"} {
		var pl strings.Builder
		pl.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:100\n")
		for seq := 100; seq < 104; seq++ {
			name := fmt.Sprintf("seg-%d.ts", seq)
			fmt.Fprintf(&pl, "#EXTINF:2.000,\n%s\n", name)
			body := make([]byte, 300_000+seq)
			rand.Read(body)
			copy(body, "cstr") // a segment may start like a command
			path := "/o/demo/live/" + v + "/" + name
			f.objects[path] = body
			f.cached[path] = seq < 103 // the newest one is not in the cache yet
		}
		f.objects["/o/demo/live/"+v+"/index.m3u8"] = []byte(pl.String())
	}
	return f
}

func (f *fakeSource) Fetch(ctx context.Context, path string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objects[path]
	if !ok {
		return nil, fmt.Errorf("404 %s", path)
	}
	f.fetches[path]++
	if strings.HasSuffix(path, ".ts") {
		f.cached[path] = true
	}
	return b, nil
}

func (f *fakeSource) Cached(path string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cached[path]
}

func (f *fakeSource) object(path string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.objects[path]
}

// loopbackAPI is a pion API whose ICE stays on 127.0.0.1.
func loopbackAPI(t *testing.T) (*webrtc.API, net.PacketConn) {
	t.Helper()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetICEUDPMux(webrtc.NewICEUDPMux(nil, udp))
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithSettingEngine(se)), udp
}

// browser is a pion peer playing p2p-media-loader's part: it offers through the
// tracker WebSocket, then speaks the data-channel protocol.
type browser struct {
	t    *testing.T
	pc   *webrtc.PeerConnection
	dc   *webrtc.DataChannel
	open chan struct{}
	// msgs keeps commands and segment bytes in the order they arrived (one
	// ordered data channel), so a test sees which bytes came after a cancel.
	msgs    chan message
	cl      *tracker.Client
	tr      tracker.Transport
	offerID tracker.ID
}

// message is one data-channel message: a command or segment bytes.
type message struct {
	cmd  *superpeer.Command
	data []byte
}

func newBrowser(t *testing.T, ctx context.Context, trackerURL string, infoHash tracker.ID, name string) *browser {
	t.Helper()
	b := offerBrowser(t, ctx, trackerURL, infoHash, name)
	b.connect(ctx)
	return b
}

// offerBrowser creates the page's peer connection and data channel and
// announces its offer to the tracker; connect waits for the box's answer.
func offerBrowser(t *testing.T, ctx context.Context, trackerURL string, infoHash tracker.ID, name string) *browser {
	t.Helper()
	api, udp := loopbackAPI(t)
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close(); udp.Close() })
	b := &browser{t: t, pc: pc, open: make(chan struct{}), msgs: make(chan message, 1024)}
	if b.dc, err = pc.CreateDataChannel("p2pml", nil); err != nil {
		t.Fatal(err)
	}
	var j superpeer.Joiner
	b.dc.OnOpen(func() { close(b.open) })
	b.dc.OnMessage(func(m webrtc.DataChannelMessage) {
		if !superpeer.IsCommandChunk(m.Data) {
			b.msgs <- message{data: append([]byte(nil), m.Data...)}
			return
		}
		raw, done, err := j.Add(m.Data)
		if err != nil || !done {
			return
		}
		c, err := superpeer.ParseCommand(raw)
		if err != nil {
			t.Errorf("box sent a bad command: %v", err)
			return
		}
		b.msgs <- message{cmd: &c}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if b.tr, err = tracker.DialWebSocket(ctx, trackerURL, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.tr.Close() })
	peerID, _ := tracker.IDFromString(fmt.Sprintf("-PM0203-%-12.12s", name))
	b.offerID, _ = tracker.IDFromString(fmt.Sprintf("offer-%-14.14s", name))
	b.cl = tracker.NewClient(b.tr, peerID)
	sdp, _ := json.Marshal(pc.LocalDescription())
	if err := b.cl.Announce(ctx, tracker.Announce{InfoHash: infoHash, Event: "started",
		Offers: []tracker.Offer{{Offer: sdp, OfferID: b.offerID}}}); err != nil {
		t.Fatal(err)
	}
	return b
}

// answer waits for the box's answer to the offer (nil when ctx ends first).
func (b *browser) answer(ctx context.Context) *webrtc.SessionDescription {
	t := b.t
	t.Helper()
	for {
		m, err := b.cl.Recv(ctx)
		if err != nil {
			return nil
		}
		if m.Failure != "" {
			t.Fatalf("tracker: %s", m.Failure)
		}
		if !m.IsAnswer() {
			continue
		}
		if m.OfferID != b.offerID {
			t.Fatalf("answer for offer %x", m.OfferID)
		}
		var ans webrtc.SessionDescription
		if err := json.Unmarshal(m.Answer, &ans); err != nil {
			t.Fatal(err)
		}
		return &ans
	}
}

// connect completes the connection with the box's answer.
func (b *browser) connect(ctx context.Context) {
	t := b.t
	t.Helper()
	ans := b.answer(ctx)
	if ans == nil {
		t.Fatal("waiting for the box's answer: no answer")
	}
	if !strings.Contains(ans.SDP, "a=candidate") {
		t.Fatalf("answer without candidates (trickle?):\n%s", ans.SDP)
	}
	if err := b.pc.SetRemoteDescription(*ans); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.open:
	case <-ctx.Done():
		t.Fatal("data channel never opened")
	}
	b.tr.Close() // pages keep the socket; the box needs it no more here
}

func (b *browser) send(c superpeer.Command) {
	for _, m := range c.Encode(superpeer.MaxMessageSize) {
		if err := b.dc.Send(m); err != nil {
			b.t.Fatal(err)
		}
	}
}

// recv returns the next message.
func (b *browser) recv(ctx context.Context) message {
	b.t.Helper()
	select {
	case m := <-b.msgs:
		return m
	case <-ctx.Done():
		b.t.Fatal("nothing more from the box")
	}
	return message{}
}

// next returns the next command; segment bytes before it are a failure.
func (b *browser) next(ctx context.Context) superpeer.Command {
	b.t.Helper()
	m := b.recv(ctx)
	if m.cmd == nil {
		b.t.Fatalf("%d segment bytes where a command was due", len(m.data))
	}
	return *m.cmd
}

// nextReply returns the next command that is not an announcement.
func (b *browser) nextReply(ctx context.Context) superpeer.Command {
	b.t.Helper()
	for {
		if c := b.next(ctx); c.Type != superpeer.CmdAnnouncement {
			return c
		}
	}
}

// waitLoaded reads announcements until one lists id as loaded.
func (b *browser) waitLoaded(ctx context.Context, id int64) superpeer.Command {
	b.t.Helper()
	for {
		c := b.next(ctx)
		if c.Type != superpeer.CmdAnnouncement {
			b.t.Fatalf("unexpected command %+v", c)
		}
		for _, x := range c.Loaded {
			if x == id {
				return c
			}
		}
	}
}

// download requests a segment and collects it as p2p-media-loader does.
func (b *browser) download(ctx context.Context, id, requestID, from int64) ([]byte, superpeer.Command) {
	b.t.Helper()
	b.send(superpeer.Command{Type: superpeer.CmdRequest, Segment: id, RequestID: requestID, Byte: from})
	c := b.nextReply(ctx)
	if c.Type != superpeer.CmdData {
		return nil, c
	}
	var got []byte
	for int64(len(got)) < c.Size {
		m := b.recv(ctx)
		if m.cmd != nil {
			if m.cmd.Type == superpeer.CmdAnnouncement {
				continue
			}
			b.t.Fatalf("after %d of %d bytes: %+v", len(got), c.Size, *m.cmd)
		}
		got = append(got, m.data...)
	}
	done := b.nextReply(ctx)
	if done.Type != superpeer.CmdDone || done.Segment != id || done.RequestID != requestID {
		b.t.Fatalf("after the data: %+v", done)
	}
	return got, c
}

// TestBrowserPeerGetsSegmentsFromTheBox: a pion peer and the super-peer meet
// through the tracker (real WebSocket, star mode) over real loopback WebRTC and
// transfer segments with the p2p-media-loader protocol.
func TestBrowserPeerGetsSegmentsFromTheBox(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreTopFunction("github.com/pion/transport/v4/deadline.(*Deadline).handler"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // hang guard
	defer cancel()
	trk := tracker.New(tracker.Config{Mode: tracker.ModeStar})
	srv := httptest.NewServer(trk)
	defer srv.Close()
	defer trk.Close()
	src := newFakeSource(t)
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	sp, err := superpeer.New(superpeer.Config{Tracker: trk, Source: src, UDP: udp, IncludeLoopback: true, NoMDNS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	const pageURL = "http://127.0.0.1:8080/o/demo/live/master.m3u8"
	if err := sp.AddStream(ctx, superpeer.SwarmIDFromURL(pageURL), "/o/demo/live/master.m3u8"); err != nil {
		t.Fatal(err)
	}
	var ih22, ih23 tracker.ID
	for _, s := range sp.Streams() {
		if strings.HasSuffix(s.URL, "/720p/index.m3u8") {
			if s.Protocol == superpeer.Protocol22 {
				ih22 = s.InfoHash
			} else {
				ih23 = s.InfoHash
			}
		}
	}
	if st := trk.Stats(); st.Swarms != 4 || st.SuperPeers != 1 {
		t.Fatalf("tracker %+v: want the box in 4 swarms (2 variants x 2 lines)", st)
	}
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/announce"

	for _, tc := range []struct {
		name string
		ih   tracker.ID
	}{{"p2p-media-loader 2.3", ih23}, {"p2p-media-loader 2.2", ih22}} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, ctx, wsURL, tc.ih, tc.name)
			defer b.pc.Close()
			// The newest segment (103) is not cached: it is announced as loading,
			// filled through the Source once, then announced as loaded.
			ann := b.waitLoaded(ctx, 103)
			if len(ann.Loaded) != 4 || ann.Loaded[0] != 100 {
				t.Errorf("announcement %+v, want 100..103 loaded", ann)
			}
			want := src.object("/o/demo/live/720p/seg-102.ts")
			got, data := b.download(ctx, 102, 7, 0)
			if data.Size != int64(len(want)) || !bytes.Equal(got, want) {
				t.Fatalf("segment 102: %d bytes (announced %d), want %d identical bytes", len(got), data.Size, len(want))
			}
			// Resume from a byte offset (request b).
			got, _ = b.download(ctx, 101, 8, 250_000)
			if w := src.object("/o/demo/live/720p/seg-101.ts")[250_000:]; !bytes.Equal(got, w) {
				t.Fatalf("resumed download: %d bytes, want %d", len(got), len(w))
			}
			// A segment outside the window is absent.
			if _, c := b.download(ctx, 99, 9, 0); c.Type != superpeer.CmdAbsent || c.Segment != 99 || c.RequestID != 9 {
				t.Fatalf("segment 99: %+v, want absent", c)
			}
		})
	}
	if n := src.fetches["/o/demo/live/720p/seg-103.ts"]; n != 1 {
		t.Errorf("segment 103 fetched %d times, want once", n)
	}
	st := sp.Stats()
	if st.Answered != 2 || st.Uploads != 4 || st.Absent != 2 {
		t.Errorf("super-peer stats %+v", st)
	}
}
