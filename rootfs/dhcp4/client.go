package dhcp4

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Broadcast is where requests go before the client has an address.
var Broadcast = netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), 67)

// Transport carries DHCP payloads on one link.
type Transport interface {
	// Send sends one payload to dst (Broadcast or the server, port 67).
	Send(ctx context.Context, payload []byte, dst netip.AddrPort) error
	// Receive returns the next payload that arrived on port 68, or ctx's error.
	Receive(ctx context.Context) ([]byte, error)
}

// ErrNak means the server refused the requested address.
var ErrNak = errors.New("dhcp4: server sent NAK")

// Client acquires and renews one lease.
type Client struct {
	HWAddr    net.HardwareAddr
	Hostname  string // sent as option 12 when set
	Transport Transport
	// Retransmit is the first wait for a reply, doubled per retry up to 16 s
	// (RFC 2131 4.1 suggests 4 s); zero means 2 s.
	Retransmit time.Duration
	// Attempts bounds the sends per exchange; zero means 5.
	Attempts int
}

func (c *Client) xid() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

func (c *Client) request(typ byte, xid uint32, extra map[byte][]byte) *Message {
	m := &Message{
		Op:     1,
		XID:    xid,
		Flags:  0x8000,
		CHAddr: c.HWAddr,
		Options: map[byte][]byte{
			OptMessageType:  {typ},
			OptParamRequest: {OptSubnetMask, OptRouter, OptDNS, OptDomainName, OptNTP, OptLeaseTime, OptRenewalT1, OptRebindingT2},
			OptMaxSize:      {0x05, 0xdc}, // 1500
			OptClientID:     append([]byte{1}, c.HWAddr...),
		},
	}
	if c.Hostname != "" {
		m.Options[OptHostname] = []byte(c.Hostname)
	}
	for k, v := range extra {
		m.Options[k] = v
	}
	return m
}

// exchange sends m to dst until a reply with m's XID and one of want arrives.
func (c *Client) exchange(ctx context.Context, m *Message, dst netip.AddrPort, want ...byte) (*Message, error) {
	wait := c.Retransmit
	if wait == 0 {
		wait = 2 * time.Second
	}
	attempts := c.Attempts
	if attempts == 0 {
		attempts = 5
	}
	var lastErr error
	for i := 0; i < attempts; i++ {
		if err := c.Transport.Send(ctx, m.Marshal(), dst); err != nil {
			lastErr = fmt.Errorf("send: %w", err)
		}
		rctx, cancel := context.WithTimeout(ctx, wait)
		reply, err := c.await(rctx, m.XID, want)
		cancel()
		if err == nil {
			return reply, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, ErrNak) {
			return nil, err
		}
		if lastErr == nil || !errors.Is(err, context.DeadlineExceeded) {
			lastErr = err
		}
		wait = min(wait*2, 16*time.Second)
		m.Secs += uint16(wait / time.Second)
	}
	return nil, fmt.Errorf("dhcp4: no reply after %d tries: %w", attempts, lastErr)
}

func (c *Client) await(ctx context.Context, xid uint32, want []byte) (*Message, error) {
	for {
		b, err := c.Transport.Receive(ctx)
		if err != nil {
			return nil, err
		}
		m, err := Parse(b)
		if err != nil || m.Op != 2 || m.XID != xid || string(m.CHAddr) != string(c.HWAddr) {
			continue // someone else's, or garbage
		}
		t := m.Type()
		if t == Nak {
			return nil, fmt.Errorf("%w: %s", ErrNak, m.Options[56])
		}
		for _, w := range want {
			if t == w {
				return m, nil
			}
		}
	}
}

// Acquire runs DISCOVER, OFFER, REQUEST, ACK.
func (c *Client) Acquire(ctx context.Context) (Lease, error) {
	xid := c.xid()
	offer, err := c.exchange(ctx, c.request(Discover, xid, nil), Broadcast, Offer)
	if err != nil {
		return Lease{}, fmt.Errorf("dhcp4: discover: %w", err)
	}
	ip := offer.YIAddr.As4()
	extra := map[byte][]byte{OptRequestedIP: ip[:]}
	if id := offer.Options[OptServerID]; len(id) == 4 {
		extra[OptServerID] = id
	}
	ack, err := c.exchange(ctx, c.request(Request, xid, extra), Broadcast, Ack)
	if err != nil {
		return Lease{}, fmt.Errorf("dhcp4: request %v: %w", offer.YIAddr, err)
	}
	return leaseFrom(ack, time.Now())
}

// Renew asks the lease's server to extend it (RENEWING: unicast, ciaddr set).
// With rebind set it broadcasts instead (REBINDING, after T2).
func (c *Client) Renew(ctx context.Context, l Lease, rebind bool) (Lease, error) {
	m := c.request(Request, c.xid(), nil)
	m.CIAddr = l.Addr.Addr()
	m.Flags = 0
	dst := Broadcast
	if !rebind && l.Server.IsValid() {
		dst = netip.AddrPortFrom(l.Server, 67)
	}
	ack, err := c.exchange(ctx, m, dst, Ack)
	if err != nil {
		return Lease{}, fmt.Errorf("dhcp4: renew %v: %w", l.Addr, err)
	}
	return leaseFrom(ack, time.Now())
}
