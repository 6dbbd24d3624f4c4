// Package dhcp4 is a small DHCPv4 client (RFC 2131/2132) for the box's init.
//
// In: the link's hardware address, a Transport that sends and receives UDP
// payloads on that link, and a context that bounds every exchange. Out: a Lease
// (address and prefix, router, DNS and NTP servers, lease times) from
// DISCOVER/OFFER/REQUEST/ACK, and renewals of it.
//
// It was written for the first image slice when github.com/insomniacslk/dhcp's
// dependencies (u-root/uio, mdlayher/packet) were not yet in go.sum; the module
// proxy serves them (dhcpv4/nclient4), so replacing this package with that well-kept
// client is an open item of the image issue. It keeps to what a box behind an
// office DHCP server needs: broadcast flag set (the client has no address to
// receive unicast on), retransmission with back-off, NAK handling. Message parsing
// is fuzzed.
//
// # Usage
//
//	c := &dhcp4.Client{HWAddr: link.Attrs().HardwareAddr, Hostname: "outpost-1234", Transport: tr}
//	lease, err := c.Acquire(ctx)
//	// lease.Addr = 10.0.2.15/24, lease.Router = 10.0.2.2, lease.DNS = [10.0.2.3]
package dhcp4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// Message types (option 53).
const (
	Discover byte = 1
	Offer    byte = 2
	Request  byte = 3
	Decline  byte = 4
	Ack      byte = 5
	Nak      byte = 6
	Release  byte = 7
)

// Option codes used here.
const (
	OptPad          byte = 0
	OptSubnetMask   byte = 1
	OptRouter       byte = 3
	OptDNS          byte = 6
	OptHostname     byte = 12
	OptDomainName   byte = 15
	OptNTP          byte = 42
	OptRequestedIP  byte = 50
	OptLeaseTime    byte = 51
	OptMessageType  byte = 53
	OptServerID     byte = 54
	OptParamRequest byte = 55
	OptMaxSize      byte = 57
	OptRenewalT1    byte = 58
	OptRebindingT2  byte = 59
	OptClientID     byte = 61
	OptEnd          byte = 255
)

var magic = [4]byte{99, 130, 83, 99}

// ErrMalformed wraps every parse failure.
var ErrMalformed = errors.New("dhcp4: malformed message")

// Message is one BOOTP/DHCP message.
type Message struct {
	Op      byte // 1 request, 2 reply
	XID     uint32
	Secs    uint16
	Flags   uint16 // 0x8000: broadcast
	CIAddr  netip.Addr
	YIAddr  netip.Addr
	SIAddr  netip.Addr
	GIAddr  netip.Addr
	CHAddr  net.HardwareAddr
	Options map[byte][]byte
}

const headerLen = 236

// Type returns option 53, or 0.
func (m *Message) Type() byte {
	if v := m.Options[OptMessageType]; len(v) == 1 {
		return v[0]
	}
	return 0
}

func addr4(b []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(b)
	return a
}

func put4(b []byte, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		copy(b, v[:])
	}
}

// Marshal encodes m. Options are written in ascending code order with the
// message type first, so the bytes are stable for tests.
func (m *Message) Marshal() []byte {
	b := make([]byte, headerLen, 300)
	b[0] = m.Op
	b[1] = 1 // Ethernet
	b[2] = byte(len(m.CHAddr))
	binary.BigEndian.PutUint32(b[4:], m.XID)
	binary.BigEndian.PutUint16(b[8:], m.Secs)
	binary.BigEndian.PutUint16(b[10:], m.Flags)
	put4(b[12:], m.CIAddr)
	put4(b[16:], m.YIAddr)
	put4(b[20:], m.SIAddr)
	put4(b[24:], m.GIAddr)
	copy(b[28:44], m.CHAddr)
	b = append(b, magic[:]...)
	codes := make([]byte, 0, len(m.Options))
	for c := range m.Options {
		if c != OptPad && c != OptEnd {
			codes = append(codes, c)
		}
	}
	slices.SortFunc(codes, func(x, y byte) int {
		switch {
		case x == y:
			return 0
		case x == OptMessageType:
			return -1
		case y == OptMessageType:
			return 1
		}
		return int(x) - int(y)
	})
	for _, c := range codes {
		v := m.Options[c]
		for len(v) > 255 { // RFC 3396: long options split into consecutive instances
			b = append(b, c, 255)
			b = append(b, v[:255]...)
			v = v[255:]
		}
		b = append(b, c, byte(len(v)))
		b = append(b, v...)
	}
	b = append(b, OptEnd)
	for len(b) < 300 { // BOOTP minimum, some relays drop shorter packets
		b = append(b, OptPad)
	}
	return b
}

// Parse decodes one message. Repeated options are concatenated (RFC 3396).
func Parse(b []byte) (*Message, error) {
	if len(b) < headerLen+4 {
		return nil, fmt.Errorf("%w: %d bytes, want at least %d", ErrMalformed, len(b), headerLen+4)
	}
	if [4]byte(b[headerLen:headerLen+4]) != magic {
		return nil, fmt.Errorf("%w: no DHCP magic cookie", ErrMalformed)
	}
	hlen := int(b[2])
	if hlen > 16 {
		return nil, fmt.Errorf("%w: hardware address length %d", ErrMalformed, hlen)
	}
	m := &Message{
		Op:      b[0],
		XID:     binary.BigEndian.Uint32(b[4:]),
		Secs:    binary.BigEndian.Uint16(b[8:]),
		Flags:   binary.BigEndian.Uint16(b[10:]),
		CIAddr:  addr4(b[12:16]),
		YIAddr:  addr4(b[16:20]),
		SIAddr:  addr4(b[20:24]),
		GIAddr:  addr4(b[24:28]),
		CHAddr:  net.HardwareAddr(slices.Clone(b[28 : 28+hlen])),
		Options: map[byte][]byte{},
	}
	opts := b[headerLen+4:]
	for i := 0; i < len(opts); {
		code := opts[i]
		if code == OptEnd {
			return m, nil
		}
		if code == OptPad {
			i++
			continue
		}
		if i+1 >= len(opts) {
			return nil, fmt.Errorf("%w: option %d has no length", ErrMalformed, code)
		}
		n := int(opts[i+1])
		if i+2+n > len(opts) {
			return nil, fmt.Errorf("%w: option %d overruns the packet", ErrMalformed, code)
		}
		m.Options[code] = append(m.Options[code], opts[i+2:i+2+n]...)
		i += 2 + n
	}
	return nil, fmt.Errorf("%w: options not terminated", ErrMalformed)
}
