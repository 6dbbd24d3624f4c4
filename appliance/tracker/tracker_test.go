package tracker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/tracker"
	"go.uber.org/goleak"
)

func id(s string) tracker.ID {
	v, ok := tracker.IDFromString(fmt.Sprintf("%-20.20s", s))
	if !ok {
		panic(s)
	}
	return v
}

var ih = id("swarm-one")

func offers(n int, tag string) []tracker.Offer {
	var o []tracker.Offer
	for i := range n {
		o = append(o, tracker.Offer{Offer: json.RawMessage(`{"type":"offer","sdp":"v=0 ` + tag + `"}`),
			OfferID: id(fmt.Sprintf("%s-offer-%d", tag, i))})
	}
	return o
}

// peerT is a test peer on a local connection.
type peerT struct {
	t *testing.T
	*tracker.Client
}

func newPeer(t *testing.T, tr *tracker.Tracker, name string, super bool, from string) *peerT {
	t.Helper()
	var lc *tracker.LocalConn
	var err error
	if super {
		lc, err = tr.Connect(true)
	} else {
		lc, err = tr.ConnectFrom(netip.MustParseAddr(from))
	}
	if err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	p := &peerT{t, tracker.NewClient(lc, id(name))}
	t.Cleanup(func() { p.Close() })
	return p
}

func (p *peerT) announce(a tracker.Announce) {
	p.t.Helper()
	if err := p.Announce(context.Background(), a); err != nil {
		p.t.Fatal(err)
	}
}

func (p *peerT) recv() *tracker.Message {
	p.t.Helper()
	m, err := p.Recv(hangGuard(p.t))
	if err != nil {
		p.t.Fatal(err)
	}
	return m
}

// join announces started and consumes the reply.
func (p *peerT) join(h tracker.ID) *tracker.Message {
	p.t.Helper()
	p.announce(tracker.Announce{InfoHash: h, Event: "started"})
	m := p.recv()
	if m.Failure != "" {
		p.t.Fatalf("join: %s", m.Failure)
	}
	return m
}

// nothingQueued proves no message is waiting: a scrape's reply must come next.
func (p *peerT) nothingQueued() {
	p.t.Helper()
	if err := p.Scrape(context.Background(), ih); err != nil {
		p.t.Fatal(err)
	}
	if m := p.recv(); m.Action != "scrape" {
		p.t.Errorf("%x got an unexpected message first: %+v", p.PeerID(), m)
	}
}

func TestModes(t *testing.T) {
	for _, tc := range []struct {
		name         string
		mode         tracker.Mode
		offers       int
		superOffers  int // offers the super-peer gets from B
		browserOffer bool
	}{
		{"star sends offers only to the box", tracker.ModeStar, 5, 1, false},
		{"mesh sends the first offer to the box, the next to a browser", tracker.ModeMesh, 5, 1, true},
		{"mesh with one offer prefers the box", tracker.ModeMesh, 1, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			tr := tracker.New(tracker.Config{Mode: tc.mode})
			defer tr.Close()
			box := newPeer(t, tr, "box", true, "")
			a := newPeer(t, tr, "browser-a", false, "192.168.1.10")
			b := newPeer(t, tr, "browser-b", false, "192.168.1.11")
			box.announce(tracker.Announce{InfoHash: ih, Event: "started", Complete: true})
			if m := box.recv(); m.Complete != 1 || m.Incomplete != 0 {
				t.Fatalf("box join reply %+v", m)
			}
			a.join(ih)
			b.announce(tracker.Announce{InfoHash: ih, Event: "started", Offers: offers(tc.offers, "b")})
			if m := b.recv(); m.Complete != 1 || m.Incomplete != 2 || m.Interval != 120 {
				t.Fatalf("b reply %+v", m)
			}
			m := box.recv()
			if !m.IsOffer() || m.PeerID != b.PeerID() || m.OfferID != id("b-offer-0") {
				t.Fatalf("box got %+v, want b's first offer", m)
			}
			if tc.browserOffer {
				m := a.recv()
				if !m.IsOffer() || m.PeerID != b.PeerID() || m.OfferID != id("b-offer-1") {
					t.Fatalf("a got %+v, want b's second offer", m)
				}
			}
			a.nothingQueued()
			box.nothingQueued()
			// The box answers; the answer reaches b, nobody else.
			if err := box.Answer(context.Background(), ih, b.PeerID(), m.OfferID, map[string]string{"type": "answer", "sdp": "v=0 box"}); err != nil {
				t.Fatal(err)
			}
			ans := b.recv()
			if !ans.IsAnswer() || ans.PeerID != box.PeerID() || ans.OfferID != id("b-offer-0") || !strings.Contains(string(ans.Answer), "v=0 box") {
				t.Fatalf("b got %+v, want the box's answer", ans)
			}
			box.nothingQueued()
		})
	}
}

