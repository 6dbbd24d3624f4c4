package tracker

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"

	"github.com/coder/websocket"
)

// ServeHTTP upgrades a site peer's request to the tracker WebSocket and serves it
// until either side closes.
func (t *Tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	addr, err := remoteAddr(r)
	if err != nil {
		http.Error(w, "bad remote address", http.StatusBadRequest)
		return
	}
	group, access, ok := t.cfg.classify(addr)
	if !ok {
		t.refused.Add(1)
		t.cfg.Logger.Debug("tracker refused a peer outside the site", "addr", addr)
		http.Error(w, "forbidden: not a peer of this site", http.StatusForbidden)
		return
	}
	c := t.newConn(false, addr, group, access)
	if err := t.register(c); err != nil {
		http.Error(w, "tracker unavailable", http.StatusServiceUnavailable)
		return
	}
	defer t.drop(c)
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		InsecureSkipVerify: t.cfg.OriginPatterns == nil,
		OriginPatterns:     t.cfg.OriginPatterns,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		return // Accept wrote the response
	}
	ws.SetReadLimit(t.cfg.MaxMessageBytes)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		t.writeLoop(ctx, ws, c)
	}()
	for {
		typ, msg, err := ws.Read(ctx)
		if err != nil {
			break
		}
		if typ != websocket.MessageText {
			t.badMessages.Add(1)
			continue
		}
		t.handle(c, msg)
		select {
		case <-c.done:
		default:
			continue
		}
		break
	}
	c.kill(ErrClosed)
	<-writerDone
	cancel()
}

// writeLoop sends c's queue to the socket until c ends.
func (t *Tracker) writeLoop(ctx context.Context, ws *websocket.Conn, c *conn) {
	for {
		select {
		case <-c.done:
			// Unblocks the reader too.
			if errors.Is(c.cause, ErrSlowConsumer) {
				ws.Close(websocket.StatusPolicyViolation, "too slow")
			} else {
				ws.CloseNow()
			}
			return
		case b := <-c.out:
			wctx, cancel := context.WithTimeout(ctx, t.cfg.WriteTimeout)
			err := ws.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				c.kill(err)
				ws.CloseNow() // unblocks the reader
				return
			}
		}
	}
}

func remoteAddr(r *http.Request) (netip.Addr, error) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err == nil {
		return ap.Addr().Unmap(), nil
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, err
	}
	a, err := netip.ParseAddr(host)
	return a.Unmap(), err
}
