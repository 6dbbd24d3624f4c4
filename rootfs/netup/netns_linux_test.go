package netup

// Tests against a real DHCP server (github.com/insomniacslk/dhcp's server4)
// across a veth pair between two network namespaces the test makes. They need
// root and iproute2: without them they skip, except under CI=1, where they
// fail. (appliance/internal/netnstest is out of reach from rootfs/: Go's
// internal rule.)

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func requireRoot(t *testing.T) {
	t.Helper()
	_, errIP := exec.LookPath("ip")
	switch {
	case os.Geteuid() == 0 && errIP == nil:
		return
	case os.Getenv("CI") != "":
		t.Fatal("CI=1: this test needs root and iproute2 (ip), and CI must run it")
	}
	t.Skip("skipped: needs root and iproute2 to make network namespaces (CI runs it)")
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// pair is a client namespace and a server namespace joined by a veth; the
// server's end carries serverIP/24, the client's end nothing.
type pair struct {
	client, server     string // namespace names
	clientIf, serverIf string
	clientMAC          net.HardwareAddr
}

func newPair(t *testing.T) *pair {
	t.Helper()
	requireRoot(t)
	var r [4]byte
	rand.Read(r[:])
	id := hex.EncodeToString(r[:])
	p := &pair{client: "outpost-dhcp-" + id + "-c", server: "outpost-dhcp-" + id + "-s", clientIf: "dh" + id + "c", serverIf: "dh" + id + "s"}
	for _, ns := range []string{p.client, p.server} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	run(t, "ip", "link", "add", p.clientIf, "netns", p.client, "address", "52:54:00:de:c0:01", "type", "veth",
		"peer", "name", p.serverIf, "netns", p.server)
	run(t, "ip", "-n", p.server, "addr", "add", serverIP.String()+"/24", "dev", p.serverIf)
	for _, c := range [][2]string{{p.client, p.clientIf}, {p.server, p.serverIf}, {p.client, "lo"}, {p.server, "lo"}} {
		run(t, "ip", "-n", c[0], "link", "set", c[1], "up")
	}
	p.clientMAC, _ = net.ParseMAC("52:54:00:de:c0:01")
	return p
}

// inNS runs f on a thread inside the named namespace. Sockets f opens stay
// there. The thread is never unlocked, so it dies with the goroutine instead
// of going back to the pool in the wrong namespace.
func inNS(name string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netns.GetFromName(name)
		if err != nil {
			errc <- err
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	return <-errc
}

var (
	serverIP = netip.MustParseAddr("192.0.2.1")
	clientIP = netip.MustParseAddr("192.0.2.50")
	dnsIP    = netip.MustParseAddr("192.0.2.53")
	ntpIP    = netip.MustParseAddr("192.0.2.123")
)

// dhcpServer is a small DHCP server on server4: it offers clientIP with a
// router, DNS, NTP and a domain, and records what it was asked.
type dhcpServer struct {
	mu       sync.Mutex
	silent   bool
	nakRenew bool
	lease    time.Duration
	t1, t2   time.Duration
	seen     []*dhcpv4.DHCPv4
	peers    []string // where each came from
}

func (s *dhcpServer) handle(conn net.PacketConn, peer net.Addr, m *dhcpv4.DHCPv4) {
	s.mu.Lock()
	s.seen = append(s.seen, m)
	s.peers = append(s.peers, peer.(*net.UDPAddr).IP.String())
	silent, nakRenew, leaseTime, t1, t2 := s.silent, s.nakRenew, s.lease, s.t1, s.t2
	s.mu.Unlock()
	if silent {
		return
	}
	var typ dhcpv4.MessageType
	switch m.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		typ = dhcpv4.MessageTypeOffer
	case dhcpv4.MessageTypeRequest:
		typ = dhcpv4.MessageTypeAck
		if nakRenew && !m.ClientIPAddr.IsUnspecified() {
			typ = dhcpv4.MessageTypeNak
		}
	default:
		return
	}
	mods := []dhcpv4.Modifier{dhcpv4.WithMessageType(typ), dhcpv4.WithServerIP(serverIP.AsSlice()),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(serverIP.AsSlice()))}
	if typ != dhcpv4.MessageTypeNak {
		mods = append(mods, dhcpv4.WithYourIP(clientIP.AsSlice()),
			dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
			dhcpv4.WithOption(dhcpv4.OptRouter(serverIP.AsSlice())),
			dhcpv4.WithOption(dhcpv4.OptDNS(dnsIP.AsSlice())),
			dhcpv4.WithOption(dhcpv4.OptNTPServers(ntpIP.AsSlice())),
			dhcpv4.WithOption(dhcpv4.OptDomainName("branch.example")),
			dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(leaseTime)))
		if t1 > 0 {
			mods = append(mods, dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(t1)), dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(t2)))
		}
	}
	reply, err := dhcpv4.NewReplyFromRequest(m, mods...)
	if err != nil {
		return
	}
	conn.WriteTo(reply.ToBytes(), peer)
}

