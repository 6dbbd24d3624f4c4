package netup

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// Retransmission: 2, 4, 8 and 16 s, so one exchange gives up after 30 s.
const (
	dhcpTimeout = 2 * time.Second
	dhcpTries   = 4
)

// rawClient is an nclient4 client on a packet socket of the link: it works
// before the link has an address and sees replies whatever their IP
// destination. The kernel passes it UDP port 68 only (clientPortFilter).
func rawClient(ifname string, hw net.HardwareAddr) (*nclient4.Client, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("netup: DHCP socket: %w", err)
	}
	pc, err := packet.Listen(ifi, packet.Datagram, unix.ETH_P_IP, &packet.Config{Filter: clientPortFilter})
	if err != nil {
		return nil, fmt.Errorf("netup: DHCP socket on %s: %w", ifname, err)
	}
	conn := nclient4.NewBroadcastUDPConn(pc, &net.UDPAddr{Port: nclient4.ClientPort})
	c, err := nclient4.NewWithConn(conn, hw, nclient4.WithTimeout(dhcpTimeout), nclient4.WithRetry(dhcpTries))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("netup: DHCP client on %s: %w", ifname, err)
	}
	return c, nil
}

// dhcpAcquire runs DISCOVER, OFFER, REQUEST, ACK on the link.
func dhcpAcquire(ctx context.Context, ifname string, hw net.HardwareAddr, hostname string) (lease, error) {
	c, err := rawClient(ifname, hw)
	if err != nil {
		return lease{}, err
	}
	defer c.Close()
	l, err := c.Request(ctx, dhcpModifiers(hostname, hw)...)
	if err != nil {
		return lease{}, err
	}
	return leaseFrom(l)
}

// dhcpRenew extends l. RENEWING (before T2) asks the lease's server by
// unicast from the leased address, through the kernel's UDP stack, so it
// crosses routers to a server behind a relay; REBINDING (rebind set, after T2)
// broadcasts on the link and takes an ACK from any server (RFC 2131 4.4.5).
// A server's refusal is an *nclient4.ErrNak.
func dhcpRenew(ctx context.Context, ifname string, hw net.HardwareAddr, hostname string, l lease, rebind bool) (lease, error) {
	mods := dhcpModifiers(hostname, hw)
	if !rebind && l.Server.IsValid() {
		c, err := nclient4.New("", nclient4.WithHWAddr(hw),
			nclient4.WithUnicast(&net.UDPAddr{IP: l.Addr.Addr().AsSlice(), Port: nclient4.ClientPort}),
			nclient4.WithServerAddr(&net.UDPAddr{IP: l.Server.AsSlice(), Port: nclient4.ServerPort}),
			nclient4.WithTimeout(dhcpTimeout), nclient4.WithRetry(dhcpTries))
		if err != nil {
			return lease{}, fmt.Errorf("netup: DHCP renewal socket: %w", err)
		}
		defer c.Close()
		nl, err := c.Renew(ctx, l.raw, mods...)
		if err != nil {
			return lease{}, err
		}
		return leaseFrom(nl)
	}
	c, err := rawClient(ifname, hw)
	if err != nil {
		return lease{}, err
	}
	defer c.Close()
	req, err := dhcpv4.NewRenewFromAck(l.raw.ACK, mods...)
	if err != nil {
		return lease{}, fmt.Errorf("netup: DHCP rebind request: %w", err)
	}
	ack, err := c.SendAndRead(ctx, nclient4.DefaultServers, req,
		nclient4.IsMessageType(dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak))
	if err != nil {
		return lease{}, err
	}
	if ack.MessageType() == dhcpv4.MessageTypeNak {
		return lease{}, &nclient4.ErrNak{Offer: l.raw.Offer, Nak: ack}
	}
	// Another server may have answered: renewals go to it from now on.
	return leaseFrom(&nclient4.Lease{Offer: ack, ACK: ack, CreationTime: time.Now()})
}
