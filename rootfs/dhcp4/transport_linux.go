package dhcp4

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// UDPTransport is a UDP socket on 0.0.0.0:68 bound to one interface, able to
// broadcast before the interface has an address. Replies must be broadcast
// (the client sets the broadcast flag) or unicast after the address is set.
type UDPTransport struct {
	conn *net.UDPConn
}

// ListenUDP opens the socket for the interface ifname.
func ListenUDP(ifname string) (*UDPTransport, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
				return
			}
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1); serr != nil {
				return
			}
			serr = unix.BindToDevice(int(fd), ifname)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", "0.0.0.0:68")
	if err != nil {
		return nil, fmt.Errorf("dhcp4: listen on %s: %w", ifname, err)
	}
	return &UDPTransport{conn: pc.(*net.UDPConn)}, nil
}

// Close closes the socket.
func (t *UDPTransport) Close() error { return t.conn.Close() }

func (t *UDPTransport) deadline(ctx context.Context, set func(time.Time) error) func() bool {
	d, ok := ctx.Deadline()
	if !ok {
		d = time.Time{}
	}
	set(d)
	return context.AfterFunc(ctx, func() { set(time.Unix(1, 0)) })
}

// Send implements Transport.
func (t *UDPTransport) Send(ctx context.Context, payload []byte, dst netip.AddrPort) error {
	defer t.deadline(ctx, t.conn.SetWriteDeadline)()
	_, err := t.conn.WriteToUDPAddrPort(payload, dst)
	return err
}

// Receive implements Transport.
func (t *UDPTransport) Receive(ctx context.Context) ([]byte, error) {
	defer t.deadline(ctx, t.conn.SetReadDeadline)()
	buf := make([]byte, 1500)
	n, _, err := t.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return buf[:n], nil
}