func (s *dhcpServer) set(f func(s *dhcpServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// requests returns what the server saw, as "TYPE ciaddr from SOURCE" (server4
// reports a source of 0.0.0.0 as the broadcast address it answers to).
func (s *dhcpServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for i, m := range s.seen {
		out = append(out, fmt.Sprintf("%s %s from %s", m.MessageType(), m.ClientIPAddr, s.peers[i]))
	}
	return out
}

func (s *dhcpServer) last() *dhcpv4.DHCPv4 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		return nil
	}
	return s.seen[len(s.seen)-1]
}

// startServer runs s on the server end of p until the test ends.
func startServer(t *testing.T, p *pair, s *dhcpServer) {
	t.Helper()
	var srv *server4.Server
	err := inNS(p.server, func() error {
		var err error
		srv, err = server4.NewServer(p.serverIf, &net.UDPAddr{IP: net.IPv4zero, Port: dhcpv4.ServerPort}, s.handle)
		return err
	})
	if err != nil {
		t.Fatalf("DHCP server: %v", err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
}

var leaseCmp = []cmp.Option{cmpopts.IgnoreUnexported(lease{}), cmpopts.IgnoreFields(lease{}, "Acquired"),
	cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})}

// TestDHCPExchange runs netup's exchanges (nclient4 on the filtered packet
// socket, the unicast renewal, the broadcast rebind) against the server and
// checks the lease fields netup derives and what the server was sent.
func TestDHCPExchange(t *testing.T) {
	p := newPair(t)
	s := &dhcpServer{lease: 120 * time.Second, t1: 40 * time.Second, t2: 100 * time.Second}
	startServer(t, p, s)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // hang guard
	defer cancel()
	want := lease{Addr: netip.PrefixFrom(clientIP, 24), Router: serverIP, DNS: []netip.Addr{dnsIP}, NTP: []netip.Addr{ntpIP},
		Domain: "branch.example", Server: serverIP, Duration: 120 * time.Second, T1: 40 * time.Second, T2: 100 * time.Second}

	var l lease
	if err := inNS(p.client, func() (err error) {
		l, err = dhcpAcquire(ctx, p.clientIf, p.clientMAC, "outpost-test")
		return err
	}); err != nil {
		t.Fatalf("acquire: %v", err)
	}
	if d := cmp.Diff(want, l, leaseCmp...); d != "" {
		t.Fatalf("lease (-want +got):\n%s", d)
	}
	if time.Since(l.Acquired) > time.Minute {
		t.Fatalf("acquired at %v", l.Acquired)
	}
	if got := s.last(); got.HostName() != "outpost-test" || !got.IsOptionRequested(dhcpv4.OptionNTPServers) {
		t.Fatalf("the REQUEST lacks the hostname or the NTP option: %s", got.Summary())
	}

	// Renewing needs the address on the link, as netup sets it.
	run(t, "ip", "-n", p.client, "addr", "add", l.Addr.String(), "dev", p.clientIf)
	var renewed lease
	if err := inNS(p.client, func() (err error) {
		renewed, err = dhcpRenew(ctx, p.clientIf, p.clientMAC, "outpost-test", l, false)
		return err
	}); err != nil {
		t.Fatalf("renew: %v", err)
	}
	if d := cmp.Diff(want, renewed, leaseCmp...); d != "" || !renewed.Acquired.After(l.Acquired) {
		t.Fatalf("renewed lease (-want +got):\n%s", d)
	}
	var rebound lease
	if err := inNS(p.client, func() (err error) {
		rebound, err = dhcpRenew(ctx, p.clientIf, p.clientMAC, "outpost-test", renewed, true)
		return err
	}); err != nil {
		t.Fatalf("rebind: %v", err)
	}
	if d := cmp.Diff(want, rebound, leaseCmp...); d != "" {
		t.Fatalf("rebound lease (-want +got):\n%s", d)
	}
	wantSeen := []string{"DISCOVER 0.0.0.0 from 255.255.255.255", "REQUEST 0.0.0.0 from 255.255.255.255",
		"REQUEST 192.0.2.50 from 192.0.2.50",      // renewing: unicast from the leased address
		"REQUEST 192.0.2.50 from 255.255.255.255"} // rebinding: broadcast
	if d := cmp.Diff(wantSeen, s.requests()); d != "" {
		t.Fatalf("server saw (-want +got):\n%s", d)
	}

	s.set(func(s *dhcpServer) { s.nakRenew = true })
	err := inNS(p.client, func() error {
		_, err := dhcpRenew(ctx, p.clientIf, p.clientMAC, "outpost-test", rebound, false)
		return err
	})
	var nak *nclient4.ErrNak
	if !errors.As(err, &nak) {
		t.Fatalf("renewal refused by the server: err %v, want an *nclient4.ErrNak", err)
	}

	s.set(func(s *dhcpServer) { s.silent = true })
	err = inNS(p.client, func() error {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		_, err := dhcpAcquire(ctx, p.clientIf, p.clientMAC, "outpost-test")
		return err
	})
	if err == nil {
		t.Fatal("acquire from a silent server succeeded")
	}
}