func TestGroups(t *testing.T) {
	defer goleak.VerifyNone(t)
	tr := tracker.New(tracker.Config{Mode: tracker.ModeMesh, Groups: []tracker.Group{
		{Name: "kiosks", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}, Access: tracker.AccessDownloadOnly},
		{Name: "guests", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.66.0.0/16")}, Access: tracker.AccessOff},
		{Name: "floor2", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16")}},
	}})
	defer tr.Close()
	if _, err := tr.ConnectFrom(netip.MustParseAddr("10.66.1.1")); !errors.Is(err, tracker.ErrRefused) {
		t.Fatalf("guest connect: %v, want ErrRefused", err)
	}
	box := newPeer(t, tr, "box", true, "")
	kiosk := newPeer(t, tr, "kiosk", false, "10.9.0.5")
	floor1 := newPeer(t, tr, "floor1", false, "10.1.0.5")
	floor2a := newPeer(t, tr, "floor2a", false, "10.2.0.5")
	floor2b := newPeer(t, tr, "floor2b", false, "10.2.0.6")
	box.announce(tracker.Announce{InfoHash: ih, Event: "started", Complete: true})
	box.recv()
	for _, p := range []*peerT{kiosk, floor1, floor2a} {
		p.join(ih)
	}
	// A kiosk's offers go only to the box.
	kiosk.announce(tracker.Announce{InfoHash: ih, Offers: offers(5, "k")})
	kiosk.recv()
	if m := box.recv(); !m.IsOffer() || m.PeerID != kiosk.PeerID() {
		t.Fatalf("box got %+v", m)
	}
	// floor2b meets the box and floor2a, never the kiosk (download-only) or floor1.
	floor2b.announce(tracker.Announce{InfoHash: ih, Event: "started", Offers: offers(5, "f")})
	floor2b.recv()
	if m := box.recv(); !m.IsOffer() || m.PeerID != floor2b.PeerID() {
		t.Fatalf("box got %+v", m)
	}
	if m := floor2a.recv(); !m.IsOffer() || m.PeerID != floor2b.PeerID() {
		t.Fatalf("floor2a got %+v", m)
	}
	for _, p := range []*peerT{kiosk, floor1, floor2a, box} {
		p.nothingQueued()
	}
}

func TestAnswerRouting(t *testing.T) {
	defer goleak.VerifyNone(t)
	tr := tracker.New(tracker.Config{Mode: tracker.ModeMesh})
	defer tr.Close()
	a := newPeer(t, tr, "a", false, "127.0.0.1")
	b := newPeer(t, tr, "b", false, "127.0.0.1")
	c := newPeer(t, tr, "c", false, "127.0.0.1")
	a.join(ih)
	b.join(ih)
	c.join(ih)
	// c answers an offer the tracker never gave it: dropped.
	if err := c.Answer(context.Background(), ih, b.PeerID(), id("made-up"), map[string]string{"type": "answer", "sdp": "x"}); err != nil {
		t.Fatal(err)
	}
	b.nothingQueued()
	if st := tr.Stats(); st.AnswersUnrouted != 1 || st.AnswersRelayed != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  tracker.Config
		run  func(t *testing.T, tr *tracker.Tracker) string // returns the failure seen
		want string
	}{
		{"swarms per connection", tracker.Config{MaxSwarmsPerConn: 2}, func(t *testing.T, tr *tracker.Tracker) string {
			a := newPeer(t, tr, "a", false, "127.0.0.1")
			a.join(id("s1"))
			a.join(id("s2"))
			a.announce(tracker.Announce{InfoHash: id("s3"), Event: "started"})
			return a.recv().Failure
		}, "too many swarms on this connection"},
		{"swarms overall", tracker.Config{MaxSwarms: 1}, func(t *testing.T, tr *tracker.Tracker) string {
			a := newPeer(t, tr, "a", false, "127.0.0.1")
			b := newPeer(t, tr, "b", false, "127.0.0.1")
			a.join(id("s1"))
			b.join(id("s1"))
			b.announce(tracker.Announce{InfoHash: id("s2"), Event: "started"})
			return b.recv().Failure
		}, "tracker full: too many swarms"},
		{"peers overall", tracker.Config{MaxPeers: 2}, func(t *testing.T, tr *tracker.Tracker) string {
			a := newPeer(t, tr, "a", false, "127.0.0.1")
			b := newPeer(t, tr, "b", false, "127.0.0.1")
			c := newPeer(t, tr, "c", false, "127.0.0.1")
			a.join(ih)
			b.join(ih)
			c.announce(tracker.Announce{InfoHash: ih, Event: "started"})
			return c.recv().Failure
		}, "tracker full: too many peers"},
		{"peer id of another address", tracker.Config{}, func(t *testing.T, tr *tracker.Tracker) string {
			a := newPeer(t, tr, "a", false, "127.0.0.1")
			thief := newPeer(t, tr, "a", false, "127.0.0.2")
			a.join(ih)
			thief.announce(tracker.Announce{InfoHash: ih, Event: "started"})
			return thief.recv().Failure
		}, "peer_id in use"},
		{"invalid event", tracker.Config{}, func(t *testing.T, tr *tracker.Tracker) string {
			a := newPeer(t, tr, "a", false, "127.0.0.1")
			a.announce(tracker.Announce{InfoHash: ih, Event: "dancing"})
			return a.recv().Failure
		}, "invalid event"},
		{"offers beyond MaxOffers are not relayed", tracker.Config{Mode: tracker.ModeMesh, MaxOffers: 2}, func(t *testing.T, tr *tracker.Tracker) string {
			var ps []*peerT
			for i := range 4 {
				p := newPeer(t, tr, fmt.Sprint("p", i), false, "127.0.0.1")
				p.join(ih)
				ps = append(ps, p)
			}
			x := newPeer(t, tr, "x", false, "127.0.0.1")
			x.announce(tracker.Announce{InfoHash: ih, Event: "started", Offers: offers(4, "x")})
			x.recv()
			return fmt.Sprint(tr.Stats().OffersRelayed)
		}, "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			tr := tracker.New(tc.cfg)
			defer tr.Close()
			if got := tc.run(t, tr); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRateLimit drives the token bucket with synctest's clock.
func TestRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := tracker.New(tracker.Config{MessagesPerSecond: 1, MessageBurst: 3})
		defer tr.Close()
		a := newPeer(t, tr, "a", false, "127.0.0.1")
		for i := range 3 {
			if m := a.join(ih); m.Failure != "" {
				t.Fatalf("message %d: %s", i, m.Failure)
			}
		}
		a.announce(tracker.Announce{InfoHash: ih})
		if m := a.recv(); m.Failure != "too many requests" {
			t.Fatalf("4th message: %+v", m)
		}
		time.Sleep(time.Second)
		if m := a.join(ih); m.Failure != "" {
			t.Fatalf("after a second: %s", m.Failure)
		}
		if n := tr.Stats().RateLimited; n != 1 {
			t.Errorf("RateLimited = %d", n)
		}
	})
}

