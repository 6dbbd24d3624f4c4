package dhcp4

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// Lease is an address the server gave us and what came with it.
type Lease struct {
	Addr     netip.Prefix // 10.0.2.15/24
	Router   netip.Addr   // invalid when the server named none
	DNS      []netip.Addr
	NTP      []netip.Addr
	Domain   string
	Server   netip.Addr    // server identifier, for renewals
	Duration time.Duration // lease time
	T1, T2   time.Duration // renew and rebind times
	// Acquired is when the ACK arrived (the Client's clock).
	Acquired time.Time
}

// Expiry is when the lease ends.
func (l Lease) Expiry() time.Time { return l.Acquired.Add(l.Duration) }

func addrList(b []byte) []netip.Addr {
	var out []netip.Addr
	for ; len(b) >= 4; b = b[4:] {
		out = append(out, addr4(b[:4]))
	}
	return out
}

func seconds(b []byte) (time.Duration, bool) {
	if len(b) != 4 {
		return 0, false
	}
	return time.Duration(binary.BigEndian.Uint32(b)) * time.Second, true
}

// leaseFrom reads an ACK.
func leaseFrom(m *Message, now time.Time) (Lease, error) {
	if !m.YIAddr.Is4() || m.YIAddr.IsUnspecified() {
		return Lease{}, fmt.Errorf("%w: ACK without an address", ErrMalformed)
	}
	bits := 24
	if mask := m.Options[OptSubnetMask]; len(mask) == 4 {
		ones := 0
		v := binary.BigEndian.Uint32(mask)
		for v&0x80000000 != 0 {
			ones++
			v <<= 1
		}
		if v != 0 {
			return Lease{}, fmt.Errorf("%w: subnet mask %v is not contiguous", ErrMalformed, mask)
		}
		bits = ones
	} else {
		// RFC 2131 leaves the default to the client; classful guess.
		switch a := m.YIAddr.As4(); {
		case a[0] < 128:
			bits = 8
		case a[0] < 192:
			bits = 16
		}
	}
	l := Lease{
		Addr:     netip.PrefixFrom(m.YIAddr, bits),
		DNS:      addrList(m.Options[OptDNS]),
		NTP:      addrList(m.Options[OptNTP]),
		Domain:   string(m.Options[OptDomainName]),
		Server:   addr4(m.Options[OptServerID]),
		Acquired: now,
	}
	if r := addrList(m.Options[OptRouter]); len(r) > 0 {
		l.Router = r[0]
	}
	if !l.Server.IsValid() {
		l.Server = m.SIAddr
	}
	var ok bool
	if l.Duration, ok = seconds(m.Options[OptLeaseTime]); !ok || l.Duration == 0 {
		l.Duration = time.Hour
	}
	if l.Duration == 0xffffffff*time.Second {
		l.Duration = 100 * 365 * 24 * time.Hour // infinite
	}
	if l.T1, ok = seconds(m.Options[OptRenewalT1]); !ok || l.T1 == 0 || l.T1 > l.Duration {
		l.T1 = l.Duration / 2
	}
	if l.T2, ok = seconds(m.Options[OptRebindingT2]); !ok || l.T2 < l.T1 || l.T2 > l.Duration {
		l.T2 = l.Duration * 7 / 8
	}
	return l, nil
}