// The child half of the Run tests: the test binary again, started inside the
// client namespace by `ip netns exec`, so Run's netlink calls (from any
// thread) see only that namespace. It prints each status change as a JSON line
// and stops when its stdin closes.
const childEnv = "OUTPOST_NETUP_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

type childSpec struct {
	Link       string  `json:"link"`
	ResolvConf string  `json:"resolv_conf"`
	Static     *Static `json:"static"`
}

func runChild(spec string) int {
	var cs childSpec
	if err := json.Unmarshal([]byte(spec), &cs); err != nil {
		fmt.Fprintln(os.Stderr, "child spec:", err)
		return 2
	}
	ethernet = func(l netlink.Link) bool { return l.Attrs().Name == cs.Link }
	ctx, cancel := context.WithCancel(context.Background())
	go func() { io.Copy(io.Discard, os.Stdin); cancel() }()
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	Run(ctx, Config{
		Hostname: "outpost-test", ResolvConf: cs.ResolvConf, FallbackAfter: time.Second, Static: cs.Static,
		Log: slog.New(slog.NewTextHandler(os.Stdout, nil)),
		OnChange: func(st []LinkStatus) {
			mu.Lock()
			defer mu.Unlock()
			enc.Encode(st)
		},
	})
	return 0
}

// child is a running Run in the client namespace.
type child struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
	stdin io.Closer
	done  chan struct{}
}

func startChild(t *testing.T, p *pair, cs childSpec) *child {
	t.Helper()
	cs.Link = p.clientIf
	spec, _ := json.Marshal(cs)
	cmd := exec.Command("ip", "netns", "exec", p.client, os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, stdin: stdin, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.mu.Unlock()
		}
		cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill() // our own child, by its PID
			<-c.done
		}
	})
	return c
}

