// Package netup brings the box onto the LAN: every Ethernet link up, an address
// by DHCP (github.com/insomniacslk/dhcp's nclient4 on a packet socket filtered
// to the DHCP client port), a static address when the data partition has one,
// and an IPv4 link-local address (RFC 3927) while no DHCP server answers.
//
// In: a Config (hostname, sent to the DHCP server as option 12; where
// resolv.conf goes; how long to wait before falling back to link-local; an
// optional static setting). Out: addresses and a default route set through
// netlink, /run/resolv.conf written, and a Status per link (mode, address,
// router, DNS and NTP servers, lease expiry, problem) handed to OnChange
// whenever something changes, for the clock, the console and
// /run/outpost/boot.json. A lease is renewed at T1 by unicast to its server and
// rebound at T2 by broadcast to any server; at expiry the link starts over.
// DHCP keeps trying in the background after a link-local fallback and replaces
// the link-local address when a lease arrives. A link with a static setting
// never runs DHCP.
//
// # Usage
//
//	go netup.Run(ctx, netup.Config{Hostname: "outpost-ab12", ResolvConf: "/run/resolv.conf",
//		Log: log, OnChange: func(s []netup.LinkStatus) { report.SetNetwork(s) }})
package netup

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"
)

// Mode is how a link got its address.
type Mode string

const (
	ModeWaiting   Mode = "waiting" // no address yet
	ModeDHCP      Mode = "dhcp"
	ModeLinkLocal Mode = "link-local" // no DHCP answer: 169.254.0.0/16 only
	ModeStatic    Mode = "static"
)

// LinkStatus is one link's state.
type LinkStatus struct {
	Name    string    `json:"name"`
	MAC     string    `json:"mac"`
	Carrier bool      `json:"carrier"`
	Mode    Mode      `json:"mode"`
	Addr    string    `json:"addr,omitempty"`
	Router  string    `json:"router,omitempty"`
	DNS     []string  `json:"dns,omitempty"`
	NTP     []string  `json:"ntp,omitempty"`
	Expiry  time.Time `json:"lease_expiry,omitzero"`
	Problem string    `json:"problem,omitempty"` // e.g. "DHCP: no reply after 5 tries"
}

// Static is a fixed configuration, read from the data partition
// (/data/outpost/network.json): {"interface": "eth0", "address": "192.0.2.10/24",
// "gateway": "192.0.2.1", "dns": ["192.0.2.53"]}. An empty interface means the
// first Ethernet link.
type Static struct {
	Interface string   `json:"interface"`
	Address   string   `json:"address"`
	Gateway   string   `json:"gateway"`
	DNS       []string `json:"dns"`
	NTP       []string `json:"ntp"`
}

// ParseStatic reads and checks a Static setting.
func ParseStatic(b []byte) (*Static, error) {
	var s Static
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("netup: static config: %w", err)
	}
	if _, err := netip.ParsePrefix(s.Address); err != nil {
		return nil, fmt.Errorf("netup: static config: address: %w", err)
	}
	if s.Gateway != "" {
		if _, err := netip.ParseAddr(s.Gateway); err != nil {
			return nil, fmt.Errorf("netup: static config: gateway: %w", err)
		}
	}
	for _, list := range [][]string{s.DNS, s.NTP} {
		for _, a := range list {
			if _, err := netip.ParseAddr(a); err != nil {
				return nil, fmt.Errorf("netup: static config: %w", err)
			}
		}
	}
	return &s, nil
}

// LinkLocal picks the RFC 3927 address for a hardware address: stable across
// boots, inside 169.254.1.0 - 169.254.254.255 as the RFC requires.
func LinkLocal(mac net.HardwareAddr, attempt int) netip.Prefix {
	h := fnv.New32a()
	h.Write(mac)
	fmt.Fprint(h, attempt)
	v := h.Sum32()
	third := byte(1 + v%254)
	fourth := byte(v >> 8)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{169, 254, third, fourth}), 16)
}

// ResolvConf renders resolv.conf for the name servers (at most three are used
// by the resolver) and search domain.
func ResolvConf(dns []netip.Addr, domain string) []byte {
	var b strings.Builder
	b.WriteString("# written by the Outpost init\n")
	if domain != "" && !strings.ContainsAny(domain, " \t\n") {
		fmt.Fprintf(&b, "search %s\n", domain)
	}
	for i, a := range dns {
		if i == 3 {
			break
		}
		fmt.Fprintf(&b, "nameserver %s\n", a)
	}
	b.WriteString("options timeout:2 attempts:2\n")
	return []byte(b.String())
}

// writeAtomic writes b to path through a rename, so readers never see half.
func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
