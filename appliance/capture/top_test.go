package capture

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTopTalkers(t *testing.T) {
	now := time.Unix(1700000000, 0)
	top := &TopTalkers{Interface: "wan0", LAN: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")},
		Now: func() time.Time { return now }}
	type obs struct {
		f   frameSpec
		len int
		ago time.Duration
	}
	for _, o := range []obs{
		// 10.0.0.1 fetches from 203.0.113.5:443 (request + two response packets).
		{frameSpec{proto: "tcp", src: "10.0.0.1", dst: "203.0.113.5", sport: 40000, dport: 443}, 100, 5 * time.Second},
		{frameSpec{proto: "tcp", src: "203.0.113.5", dst: "10.0.0.1", sport: 443, dport: 40000}, 1500, 5 * time.Second},
		{frameSpec{proto: "tcp", src: "203.0.113.5", dst: "10.0.0.1", sport: 443, dport: 40000}, 1500, 30 * time.Second},
		// 10.0.0.2 asks DNS.
		{frameSpec{proto: "udp", src: "10.0.0.2", dst: "192.0.2.53", sport: 5353, dport: 53}, 80, time.Second},
		// An IPv6 LAN host.
		{frameSpec{v6: true, proto: "udp", src: "fd00::7", dst: "2001:db8::1", sport: 5000, dport: 3478}, 200, time.Second},
		// Ignored: LAN to LAN, remote to remote, ARP, and older than the window.
		{frameSpec{proto: "udp", src: "10.0.0.1", dst: "10.0.0.2", sport: 1, dport: 2}, 999, time.Second},
		{frameSpec{proto: "udp", src: "192.0.2.1", dst: "192.0.2.2", sport: 1, dport: 2}, 999, time.Second},
		{frameSpec{proto: "arp", src: "10.0.0.1", dst: "10.0.0.2"}, 999, time.Second},
		{frameSpec{proto: "tcp", src: "10.0.0.9", dst: "203.0.113.5", sport: 1, dport: 443}, 999, 61 * time.Second},
		// ICMP has no port.
		{frameSpec{proto: "icmp", src: "10.0.0.2", dst: "192.0.2.1"}, 60, time.Second},
	} {
		top.Observe(buildFrame(t, o.f), o.len, now.Add(-o.ago))
	}
	got := top.Snapshot(10)
	want := Top{Interface: "wan0", WindowSeconds: 60, Until: now, Bytes: 3440, Packets: 6,
		LANHosts: []Talker{
			{Name: "10.0.0.1", Bytes: 3100, Packets: 3},
			{Name: "fd00::7", Bytes: 200, Packets: 1},
			{Name: "10.0.0.2", Bytes: 140, Packets: 2},
		},
		Services: []Talker{
			{Name: "203.0.113.5:443/tcp", Bytes: 3100, Packets: 3},
			{Name: "[2001:db8::1]:3478/udp", Bytes: 200, Packets: 1},
			{Name: "192.0.2.53:53/udp", Bytes: 80, Packets: 1},
			{Name: "192.0.2.1/icmpv4", Bytes: 60, Packets: 1},
		},
	}
	for i := range want.LANHosts {
		want.LANHosts[i].BitsPerSecond = float64(want.LANHosts[i].Bytes) * 8 / 60
	}
	for i := range want.Services {
		want.Services[i].BitsPerSecond = float64(want.Services[i].Bytes) * 8 / 60
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Snapshot (-want +got):\n%s", d)
	}
	if s := top.Snapshot(1); len(s.LANHosts) != 1 || len(s.Services) != 1 {
		t.Errorf("Snapshot(1) kept %d hosts, %d services", len(s.LANHosts), len(s.Services))
	}
	now = now.Add(61 * time.Second)
	if s := top.Snapshot(10); s.Bytes != 0 || len(s.LANHosts) != 0 {
		t.Errorf("a minute later the window still holds %+v", s)
	}
}

func TestTopTalkersBoundsKeys(t *testing.T) {
	now := time.Unix(1700000000, 0)
	top := &TopTalkers{MaxKeys: 2, Now: func() time.Time { return now }}
	for i := range 5 {
		f := buildFrame(t, frameSpec{proto: "udp", src: "192.168.1." + string(rune('1'+i)), dst: "198.51.100.1", sport: 1, dport: uint16(100 + i)})
		top.Observe(f, 100, now)
	}
	s := top.Snapshot(10)
	names := map[string]int64{}
	for _, h := range s.LANHosts {
		names[h.Name] = h.Bytes
	}
	if len(s.LANHosts) != 3 || names[OtherKey] != 300 {
		t.Errorf("hosts %+v, want two named and %q with 300 bytes", s.LANHosts, OtherKey)
	}
	if len(s.Services) != 3 || s.Bytes != 500 {
		t.Errorf("services %+v, total %d", s.Services, s.Bytes)
	}
}