func TestSlowConsumerDropped(t *testing.T) {
	defer goleak.VerifyNone(t)
	tr := tracker.New(tracker.Config{Mode: tracker.ModeMesh, QueueLength: 2, MessageBurst: 100})
	defer tr.Close()
	lazy := newPeer(t, tr, "lazy", false, "127.0.0.1")
	lazy.announce(tracker.Announce{InfoHash: ih, Event: "started"}) // reply never read
	x := newPeer(t, tr, "x", false, "127.0.0.1")
	for range 3 {
		x.announce(tracker.Announce{InfoHash: ih, Event: "started", Offers: offers(1, "x")})
		x.recv()
	}
	st := tr.Stats()
	if st.SlowDropped == 0 || st.Peers != 1 || st.Conns != 1 {
		t.Errorf("stats %+v: want the lazy peer dropped", st)
	}
}

func TestWebSocket(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      tracker.Config
		wantDial bool
	}{
		{"loopback is in the default site", tracker.Config{}, true},
		{"peer outside lan.prefixes is refused", tracker.Config{Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, false},
		{"group switched off is refused", tracker.Config{Groups: []tracker.Group{{Name: "lo",
			Prefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Access: tracker.AccessOff}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			tr := tracker.New(tc.cfg)
			srv := httptest.NewServer(tr)
			defer srv.Close()
			defer tr.Close()
			ctx := hangGuard(t)
			c, err := tracker.DialWebSocket(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
			if (err == nil) != tc.wantDial {
				t.Fatalf("dial: %v, want success %v", err, tc.wantDial)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "403") {
					t.Errorf("dial error %v, want a 403", err)
				}
				if tr.Stats().Refused != 1 {
					t.Errorf("Refused = %d", tr.Stats().Refused)
				}
				return
			}
			defer c.Close()
			// Two swarms over one socket, then close: "stopped" for both.
			cl := tracker.NewClient(c, id("ws-peer"))
			for _, h := range []tracker.ID{id("one"), id("two")} {
				if err := cl.Announce(ctx, tracker.Announce{InfoHash: h, Event: "started"}); err != nil {
					t.Fatal(err)
				}
				if _, err := cl.Recv(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if st := tr.Stats(); st.Swarms != 2 || st.Peers != 2 {
				t.Fatalf("stats %+v", st)
			}
			// An oversized message ends the connection.
			if err := c.Send(ctx, []byte(`{"action":"scrape","x":"`+strings.Repeat("a", 70<<10)+`"}`)); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Recv(ctx); err == nil {
				t.Fatal("connection survived a 70 KiB message")
			}
			waitFor(ctx, t, func() bool { return tr.Stats().Conns == 0 })
			if st := tr.Stats(); st.Swarms != 0 || st.Peers != 0 {
				t.Errorf("after close: %+v, want no swarms", st)
			}
		})
	}
}