// wait returns the first output line matching re, failing after within.
func (c *child) wait(re string, within time.Duration) string {
	c.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		i := slices.IndexFunc(c.lines, rx.MatchString)
		var line string
		if i >= 0 {
			line = c.lines[i]
		}
		c.mu.Unlock()
		if i >= 0 {
			return line
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t.Fatalf("no output matching %q within %v; the child said:\n%s", re, within, strings.Join(c.lines, "\n"))
	return ""
}

func status(t *testing.T, line string) LinkStatus {
	t.Helper()
	var st []LinkStatus
	if err := json.Unmarshal([]byte(line), &st); err != nil || len(st) != 1 {
		t.Fatalf("status line %q: %v", line, err)
	}
	return st[0]
}

// TestRunLinkLocalThenLease: with a silent server the link falls back to
// link-local with the line the boot test greps; once the server answers, the
// lease replaces it (address, route, resolv.conf, NTP in the status) and is
// renewed by unicast at T1.
func TestRunLinkLocalThenLease(t *testing.T) {
	p := newPair(t)
	s := &dhcpServer{silent: true, lease: 8 * time.Second, t1: 2 * time.Second, t2: 6 * time.Second}
	startServer(t, p, s)
	resolv := t.TempDir() + "/resolv.conf"
	c := startChild(t, p, childSpec{ResolvConf: resolv})

	c.wait(`msg="net: NO DHCP ANSWER: using a link-local address while DHCP keeps trying" link=`+p.clientIf+` addr=169\.254\.`, 10*time.Second)
	ll := status(t, c.wait(`"mode":"link-local"`, 5*time.Second))
	if !strings.HasPrefix(ll.Addr, "169.254.") {
		t.Fatalf("link-local status %+v", ll)
	}

	s.set(func(s *dhcpServer) { s.silent = false })
	st := status(t, c.wait(`"mode":"dhcp"`, 30*time.Second))
	want := LinkStatus{Name: p.clientIf, MAC: p.clientMAC.String(), Mode: ModeDHCP, Addr: "192.0.2.50/24", Router: "192.0.2.1",
		DNS: []string{"192.0.2.53"}, NTP: []string{"192.0.2.123"}}
	if d := cmp.Diff(want, st, cmpopts.IgnoreFields(LinkStatus{}, "Carrier", "Expiry")); d != "" {
		t.Fatalf("status after the lease (-want +got):\n%s", d)
	}
	if until := time.Until(st.Expiry); until < 4*time.Second || until > 9*time.Second {
		t.Fatalf("lease expiry in %v, want about 8 s", until)
	}
	addrs := run(t, "ip", "-n", p.client, "-4", "addr", "show", "dev", p.clientIf)
	if !strings.Contains(addrs, "inet 192.0.2.50/24") || strings.Contains(addrs, "169.254.") {
		t.Fatalf("addresses after the lease (link-local must be gone):\n%s", addrs)
	}
	if routes := run(t, "ip", "-n", p.client, "route", "show", "default"); !strings.Contains(routes, "default via 192.0.2.1 dev "+p.clientIf) {
		t.Fatalf("default route: %q", routes)
	}
	if b, _ := os.ReadFile(resolv); !strings.Contains(string(b), "search branch.example\nnameserver 192.0.2.53\n") {
		t.Fatalf("resolv.conf:\n%s", b)
	}
	c.wait(`msg="net: DHCP lease".* ntp=\[192\.0\.2\.123\]`, time.Second)

	// T1 is 2 s: a unicast REQUEST from the leased address renews it.
	deadline := time.Now().Add(15 * time.Second)
	for !slices.Contains(s.requests(), "REQUEST 192.0.2.50 from 192.0.2.50") {
		if time.Now().After(deadline) {
			t.Fatalf("no renewal within 15 s of a 2 s T1; the server saw %q", s.requests())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRunStatic: a static setting is applied and the link never asks DHCP.
func TestRunStatic(t *testing.T) {
	p := newPair(t)
	s := &dhcpServer{lease: time.Hour}
	startServer(t, p, s)
	resolv := t.TempDir() + "/resolv.conf"
	static, err := ParseStatic([]byte(`{"address":"192.0.2.77/24","gateway":"192.0.2.1","dns":["192.0.2.53"],"ntp":["192.0.2.123"]}`))
	if err != nil {
		t.Fatal(err)
	}
	c := startChild(t, p, childSpec{ResolvConf: resolv, Static: static})
	c.wait(`msg="net: static address" link=`+p.clientIf+` addr=192\.0\.2\.77/24 gateway=192\.0\.2\.1`, 10*time.Second)
	st := status(t, c.wait(`"mode":"static"`, 5*time.Second))
	if st.Addr != "192.0.2.77/24" || !slices.Equal(st.NTP, []string{"192.0.2.123"}) {
		t.Fatalf("static status %+v", st)
	}
	if routes := run(t, "ip", "-n", p.client, "route", "show", "default"); !strings.Contains(routes, "default via 192.0.2.1") {
		t.Fatalf("default route: %q", routes)
	}
	time.Sleep(2 * time.Second) // past FallbackAfter: no DHCP, no link-local
	if got := s.requests(); len(got) > 0 {
		t.Fatalf("a static link sent DHCP: %q", got)
	}
	if addrs := run(t, "ip", "-n", p.client, "-4", "addr", "show", "dev", p.clientIf); strings.Contains(addrs, "169.254.") {
		t.Fatalf("a static link took a link-local address:\n%s", addrs)
	}
	// Carrier: up with the peer end up; "cable pulled" when the peer goes down.
	c.wait(`msg="net: carrier" link=`+p.clientIf+` up=true`, 10*time.Second)
	if st := status(t, c.wait(`"carrier":true`, 5*time.Second)); st.Name != p.clientIf {
		t.Fatalf("carrier status %+v", st)
	}
	run(t, "ip", "-n", p.server, "link", "set", p.serverIf, "down")
	c.wait(`msg="net: carrier" link=`+p.clientIf+` up=false`, 10*time.Second)
}
