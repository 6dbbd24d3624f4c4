package superpeer

import (
	"net"
	"net/netip"

	"github.com/pion/webrtc/v4"
)

// SafeChunks collects safeChunks.
func SafeChunks(data []byte, max int) [][]byte {
	var out [][]byte
	safeChunks(data, max, func(c []byte) bool { out = append(out, c); return true })
	return out
}

// HostAddrs lists the host candidate addresses a mux on conn offers under the
// site's prefixes.
func HostAddrs(conn net.PacketConn, prefixes []netip.Prefix, loopback bool) []net.Addr {
	mux := webrtc.NewICEUDPMux(nil, conn)
	defer mux.Close()
	return filteredMux{UDPMux: mux, keep: newAddrFilter(prefixes, loopback).keep}.GetListenAddresses()
}

// KeepAddr reports whether ICE may use ip under the site's prefixes.
func KeepAddr(ip string, prefixes []netip.Prefix, loopback bool) bool {
	return newAddrFilter(prefixes, loopback).keep(net.ParseIP(ip))
}
