package shaper

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/internal/netnstest"
	"github.com/vishvananda/netns"
)

// Addresses of the test topology: the branch box, the WAN side's bulk server and
// the origin (a second address of the WAN namespace).
var (
	branchIP = netip.MustParseAddr("10.88.0.1")
	wanIP    = netip.MustParseAddr("10.88.0.2")
	originIP = netip.MustParseAddr("10.88.0.3")
)

const originPort = 8088

// topo is a "branch" and a "wan" namespace joined by a veth; the shaper works on
// the branch end (br). Cleanup deletes both namespaces and with them the veth,
// any IFB, and every qdisc in them.
type topo struct {
	branch, wan     string // namespace names
	branchNS, wanNS string // paths
	br, wn          string // veth ends
}

func newTopo(t testing.TB) *topo {
	t.Helper()
	netnstest.RequireRoot(t)
	n := netnstest.NewPair(t, "shp", "branch", "wan", []netip.Addr{branchIP}, []netip.Addr{wanIP, originIP})
	return &topo{branch: n.A, wan: n.B, branchNS: n.APath, wanNS: n.BPath, br: n.IfA, wn: n.IfB}
}

// tc runs iproute2's tc in namespace ns.
func tc(t testing.TB, ns string, args ...string) string {
	t.Helper()
	return netnstest.Run(t, append([]string{"tc", "-n", ns}, args...)...)
}

// inNetNS runs fn on a locked thread inside the namespace at path; sockets it
// opens stay there.
func inNetNS(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(path)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- err // the thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

func listenTCP(t testing.TB, ns string, addr netip.AddrPort) net.Listener {
	t.Helper()
	var ln net.Listener
	if err := inNetNS(ns, func() (err error) {
		ln, err = net.Listen("tcp", addr.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// dialer dials from namespace ns, optionally marking the socket.
func dialer(ns string, mark uint32) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := inNetNS(ns, func() (err error) {
			d := net.Dialer{}
			if mark != 0 {
				d.Control = MarkDialer(mark)
			}
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// sinkServer accepts connections on ln and discards what they send, until the
// listener closes. wait returns when every connection is done.
func sinkServer(ln net.Listener) (wait func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return wg.Wait
}

// upload sends from the branch to addr until ctx ends or n bytes are sent (n 0:
// no byte limit). With a limit it returns once the sink has read everything
// (it closes after EOF), so the bytes have passed the qdisc.
func upload(ctx context.Context, ns string, mark uint32, addr netip.AddrPort, n int64) (int64, error) {
	c, err := dialer(ns, mark)(ctx, "tcp", addr.String())
	if err != nil {
		return 0, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 32<<10)
	var sent int64
	for n == 0 || sent < n {
		chunk := buf
		if n > 0 && n-sent < int64(len(buf)) {
			chunk = buf[:n-sent]
		}
		w, err := c.Write(chunk)
		sent += int64(w)
		if err != nil {
			if ctx.Err() != nil {
				return sent, nil
			}
			return sent, err
		}
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return sent, err
	}
	_, err = io.Copy(io.Discard, c) // until the sink closes
	return sent, err
}

// streamServer serves GET /stream?bytes=N (0: until the client leaves) on addr
// in the WAN namespace.
func streamServer(t testing.TB, tp *topo, addr netip.AddrPort) {
	t.Helper()
	ln := listenTCP(t, tp.wanNS, addr)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var limit int64
		fmt.Sscan(r.URL.Query().Get("bytes"), &limit)
		buf := make([]byte, 32<<10)
		var sent int64
		for limit == 0 || sent < limit {
			k := int64(len(buf))
			if limit > 0 {
				k = min(k, limit-sent)
			}
			n, err := w.Write(buf[:k])
			sent += int64(n)
			if err != nil {
				return
			}
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// download fetches n bytes (0: until ctx ends) from url, dialing from ns.
func download(ctx context.Context, ns, url string) (int64, error) {
	tr := &http.Transport{DialContext: dialer(ns, 0)}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if ctx.Err() != nil {
		return n, nil
	}
	return n, err
}
