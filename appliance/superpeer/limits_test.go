package superpeer_test

import (
	"bytes"
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/superpeer"
	"github.com/outpost-ecdn/outpost/appliance/tracker"
)

// site is a tracker on a real WebSocket and a super-peer on a loopback UDP
// socket serving fakeSource's stream.
type site struct {
	trk  *tracker.Tracker
	sp   *superpeer.Server
	src  *fakeSource
	ws   string     // ws://.../announce
	ih23 tracker.ID // 720p, p2p-media-loader 2.3
}

const testPage = "http://127.0.0.1:8080/o/demo/live/master.m3u8"

func newSite(t *testing.T, ctx context.Context, cfg superpeer.Config) *site {
	t.Helper()
	s := &site{trk: tracker.New(tracker.Config{Mode: tracker.ModeStar}), src: newFakeSource(t)}
	srv := httptest.NewServer(s.trk)
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Tracker, cfg.Source, cfg.UDP, cfg.IncludeLoopback, cfg.NoMDNS = s.trk, s.src, udp, true, true
	if s.sp, err = superpeer.New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.sp.Close(); udp.Close(); srv.Close(); s.trk.Close() })
	if err := s.sp.AddStream(ctx, superpeer.SwarmIDFromURL(testPage), "/o/demo/live/master.m3u8"); err != nil {
		t.Fatal(err)
	}
	for _, st := range s.sp.Streams() {
		if strings.HasSuffix(st.URL, "/720p/index.m3u8") && st.Protocol == superpeer.Protocol23 {
			s.ih23 = st.InfoHash
		}
	}
	s.ws = "ws" + strings.TrimPrefix(srv.URL, "http") + "/announce"
	return s
}

// until polls cond every 10 ms until it holds; the test fails when ctx ends.
func until(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("never: %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestCancelStopsTheUpload: a cancel mid-segment ends the upload without a
// "done", the box counts it, and the connection serves the next request.
func TestCancelStopsTheUpload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // hang guard
	defer cancel()
	// 100 kB/s per peer makes the 300 kB segment take ~2 s: time to cancel it.
	s := newSite(t, ctx, superpeer.Config{PeerUploadBytesPerSecond: 100_000})
	b := newBrowser(t, ctx, s.ws, s.ih23, "cancel")
	b.waitLoaded(ctx, 102)
	seg := s.src.object("/o/demo/live/720p/seg-102.ts")
	b.send(superpeer.Command{Type: superpeer.CmdRequest, Segment: 102, RequestID: 1})
	if c := b.nextReply(ctx); c.Type != superpeer.CmdData || c.Size != int64(len(seg)) {
		t.Fatalf("reply %+v, want data of %d bytes", c, len(seg))
	}
	got := 0
	for got < 50_000 {
		if m := b.recv(ctx); m.cmd == nil {
			got += len(m.data)
		}
	}
	b.send(superpeer.Command{Type: superpeer.CmdCancel, Segment: 102, RequestID: 1})
	until(t, ctx, "the box counts the cancel and stops uploading", func() bool {
		st := s.sp.Stats()
		return st.Cancels == 1 && st.ActiveUploads == 0
	})
	// Whatever was in flight arrives before the answer to the next request; no
	// "done" for request 1 may be among it.
	b.send(superpeer.Command{Type: superpeer.CmdRequest, Segment: 101, RequestID: 2})
	for {
		m := b.recv(ctx)
		if m.cmd == nil {
			got += len(m.data)
			continue
		}
		if m.cmd.Type == superpeer.CmdAnnouncement {
			continue
		}
		if m.cmd.RequestID == 1 {
			t.Fatalf("after the cancel the box sent %+v", *m.cmd)
		}
		if m.cmd.Type != superpeer.CmdData || m.cmd.RequestID != 2 {
			t.Fatalf("reply to request 2: %+v", *m.cmd)
		}
		break
	}
	if got >= len(seg) {
		t.Fatalf("the cancelled upload delivered all %d bytes", got)
	}
	if st := s.sp.Stats(); st.Uploads != 0 {
		t.Errorf("stats %+v: a cancelled upload counted as done", st)
	}
}

// TestUploadCaps: the per-peer and the total upload caps hold a segment's
// transfer to the configured rate. Only a lower bound on the time is checked
// (a slow machine can only make it longer).
func TestUploadCaps(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  superpeer.Config
		rate float64 // bytes/s
	}{
		{"per peer", superpeer.Config{PeerUploadBytesPerSecond: 150_000}, 150_000},
		{"total", superpeer.Config{UploadBytesPerSecond: 150_000}, 150_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			s := newSite(t, ctx, tc.cfg)
			b := newBrowser(t, ctx, s.ws, s.ih23, "caps")
			b.waitLoaded(ctx, 101)
			start := time.Now()
			got, _ := b.download(ctx, 101, 1, 0)
			took := time.Since(start)
			if want := s.src.object("/o/demo/live/720p/seg-101.ts"); !bytes.Equal(got, want) {
				t.Fatalf("%d bytes, want the %d-byte segment", len(got), len(want))
			}
			// The limiter's burst is one second's worth: the rest must wait.
			min := time.Duration(float64(len(got))/tc.rate*float64(time.Second)) - time.Second
			if took < min*9/10 {
				t.Fatalf("%d bytes in %v at a cap of %.0f B/s: want at least %v", len(got), took, tc.rate, min)
			}
			t.Logf("%d bytes in %v (%.0f B/s, cap %.0f)", len(got), took, float64(len(got))/took.Seconds(), tc.rate)
		})
	}
}

