package netup

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"golang.org/x/net/bpf"
)

// errMalformed means an ACK netup cannot use.
var errMalformed = errors.New("netup: unusable DHCP ACK")

// lease is what netup takes from a DHCP ACK (github.com/insomniacslk/dhcp's
// nclient4 does the exchanges).
type lease struct {
	Addr     netip.Prefix // 10.0.2.15/24
	Router   netip.Addr   // invalid when the server named none
	DNS      []netip.Addr
	NTP      []netip.Addr
	Domain   string
	Server   netip.Addr    // server identifier, where renewals go
	Duration time.Duration // lease time
	T1, T2   time.Duration // renew and rebind times
	Acquired time.Time     // when the ACK arrived
	raw      *nclient4.Lease
}

// Expiry is when the lease ends.
func (l lease) Expiry() time.Time { return l.Acquired.Add(l.Duration) }

// infinite is what a lease time of 0xffffffff means.
const infinite = 100 * 365 * 24 * time.Hour

func addrs(ips []net.IP) []netip.Addr {
	var out []netip.Addr
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip.To4()); ok {
			out = append(out, a)
		}
	}
	return out
}

// leaseFrom reads an ACK, with RFC 2131's defaults where the server was
// silent: T1 = half the lease, T2 = 7/8 of it, a one-hour lease, a classful
// prefix, the BOOTP server address as the server identifier.
func leaseFrom(l *nclient4.Lease) (lease, error) {
	if l == nil || l.ACK == nil {
		return lease{}, fmt.Errorf("%w: no ACK", errMalformed)
	}
	ack := l.ACK
	yi, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || yi.IsUnspecified() {
		return lease{}, fmt.Errorf("%w: no address in the ACK", errMalformed)
	}
	bits := 24
	if raw := ack.Options.Get(dhcpv4.OptionSubnetMask); raw != nil {
		ones, size := net.IPMask(raw).Size()
		if size != 32 {
			return lease{}, fmt.Errorf("%w: subnet mask %v is not contiguous", errMalformed, net.IP(raw))
		}
		bits = ones
	} else {
		// RFC 2131 leaves the default to the client; classful guess.
		switch a := yi.As4(); {
		case a[0] < 128:
			bits = 8
		case a[0] < 192:
			bits = 16
		}
	}
	out := lease{
		Addr:     netip.PrefixFrom(yi, bits),
		DNS:      addrs(ack.DNS()),
		NTP:      addrs(ack.NTPServers()),
		Domain:   ack.DomainName(),
		Acquired: l.CreationTime,
		raw:      l,
	}
	if r := addrs(ack.Router()); len(r) > 0 {
		out.Router = r[0]
	}
	if s := addrs([]net.IP{ack.ServerIdentifier()}); len(s) > 0 {
		out.Server = s[0]
	} else if s := addrs([]net.IP{ack.ServerIPAddr}); len(s) > 0 && !s[0].IsUnspecified() {
		out.Server = s[0]
	}
	out.Duration = ack.IPAddressLeaseTime(time.Hour)
	switch {
	case out.Duration <= 0:
		out.Duration = time.Hour
	case out.Duration == 0xffffffff*time.Second:
		out.Duration = infinite
	}
	if out.T1 = ack.IPAddressRenewalTime(0); out.T1 <= 0 || out.T1 > out.Duration {
		out.T1 = out.Duration / 2
	}
	if out.T2 = ack.IPAddressRebindingTime(0); out.T2 < out.T1 || out.T2 > out.Duration {
		out.T2 = out.Duration - out.Duration/8 // 7/8, without overflow for an infinite lease
	}
	return out, nil
}

// dhcpModifiers go into every message the box sends: its name (option 12, so
// the office's DHCP server and DNS know the box), a client identifier, and the
// options netup reads.
func dhcpModifiers(hostname string, hw net.HardwareAddr) []dhcpv4.Modifier {
	m := []dhcpv4.Modifier{
		dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer,
			dhcpv4.OptionDomainName, dhcpv4.OptionNTPServers, dhcpv4.OptionIPAddressLeaseTime,
			dhcpv4.OptionRenewTimeValue, dhcpv4.OptionRebindingTimeValue),
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier(append([]byte{1}, hw...))),
	}
	if hostname != "" {
		m = append(m, dhcpv4.WithOption(dhcpv4.OptHostName(hostname)))
	}
	return m
}

// dhcpProblem words a failed exchange for LinkStatus.Problem.
func dhcpProblem(err error) string {
	var nak *nclient4.ErrNak
	switch {
	case errors.Is(err, nclient4.ErrNoResponse):
		return "DHCP: no answer from any server"
	case errors.As(err, &nak):
		return "DHCP: the server refused (NAK): " + nak.Nak.Message()
	}
	return "DHCP: " + err.Error()
}

// clientPortFilter is a classic BPF program for a SOCK_DGRAM packet socket
// (data starts at the IP header): unfragmented UDP to port 68 only. Without it
// the DHCP socket would copy every IPv4 packet the link carries (video, at
// hundreds of Mbit/s) into the init.
var clientPortFilter = mustAssemble([]bpf.Instruction{
	bpf.LoadAbsolute{Off: 9, Size: 1}, // protocol
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 17, SkipTrue: 6},
	bpf.LoadAbsolute{Off: 6, Size: 2}, // flags and fragment offset
	bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: 4},
	bpf.LoadMemShift{Off: 0},          // X = IP header length
	bpf.LoadIndirect{Off: 2, Size: 2}, // UDP destination port
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: nclient4.ClientPort, SkipTrue: 1},
	bpf.RetConstant{Val: 0xffff},
	bpf.RetConstant{Val: 0},
})

func mustAssemble(prog []bpf.Instruction) []bpf.RawInstruction {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		panic(err)
	}
	return raw
}
