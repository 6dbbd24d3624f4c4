package superpeer

import (
	"net"
	"net/netip"

	"github.com/outpost-ecdn/outpost/appliance/tracker"
	"github.com/pion/ice/v4"
)

// addrFilter keeps the addresses ICE may offer (local) or use (remote): those
// inside the site's LAN prefixes, and loopback only when asked for. A WAN
// address of the box is never offered and a browser's WAN candidate never tried.
type addrFilter struct {
	prefixes []netip.Prefix
	loopback bool
}

func newAddrFilter(prefixes []netip.Prefix, loopback bool) addrFilter {
	if len(prefixes) == 0 {
		prefixes = tracker.DefaultPrefixes
	}
	return addrFilter{prefixes: prefixes, loopback: loopback}
}

func (f addrFilter) keep(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = a.Unmap()
	if a.IsLoopback() {
		return f.loopback
	}
	for _, p := range f.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// filteredMux narrows a UDP mux's host candidates. ice.UDPMuxDefault on an
// unspecified address offers every interface address and ignores
// SettingEngine.SetIPFilter, so the filter is applied here as well.
type filteredMux struct {
	ice.UDPMux
	keep func(net.IP) bool
}

// GetListenAddresses is what the ICE agent turns into host candidates.
func (m filteredMux) GetListenAddresses() []net.Addr {
	var out []net.Addr
	for _, a := range m.UDPMux.GetListenAddresses() {
		if u, ok := a.(*net.UDPAddr); ok && m.keep(u.IP) {
			out = append(out, a)
		}
	}
	return out
}
