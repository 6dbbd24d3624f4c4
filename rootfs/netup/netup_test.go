package netup

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestLinkLocal(t *testing.T) {
	macs := []net.HardwareAddr{
		{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, // qemu's default
		{0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	}
	ll := netip.MustParsePrefix("169.254.0.0/16")
	for _, mac := range macs {
		for attempt := 0; attempt < 50; attempt++ {
			p := LinkLocal(mac, attempt)
			a := p.Addr().As4()
			if !ll.Contains(p.Addr()) || p.Bits() != 16 || a[2] == 0 || a[2] == 255 {
				t.Fatalf("LinkLocal(%v, %d) = %v, outside 169.254.1.0-169.254.254.255", mac, attempt, p)
			}
		}
		if LinkLocal(mac, 0) != LinkLocal(mac, 0) {
			t.Fatal("LinkLocal is not stable")
		}
	}
	if LinkLocal(macs[0], 0) == LinkLocal(macs[0], 1) {
		t.Error("a conflict retry should pick another address")
	}
}

func TestResolvConf(t *testing.T) {
	cases := []struct {
		name   string
		dns    []string
		domain string
		want   string
	}{
		{"slirp", []string{"10.0.2.3"}, "", "# written by the Outpost init\nnameserver 10.0.2.3\noptions timeout:2 attempts:2\n"},
		{"four servers and a domain", []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"}, "corp.example",
			"# written by the Outpost init\nsearch corp.example\nnameserver 192.0.2.1\nnameserver 192.0.2.2\nnameserver 192.0.2.3\noptions timeout:2 attempts:2\n"},
		{"domain with a newline is dropped", nil, "evil\nnameserver 6.6.6.6", "# written by the Outpost init\noptions timeout:2 attempts:2\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var dns []netip.Addr
			for _, s := range tc.dns {
				dns = append(dns, netip.MustParseAddr(s))
			}
			if got := string(ResolvConf(dns, tc.domain)); got != tc.want {
				t.Fatalf("ResolvConf =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestParseStatic(t *testing.T) {
	cases := []struct {
		name, in, err string
	}{
		{"full", `{"interface":"eth0","address":"192.0.2.10/24","gateway":"192.0.2.1","dns":["192.0.2.53"]}`, ""},
		{"address only", `{"address":"192.0.2.10/24"}`, ""},
		{"no prefix length", `{"address":"192.0.2.10"}`, "address"},
		{"bad gateway", `{"address":"192.0.2.10/24","gateway":"router"}`, "gateway"},
		{"unknown key", `{"address":"192.0.2.10/24","gw":"192.0.2.1"}`, "unknown field"},
		{"bad dns", `{"address":"192.0.2.10/24","dns":["x"]}`, "static config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseStatic([]byte(tc.in))
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("ParseStatic err = %v, want %q", err, tc.err)
			}
		})
	}
}
