package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/outpost-ecdn/outpost/appliance/internal/netnstest"
	"golang.org/x/sys/unix"
)

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to create network namespaces and packet sockets (CI runs as root)")
	}
}

// pair is two namespaces made for one test, joined by a veth: "box" (10.77.0.1
// and 10.77.0.3 on ifBox) and "peer" (10.77.0.2 on ifPeer). Cleanup deletes both
// namespaces, which removes the veth with them.
type pair struct {
	box, peer     string // namespace names
	boxNS, peerNS string // paths
	ifBox, ifPeer string
}

var (
	boxIP   = netip.MustParseAddr("10.77.0.1")
	boxIP2  = netip.MustParseAddr("10.77.0.3")
	peerIP  = netip.MustParseAddr("10.77.0.2")
	udpPort = 9999
	tcpPort = 8080
)

func newPair(t testing.TB) *pair {
	t.Helper()
	n := netnstest.NewPair(t, "cap", "box", "peer", []netip.Addr{boxIP, boxIP2}, []netip.Addr{peerIP})
	return &pair{box: n.A, peer: n.B, boxNS: n.APath, peerNS: n.BPath, ifBox: n.IfA, ifPeer: n.IfB}
}

// listenUDP opens a UDP socket in namespace ns.
func listenUDP(t testing.TB, ns string, addr netip.AddrPort) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	err := inNetNS(ns, func() (err error) {
		c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendUDP sends n datagrams from (ns, from) to the address to, bound to a local
// port so every datagram has the same source.
func sendUDP(t testing.TB, ns string, from netip.Addr, to netip.AddrPort, n, size int) {
	t.Helper()
	var c *net.UDPConn
	err := inNetNS(ns, func() (err error) {
		c, err = net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(from, 0)), net.UDPAddrFromAddrPort(to))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, size)
	for i := range n {
		if _, err := c.Write(buf); err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
	}
}

// tcpExchange connects from the peer namespace to the box's TCP listener and
// sends a few kilobytes; the box reads them all.
func tcpExchange(t testing.TB, p *pair) {
	t.Helper()
	var ln net.Listener
	if err := inNetNS(p.boxNS, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(boxIP, uint16(tcpPort)).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(io.Discard, c)
		done <- err
	}()
	var c net.Conn
	if err := inNetNS(p.peerNS, func() (err error) {
		c, err = net.Dial("tcp", netip.AddrPortFrom(boxIP, uint16(tcpPort)).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(make([]byte, 8<<10)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func pcapPackets(t *testing.T, path string) []gopacket.Packet {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	src := gopacket.NewPacketSource(r, layers.LinkTypeEthernet)
	var out []gopacket.Packet
	for range 100_000 {
		p, err := src.NextPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// tcpdumpLines reads a pcap with tcpdump (libpcap, a reader we did not write).
func tcpdumpLines(t *testing.T, path string) []string {
	t.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Log("tcpdump not installed (apt-get install tcpdump): skipping the libpcap cross-check")
		return nil
	}
	out, err := exec.Command("tcpdump", "-nn", "-r", path).Output() // stdout only: one line per packet
	if err != nil {
		t.Fatalf("tcpdump -r %s: %v", path, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestCaptureInNamespace: two captures at once on the box's veth, one for UDP to
// port 9999 and one for TCP port 8080, while the peer sends 50 datagrams and a
// TCP stream (plus ARP and the TCP handshake in the other direction). Each file,
// read by tcpdump and by gopacket, holds exactly what its filter asked for.
func TestCaptureInNamespace(t *testing.T) {
	p := newPair(t)
	listenUDP(t, p.boxNS, netip.AddrPortFrom(boxIP, uint16(udpPort)))
	dir := t.TempDir()
	type job struct {
		filter string
		path   string
		res    Result
		err    error
	}
	jobs := []*job{
		{filter: fmt.Sprintf("udp and dst port %d and src host %s", udpPort, peerIP)},
		{filter: fmt.Sprintf("tcp port %d", tcpPort)},
	}
	done := make(chan struct{}, len(jobs))
	for i, j := range jobs {
		j.path = filepath.Join(dir, fmt.Sprintf("cap%d.pcap", i))
		s, err := Open(Options{Interface: p.ifBox, NetNS: p.boxNS, Filter: j.filter, Duration: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer func() { done <- struct{}{} }()
			defer s.Close()
			f, err := os.Create(j.path)
			if err != nil {
				j.err = err
				return
			}
			defer f.Close()
			j.res, j.err = s.WriteTo(context.Background(), f)
		}()
	}
	const n = 50
	sendUDP(t, p.peerNS, peerIP, netip.AddrPortFrom(boxIP, uint16(udpPort)), n, 100)
	tcpExchange(t, p)
	for range jobs {
		<-done
	}
	for _, j := range jobs {
		if j.err != nil {
			t.Fatalf("%q: %v", j.filter, j.err)
		}
		if j.res.Stop != StopDuration || j.res.KernelDrops != 0 {
			t.Errorf("%q: %+v", j.filter, j.res)
		}
	}

	udp := pcapPackets(t, jobs[0].path)
	if len(udp) != n || jobs[0].res.Packets != n {
		t.Errorf("udp capture holds %d packets (result %d), want %d", len(udp), jobs[0].res.Packets, n)
	}
	for i, pk := range udp {
		u, ok := pk.Layer(layers.LayerTypeUDP).(*layers.UDP)
		ip, _ := pk.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if !ok || ip == nil || int(u.DstPort) != udpPort || !ip.SrcIP.Equal(peerIP.AsSlice()) || len(u.Payload) != 100 {
			t.Errorf("udp packet %d does not match the filter: %v", i, pk)
		}
	}
	if lines := tcpdumpLines(t, jobs[0].path); lines != nil {
		want := fmt.Sprintf("> %s.%d: UDP, length 100", boxIP, udpPort)
		if len(lines) != n {
			t.Errorf("tcpdump reads %d packets, want %d", len(lines), n)
		}
		for _, l := range lines {
			if !strings.Contains(l, want) {
				t.Errorf("tcpdump line %q lacks %q", l, want)
				break
			}
		}
	}

	tcp := pcapPackets(t, jobs[1].path)
	if len(tcp) < 4 { // handshake, data, FIN exchange at least
		t.Errorf("tcp capture holds %d packets", len(tcp))
	}
	for i, pk := range tcp {
		c, ok := pk.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok || (int(c.DstPort) != tcpPort && int(c.SrcPort) != tcpPort) {
			t.Errorf("tcp packet %d does not match the filter: %v", i, pk)
		}
	}
	if lines := tcpdumpLines(t, jobs[1].path); lines != nil && len(lines) != len(tcp) {
		t.Errorf("tcpdump reads %d packets, gopacket %d", len(lines), len(tcp))
	}
}

// TestCaptureBoundsInNamespace: the packet and byte bounds stop a real capture
// while traffic keeps coming, and the duration bound stops an idle one.
func TestCaptureBoundsInNamespace(t *testing.T) {
	p := newPair(t)
	listenUDP(t, p.boxNS, netip.AddrPortFrom(boxIP, uint16(udpPort)))
	filter := fmt.Sprintf("udp port %d", udpPort)
	frame := 14 + 20 + 8 + 200
	cases := []struct {
		name     string
		opts     Options
		send     int
		wantStop StopReason
		wantPkts int
	}{
		{"packets", Options{MaxPackets: 7}, 40, StopPackets, 7},
		{"bytes", Options{MaxBytes: int64(pcapHeaderLen + 5*(pcapRecordHeaderLen+frame) + 10)}, 40, StopBytes, 5},
		{"duration", Options{Duration: 300 * time.Millisecond}, 0, StopDuration, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Interface, tc.opts.NetNS, tc.opts.Filter = p.ifBox, p.boxNS, filter
			s, err := Open(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			sendUDP(t, p.peerNS, peerIP, netip.AddrPortFrom(boxIP, uint16(udpPort)), tc.send, 200)
			var out bytes.Buffer
			res, err := s.WriteTo(context.Background(), &out)
			if err != nil {
				t.Fatal(err)
			}
			if res.Stop != tc.wantStop || res.Packets != tc.wantPkts {
				t.Errorf("stopped by %q after %d packets, want %q after %d", res.Stop, res.Packets, tc.wantStop, tc.wantPkts)
			}
			if tc.opts.MaxBytes > 0 && int64(out.Len()) > tc.opts.MaxBytes {
				t.Errorf("wrote %d bytes, bound %d", out.Len(), tc.opts.MaxBytes)
			}
		})
	}
}

func TestCaptureErrorsInNamespace(t *testing.T) {
	p := newPair(t)
	cases := []struct {
		name string
		opts Options
		want error
	}{
		{"no such interface", Options{Interface: "nope0", NetNS: p.boxNS}, ErrNoInterface},
		{"interface of another namespace", Options{Interface: p.ifPeer, NetNS: p.boxNS}, ErrNoInterface},
		{"bad filter", Options{Interface: p.ifBox, NetNS: p.boxNS, Filter: "host 10.0.0.1 and (tcp port 443 or)"}, ErrFilterSyntax},
		{"bad namespace", Options{Interface: p.ifBox, NetNS: "/run/netns/outpost-no-such-ns"}, os.ErrNotExist},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.opts)
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, want %v", err, tc.want)
			}
			t.Log(err)
		})
	}
}

// TestCaptureWithoutCapNetRaw drops CAP_NET_RAW on one locked thread (capabilities
// are per thread) and opens a capture there: the error is ErrPermission. The
// thread is never unlocked, so the runtime discards it.
func TestCaptureWithoutCapNetRaw(t *testing.T) {
	if os.Geteuid() != 0 { // not root: the plain call must say so
		_, err := openPacketSource(Options{Interface: "lo", Snaplen: DefaultSnaplen}, &Filter{})
		if !errors.Is(err, ErrPermission) {
			t.Fatalf("open as non-root = %v, want ErrPermission", err)
		}
		return
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: this thread keeps reduced capabilities
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			errc <- err
			return
		}
		data[unix.CAP_NET_RAW/32].Effective &^= 1 << (unix.CAP_NET_RAW % 32)
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			errc <- err
			return
		}
		_, err := openPacketSource(Options{Interface: "lo", Snaplen: DefaultSnaplen}, &Filter{})
		errc <- err
	}()
	if err := <-errc; !errors.Is(err, ErrPermission) {
		t.Fatalf("open without CAP_NET_RAW = %v, want ErrPermission", err)
	}
}

func TestHandleFD(t *testing.T) {
	requireRoot(t)
	h, err := pcapgo.NewEthernetHandle("lo")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	fd, err := handleFD(h)
	if err != nil {
		t.Fatal(err)
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil || typ != unix.AF_PACKET {
		t.Fatalf("fd %d: domain %d, %v; want AF_PACKET", fd, typ, err)
	}
}

// TestTopTalkersInNamespace: two LAN addresses on the box talk to a remote
// service; the snapshot names both hosts, the bigger first, and the service.
func TestTopTalkersInNamespace(t *testing.T) {
	p := newPair(t)
	listenUDP(t, p.peerNS, netip.AddrPortFrom(peerIP, uint16(udpPort)))
	top := &TopTalkers{Interface: p.ifBox, NetNS: p.boxNS,
		LAN: []netip.Prefix{netip.PrefixFrom(boxIP, 32), netip.PrefixFrom(boxIP2, 32)}}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- top.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, "top talkers running", func() bool { return top.Snapshot(1).Running })
	svc := netip.AddrPortFrom(peerIP, uint16(udpPort))
	sendUDP(t, p.boxNS, boxIP, svc, 30, 500)
	sendUDP(t, p.boxNS, boxIP2, svc, 10, 500)
	waitFor(t, "40 packets counted", func() bool { return top.Snapshot(1).Packets >= 40 })
	s := top.Snapshot(10)
	if len(s.LANHosts) != 2 || s.LANHosts[0].Name != boxIP.String() || s.LANHosts[1].Name != boxIP2.String() {
		t.Errorf("hosts %+v, want %s then %s", s.LANHosts, boxIP, boxIP2)
	}
	if len(s.Services) != 1 || s.Services[0].Name != svc.String()+"/udp" || s.Services[0].Packets != 40 {
		t.Errorf("services %+v, want %s/udp with 40 packets", s.Services, svc)
	}
	if want := int64(30 * (14 + 20 + 8 + 500)); s.LANHosts[0].Bytes != want {
		t.Errorf("%s: %d bytes, want %d", boxIP, s.LANHosts[0].Bytes, want)
	}
}

// waitFor polls cond (bounded: 10 s) for a condition another goroutine makes true.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestHandlerInNamespace: the HTTP API captures on a namespace's interface for
// real and streams a pcap that tcpdump reads.
func TestHandlerInNamespace(t *testing.T) {
	p := newPair(t)
	listenUDP(t, p.boxNS, netip.AddrPortFrom(boxIP, uint16(udpPort)))
	srv := newTestServer(t, HandlerConfig{Token: testToken, NetNS: p.boxNS, Interfaces: []string{p.ifBox}})
	q := url.Values{"iface": {p.ifBox}, "filter": {fmt.Sprintf("udp dst port %d", udpPort)}, "seconds": {"5"}, "max_packets": {"20"}}
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/diag/capture?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := srv.Client().Do(req) // headers arrive once the socket is filtering
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	sendUDP(t, p.peerNS, peerIP, netip.AddrPortFrom(boxIP, uint16(udpPort)), 25, 64)
	path := filepath.Join(t.TempDir(), "api.pcap")
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := len(pcapPackets(t, path)); got != 20 || resp.Trailer.Get("X-Capture-Stop") != "packets" {
		t.Errorf("%d packets, trailers %v; want 20, stop=packets", got, resp.Trailer)
	}
	if lines := tcpdumpLines(t, path); lines != nil && len(lines) != 20 {
		t.Errorf("tcpdump reads %d packets", len(lines))
	}
}
