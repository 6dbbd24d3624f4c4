package tracker

import (
	"context"
	"net/netip"
)

// LocalConn is an in-process connection to the tracker: the same messages as a
// WebSocket, without a socket. The box's super-peer uses one.
type LocalConn struct {
	t *Tracker
	c *conn
}

// Connect opens an in-process connection. super marks the box's own peer: in star
// mode only super-peers receive browsers' offers. A non-super local connection is
// limited like a socket from 127.0.0.1 (tests use one).
func (t *Tracker) Connect(super bool) (*LocalConn, error) {
	return t.connect(super, netip.MustParseAddr("127.0.0.1"))
}

func (t *Tracker) connect(super bool, addr netip.Addr) (*LocalConn, error) {
	group, access := -1, AccessOn
	if !super {
		var ok bool
		if group, access, ok = t.cfg.classify(addr); !ok {
			t.refused.Add(1)
			return nil, ErrRefused
		}
	}
	c := t.newConn(super, addr, group, access)
	if super {
		c.out = make(chan []byte, 4*t.cfg.QueueLength)
	}
	if err := t.register(c); err != nil {
		return nil, err
	}
	return &LocalConn{t: t, c: c}, nil
}

// Send hands one message to the tracker, which handles it before Send returns.
func (l *LocalConn) Send(ctx context.Context, msg []byte) error {
	select {
	case <-l.c.done:
		return ErrClosed
	default:
	}
	l.t.handle(l.c, msg)
	return nil
}

// Recv returns the next message from the tracker.
func (l *LocalConn) Recv(ctx context.Context) ([]byte, error) {
	select {
	case b := <-l.c.out:
		return b, nil
	case <-l.c.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close leaves the tracker: "stopped" for every swarm this connection joined.
func (l *LocalConn) Close() error {
	l.c.kill(ErrClosed)
	l.t.drop(l.c)
	return nil
}
