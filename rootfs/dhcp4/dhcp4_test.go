package dhcp4

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

var mac = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}

// slirpAck is an ACK as qemu's user-mode network (libslirp) sends it: no T1/T2,
// a one-day lease, broadcast to 255.255.255.255.
func slirpAck(xid uint32) *Message {
	return &Message{
		Op: 2, XID: xid, Flags: 0x8000, CHAddr: mac,
		YIAddr: netip.MustParseAddr("10.0.2.15"),
		SIAddr: netip.MustParseAddr("10.0.2.2"),
		Options: map[byte][]byte{
			OptMessageType: {Ack},
			OptServerID:    {10, 0, 2, 2},
			OptSubnetMask:  {255, 255, 255, 0},
			OptRouter:      {10, 0, 2, 2},
			OptDNS:         {10, 0, 2, 3},
			OptLeaseTime:   {0, 1, 0x51, 0x80},
		},
	}
}

func TestMarshalParseRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		m    *Message
	}{
		{"slirp ack", slirpAck(0xdeadbeef)},
		{"discover with hostname", &Message{Op: 1, XID: 1, Flags: 0x8000, CHAddr: mac,
			CIAddr: netip.IPv4Unspecified(), YIAddr: netip.IPv4Unspecified(), SIAddr: netip.IPv4Unspecified(), GIAddr: netip.IPv4Unspecified(),
			Options: map[byte][]byte{OptMessageType: {Discover}, OptHostname: []byte("outpost-525400123456")}}},
		{"long option split", &Message{Op: 2, XID: 2, CHAddr: mac,
			CIAddr: netip.IPv4Unspecified(), YIAddr: netip.IPv4Unspecified(), SIAddr: netip.IPv4Unspecified(), GIAddr: netip.IPv4Unspecified(),
			Options: map[byte][]byte{OptMessageType: {Offer}, 43: bytes.Repeat([]byte{7}, 600)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.m.Marshal()
			if len(b) < 300 {
				t.Errorf("message is %d bytes, want the BOOTP minimum of 300", len(b))
			}
			got, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			want := *tc.m
			for _, a := range []*netip.Addr{&want.CIAddr, &want.YIAddr, &want.SIAddr, &want.GIAddr} {
				if !a.IsValid() {
					*a = netip.IPv4Unspecified()
				}
			}
			if d := cmp.Diff(&want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
				t.Fatalf("round trip (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	good := slirpAck(1).Marshal()
	cases := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", good[:200]},
		{"no magic", append(append(slicesClone(good[:236]), 1, 2, 3, 4), good[240:]...)},
		{"unterminated", good[:244]},
		{"option overrun", append(slicesClone(good[:240]), OptRouter, 8, 10, 0)},
		{"hlen too big", func() []byte { b := slicesClone(good); b[2] = 17; return b }()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse err = %v, want ErrMalformed", err)
			}
		})
	}
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

func TestLeaseFrom(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		mutate func(m *Message)
		want   Lease
		err    bool
	}{
		{"slirp", func(*Message) {}, Lease{
			Addr: netip.MustParsePrefix("10.0.2.15/24"), Router: netip.MustParseAddr("10.0.2.2"),
			DNS: []netip.Addr{netip.MustParseAddr("10.0.2.3")}, Server: netip.MustParseAddr("10.0.2.2"),
			Duration: 24 * time.Hour, T1: 12 * time.Hour, T2: 21 * time.Hour, Acquired: now}, false},
		{"no mask, class A guess", func(m *Message) { delete(m.Options, OptSubnetMask) }, Lease{
			Addr: netip.MustParsePrefix("10.0.2.15/8"), Router: netip.MustParseAddr("10.0.2.2"),
			DNS: []netip.Addr{netip.MustParseAddr("10.0.2.3")}, Server: netip.MustParseAddr("10.0.2.2"),
			Duration: 24 * time.Hour, T1: 12 * time.Hour, T2: 21 * time.Hour, Acquired: now}, false},
		{"explicit T1 T2 and NTP", func(m *Message) {
			m.Options[OptRenewalT1] = []byte{0, 0, 0, 60}
			m.Options[OptRebindingT2] = []byte{0, 0, 0, 90}
			m.Options[OptNTP] = []byte{10, 0, 2, 4, 10, 0, 2, 5}
			m.Options[OptLeaseTime] = []byte{0, 0, 0, 120}
		}, Lease{
			Addr: netip.MustParsePrefix("10.0.2.15/24"), Router: netip.MustParseAddr("10.0.2.2"),
			DNS: []netip.Addr{netip.MustParseAddr("10.0.2.3")}, NTP: []netip.Addr{netip.MustParseAddr("10.0.2.4"), netip.MustParseAddr("10.0.2.5")},
			Server: netip.MustParseAddr("10.0.2.2"), Duration: 2 * time.Minute, T1: time.Minute, T2: 90 * time.Second, Acquired: now}, false},
		{"non-contiguous mask", func(m *Message) { m.Options[OptSubnetMask] = []byte{255, 0, 255, 0} }, Lease{}, true},
		{"no address", func(m *Message) { m.YIAddr = netip.IPv4Unspecified() }, Lease{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := slirpAck(1)
			tc.mutate(m)
			got, err := leaseFrom(m, now)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if d := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
				cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); !tc.err && d != "" {
				t.Fatalf("lease (-want +got):\n%s", d)
			}
		})
	}
}

// fakeNet is a Transport whose other end is a test DHCP server goroutine.
type fakeNet struct {
	toServer chan []byte
	toClient chan []byte
}

func (f *fakeNet) Send(ctx context.Context, b []byte, _ netip.AddrPort) error {
	select {
	case f.toServer <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeNet) Receive(ctx context.Context) ([]byte, error) {
	select {
	case b := <-f.toClient:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// server answers like slirp; drop says how many requests to ignore first,
// nak makes it refuse REQUESTs.
func server(ctx context.Context, f *fakeNet, drop int, nak bool) {
	for {
		var b []byte
		select {
		case b = <-f.toServer:
		case <-ctx.Done():
			return
		}
		if drop > 0 {
			drop--
			continue
		}
		req, err := Parse(b)
		if err != nil {
			panic(err)
		}
		reply := slirpAck(req.XID)
		switch req.Type() {
		case Discover:
			reply.Options[OptMessageType] = []byte{Offer}
		case Request:
			if nak {
				reply.Options = map[byte][]byte{OptMessageType: {Nak}, 56: []byte("wrong network")}
			}
		}
		// Noise first: another client's reply and garbage must be skipped.
		other := slirpAck(req.XID + 1)
		f.toClient <- other.Marshal()
		f.toClient <- []byte("garbage")
		f.toClient <- reply.Marshal()
	}
}

func TestClient(t *testing.T) {
	cases := []struct {
		name    string
		drop    int
		nak     bool
		wantErr error
		want    string
	}{
		{"first try", 0, false, nil, "10.0.2.15/24"},
		{"lost packets are resent", 3, false, nil, "10.0.2.15/24"},
		{"server silent", 100, false, context.DeadlineExceeded, ""},
		{"nak", 0, true, ErrNak, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				f := &fakeNet{toServer: make(chan []byte), toClient: make(chan []byte, 8)}
				go server(ctx, f, tc.drop, tc.nak)
				c := &Client{HWAddr: mac, Hostname: "outpost-test", Transport: f}
				lease, err := c.Acquire(ctx)
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Acquire err = %v, want %v", err, tc.wantErr)
				}
				if err == nil && lease.Addr.String() != tc.want {
					t.Fatalf("lease %v, want %s", lease.Addr, tc.want)
				}
				if err == nil {
					renewed, err := c.Renew(ctx, lease, false)
					if err != nil || renewed.Addr != lease.Addr {
						t.Fatalf("Renew = %v, %v", renewed.Addr, err)
					}
				}
			})
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(slirpAck(1).Marshal())
	f.Add((&Message{Op: 1, CHAddr: mac, Options: map[byte][]byte{OptMessageType: {Discover}}}).Marshal())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		// Whatever parses must survive a round trip.
		m2, err := Parse(m.Marshal())
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if m2.XID != m.XID || len(m2.Options) != len(m.Options)-countPadEnd(m) {
			t.Fatalf("round trip changed the message: %+v vs %+v", m, m2)
		}
		leaseFrom(m, time.Time{})
	})
}

func countPadEnd(m *Message) int {
	n := 0
	for _, c := range []byte{OptPad, OptEnd} {
		if _, ok := m.Options[c]; ok {
			n++
		}
	}
	return n
}
