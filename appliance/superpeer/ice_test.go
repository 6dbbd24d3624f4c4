package superpeer_test

import (
	"net"
	"net/netip"
	"testing"

	"github.com/outpost-ecdn/outpost/appliance/superpeer"
)

func TestICEAddrFilter(t *testing.T) {
	site := []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("fd00:1::/64")}
	for _, c := range []struct {
		name     string
		ip       string
		prefixes []netip.Prefix
		loopback bool
		want     bool
	}{
		{"lan v4", "10.20.3.4", site, false, true},
		{"lan v6", "fd00:1::5", site, false, true},
		{"other rfc1918", "192.168.1.10", site, false, false},
		{"wan v4", "203.0.113.7", site, false, false},
		{"wan v6", "2001:db8::1", site, false, false},
		{"v4-mapped lan", "::ffff:10.20.0.1", site, false, true},
		{"loopback off", "127.0.0.1", site, false, false},
		{"loopback on", "127.0.0.1", site, true, true},
		{"default prefixes rfc1918", "192.168.1.10", nil, false, true},
		{"default prefixes wan", "8.8.8.8", nil, false, false},
		{"default prefixes loopback needs the switch", "::1", nil, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := superpeer.KeepAddr(c.ip, c.prefixes, c.loopback); got != c.want {
				t.Errorf("keep(%s) = %v, want %v", c.ip, got, c.want)
			}
		})
	}
}

// TestICEHostCandidatesOnlyLAN: a mux on the unspecified address lists every
// interface address; the box offers only those inside the site's prefixes.
func TestICEHostCandidatesOnlyLAN(t *testing.T) {
	conn, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	nowhere := []netip.Prefix{netip.MustParsePrefix("100.127.255.0/24")} // no interface has it
	addrs := superpeer.HostAddrs(conn, nowhere, true)
	if len(addrs) == 0 {
		t.Fatal("no loopback host address with loopback candidates on")
	}
	for _, a := range addrs {
		if ip := a.(*net.UDPAddr).IP; !ip.IsLoopback() {
			t.Errorf("offered %s: outside the site's LAN and not loopback", ip)
		}
	}
	if addrs := superpeer.HostAddrs(conn, nowhere, false); len(addrs) != 0 {
		t.Errorf("offered %v: none of this machine's addresses is in the site's LAN", addrs)
	}
	// An interface address (a "WAN" one here) is offered only when the site's
	// prefixes hold it.
	for _, a := range superpeer.HostAddrs(conn, []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}, false) {
		ip, _ := netip.AddrFromSlice(a.(*net.UDPAddr).IP)
		got := superpeer.HostAddrs(conn, []netip.Prefix{netip.PrefixFrom(ip.Unmap(), 32)}, false)
		if len(got) != 1 || !got[0].(*net.UDPAddr).IP.Equal(a.(*net.UDPAddr).IP) {
			t.Errorf("site %s/32: offered %v, want only %s", ip, got, ip)
		}
	}
}