// TestPeerLimit: with max_peers reached the box leaves further offers
// unanswered (the page then uses HTTP), and a closed connection frees its slot.
func TestPeerLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := newSite(t, ctx, superpeer.Config{MaxPeers: 1})
	first := newBrowser(t, ctx, s.ws, s.ih23, "first")
	second := offerBrowser(t, ctx, s.ws, s.ih23, "second")
	until(t, ctx, "the second offer is refused", func() bool { return s.sp.Stats().Refused == 1 })
	// Refusing means never answering: nothing can be queued for it now.
	short, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	if ans := second.answer(short); ans != nil {
		t.Fatal("the box answered an offer beyond max_peers")
	}
	stop()
	first.pc.Close()
	until(t, ctx, "the first peer's slot is free", func() bool { return s.sp.Stats().Peers == 0 })
	third := newBrowser(t, ctx, s.ws, s.ih23, "third")
	third.waitLoaded(ctx, 100)
	if st := s.sp.Stats(); st.Peers != 1 || st.Answered != 2 || st.Refused != 1 {
		t.Fatalf("stats %+v: want 1 peer, 2 answered, 1 refused", st)
	}
}

// TestIdleStreamLeavesItsSwarms: a stream nobody asked for within StreamIdle
// and nobody peers in leaves the tracker; a stream with a peer stays.
func TestIdleStreamLeavesItsSwarms(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := newSite(t, ctx, superpeer.Config{StreamIdle: 300 * time.Millisecond})
	b := newBrowser(t, ctx, s.ws, s.ih23, "stays") // in the first stream
	// A second stream (same playlist, as another portal page names it), joined
	// after the first one's peer: it goes idle later than the first.
	if err := s.sp.AddStream(ctx, "https://portal.example/other", "/o/demo/live/master.m3u8"); err != nil {
		t.Fatal(err)
	}
	if st := s.trk.Stats(); st.Swarms != 8 {
		t.Fatalf("tracker swarms %d, want 8 (2 streams x 2 variants x 2 lines)", st.Swarms)
	}
	until(t, ctx, "the idle stream leaves", func() bool { return s.sp.Stats().Streams == 1 })
	until(t, ctx, "the tracker drops its swarms", func() bool { return s.trk.Stats().Swarms == 4 })
	var ours bool
	for _, st := range s.sp.Streams() {
		ours = ours || st.InfoHash == s.ih23
	}
	if !ours {
		t.Fatal("the stream with a peer left too")
	}
	if got, _ := b.download(ctx, 100, 1, 0); !bytes.Equal(got, s.src.object("/o/demo/live/720p/seg-100.ts")) {
		t.Fatal("the remaining stream does not serve")
	}
	b.pc.Close()
	until(t, ctx, "the first stream leaves once its peer is gone", func() bool { return s.sp.Stats().Streams == 0 })
}
