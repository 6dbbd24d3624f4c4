package shaper

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/outpost-ecdn/outpost/appliance/internal/netnstest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func testConfig(tp *topo) Config {
	return Config{Interface: tp.br, LinkMbps: 20, VideoMbps: 8, NetNS: tp.branchNS, Ingress: true,
		Origins: []Endpoint{{Prefix: netip.PrefixFrom(originIP, 32), Port: originPort}}}
}

// qdiscLines is iproute2's view of dev's qdiscs.
func qdiscLines(t *testing.T, ns, dev string) string {
	return tc(t, ns, "qdisc", "show", "dev", dev)
}

func TestU32Keys(t *testing.T) {
	cases := []struct {
		name string
		e    Endpoint
		src  bool
		want []netlink.TcU32Key
	}{
		{"v4 host port dst", Endpoint{netip.MustParsePrefix("203.0.113.7/32"), 443}, false, []netlink.TcU32Key{
			{Mask: 0xffffffff, Val: 0xcb007107, Off: 16},
			{Mask: 0x0f000000, Val: 0x05000000, Off: 0},
			{Mask: 0x00001fff, Val: 0, Off: 4},
			{Mask: 0x0000ffff, Val: 443, Off: 20}}},
		{"v4 net src", Endpoint{netip.MustParsePrefix("198.51.100.0/24"), 0}, true, []netlink.TcU32Key{
			{Mask: 0xffffff00, Val: 0xc6336400, Off: 12}}},
		{"v4 any port src", Endpoint{netip.MustParsePrefix("0.0.0.0/0"), 8080}, true, []netlink.TcU32Key{
			{Mask: 0x0f000000, Val: 0x05000000, Off: 0},
			{Mask: 0x00001fff, Val: 0, Off: 4},
			{Mask: 0xffff0000, Val: 8080 << 16, Off: 20}}},
		{"v6 /48 src port", Endpoint{netip.MustParsePrefix("2001:db8:aa::/48"), 443}, true, []netlink.TcU32Key{
			{Mask: 0xffffffff, Val: 0x20010db8, Off: 8},
			{Mask: 0xffff0000, Val: 0x00aa0000, Off: 12},
			{Mask: 0xffff0000, Val: 443 << 16, Off: 40}}},
		{"v6 everything", Endpoint{netip.MustParsePrefix("::/0"), 0}, false, []netlink.TcU32Key{{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, u32Keys(tc.e, tc.src)); d != "" {
				t.Errorf("keys (-want +got):\n%s", d)
			}
		})
	}
}

func TestMarkProgram(t *testing.T) {
	p, err := markProgram(0x4f50)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0x61, 0x10, 8, 0, 0, 0, 0, 0,
		0x56, 0x00, 2, 0, 0x50, 0x4f, 0, 0,
		0xb7, 0x00, 0, 0, 0xff, 0xff, 0xff, 0xff,
		0x95, 0, 0, 0, 0, 0, 0, 0,
		0xb7, 0, 0, 0, 0, 0, 0, 0,
		0x95, 0, 0, 0, 0, 0, 0, 0,
	}
	if d := cmp.Diff(want, p); d != "" {
		t.Errorf("program (-want +got):\n%s", d)
	}
}

// TestApplyInstallsTree: the tree iproute2's tc shows is the one we meant;
// applying again changes nothing; Stop leaves tc qdisc show as before Apply.
func TestApplyInstallsTree(t *testing.T) {
	tp := newTopo(t)
	before := qdiscLines(t, tp.branch, tp.br)
	beforeAll := tc(t, tp.branch, "qdisc", "show")
	sh, err := New(testConfig(tp))
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Apply(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sh.Stop() })
	st := sh.Status()
	leaf := st.Leaf
	t.Logf("leaf %s, classifier %s", st.Leaf, st.Classifier)
	if !st.Installed || st.Error != "" || (st.Leaf != LeafFQCodel && st.Leaf != LeafPFIFO) || (st.Classifier != "fw" && st.Classifier != "bpf") {
		t.Errorf("Status after Apply: %+v", st)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(sh.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for _, mf := range mfs {
		series += len(mf.GetMetric())
	}
	if len(mfs) != 8 || series != 1+7*6 { // up, then 7 families x 3 classes x 2 directions
		t.Errorf("collector: %d families, %d series", len(mfs), series)
	}
	if got := sh.Status().Classes; len(got) != 6 {
		t.Errorf("Status after a scrape carries %d classes, want 6", len(got))
	}

	for _, dev := range []string{tp.br, DefaultIFB} {
		q := tc(t, tp.branch, "-s", "qdisc", "show", "dev", dev)
		c := tc(t, tp.branch, "-s", "class", "show", "dev", dev)
		t.Logf("tc -s qdisc show dev %s\n%s\ntc -s class show dev %s\n%s", dev, q, dev, c)
		for _, re := range []string{
			`qdisc htb 4f50: root .*default 0x20`,
			`qdisc ` + leaf + ` 4f51: parent 4f50:10`,
			`qdisc ` + leaf + ` 4f52: parent 4f50:20`,
		} {
			if !regexp.MustCompile(re).MatchString(q) {
				t.Errorf("%s: tc qdisc show lacks %q", dev, re)
			}
		}
		for _, re := range []string{
			`class htb 4f50:1 root rate 20Mbit ceil 20Mbit`,
			`class htb 4f50:10 parent 4f50:1 leaf 4f51: prio 0 rate 8Mbit ceil 8Mbit`,
			`class htb 4f50:20 parent 4f50:1 leaf 4f52: prio 1 rate 12Mbit ceil 20Mbit`,
		} {
			if !regexp.MustCompile(re).MatchString(c) {
				t.Errorf("%s: tc class show lacks %q", dev, re)
			}
		}
	}
	filters := tc(t, tp.branch, "filter", "show", "dev", tp.br)
	ifbFilters := tc(t, tp.branch, "filter", "show", "dev", DefaultIFB)
	ingress := tc(t, tp.branch, "filter", "show", "dev", tp.br, "ingress")
	t.Logf("filters on %s:\n%s\non %s:\n%s\ningress:\n%s", tp.br, filters, DefaultIFB, ifbFilters, ingress)
	for _, c := range []struct{ out, re string }{
		{filters, `pref 1 (fw|bpf) .*(classid 4f50:10|flowid 4f50:10)`},
		{filters, `pref 2 u32 .*flowid 4f50:10`},
		{filters, `match 0a580003/ffffffff at 16`},
		{filters, `match 00001f98/0000ffff at 20`},
		{ifbFilters, `match 0a580003/ffffffff at 12`},
		{ifbFilters, `match 1f980000/ffff0000 at 20`},
		{ingress, `pref 20304 u32 .*`},
		{ingress, `action order 1: mirred \(Egress Redirect to device ` + DefaultIFB + `\)`},
	} {
		if !regexp.MustCompile(c.re).MatchString(c.out) {
			t.Errorf("tc filter show lacks %q", c.re)
		}
	}

	// Apply twice = one tree: the same qdiscs, classes and filters.
	snapshot := func() string {
		var b strings.Builder
		for _, dev := range []string{tp.br, DefaultIFB} {
			b.WriteString(tc(t, tp.branch, "qdisc", "show", "dev", dev))
			b.WriteString(tc(t, tp.branch, "class", "show", "dev", dev))
			b.WriteString(tc(t, tp.branch, "filter", "show", "dev", dev))
		}
		b.WriteString(tc(t, tp.branch, "filter", "show", "dev", tp.br, "ingress"))
		return b.String()
	}
	once := snapshot()
	if err := sh.Apply(); err != nil {
		t.Fatal(err)
	}
	// A fresh Shaper (the daemon restarted) adopts the tree instead of stacking one.
	again, _ := New(testConfig(tp))
	if err := again.Apply(); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(stripFilterIDs(once), stripFilterIDs(snapshot())); d != "" {
		t.Errorf("second Apply changed the tree (-once +twice):\n%s", d)
	}

	if err := sh.Stop(); err != nil {
		t.Fatal(err)
	}
	if after := qdiscLines(t, tp.branch, tp.br); after != before {
		t.Errorf("after Stop, tc qdisc show dev %s:\n%s\nbefore Apply:\n%s", tp.br, after, before)
	}
	if afterAll := tc(t, tp.branch, "qdisc", "show"); afterAll != beforeAll {
		t.Errorf("after Stop, tc qdisc show:\n%s\nbefore Apply:\n%s", afterAll, beforeAll)
	}
	if out := netnstest.Run(t, "ip", "-n", tp.branch, "link", "show"); strings.Contains(out, DefaultIFB) {
		t.Errorf("IFB left behind:\n%s", out)
	}
	if err := sh.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// stripFilterIDs removes what differs between two identical filter sets installed
// at different times (bpf program ids and tags).
func stripFilterIDs(s string) string {
	return regexp.MustCompile(` (id|tag) [0-9a-f]+`).ReplaceAllString(s, "")
}

// TestForeignQdiscs: the shaper refuses a root or ingress qdisc someone else
// installed, leaves it untouched on Stop, and replaces it only when told to.
func TestForeignQdiscs(t *testing.T) {
	tp := newTopo(t)
	tc(t, tp.branch, "qdisc", "add", "dev", tp.br, "root", "handle", "1:", "tbf", "rate", "1mbit", "burst", "10kb", "latency", "50ms")
	foreign := qdiscLines(t, tp.branch, tp.br)
	cfg := testConfig(tp)
	cfg.Ingress = false
	sh, _ := New(cfg)
	err := sh.Apply()
	if !errors.Is(err, ErrForeignQdisc) || !strings.Contains(err.Error(), "tbf 1:") {
		t.Fatalf("Apply over a foreign tbf = %v, want ErrForeignQdisc naming it", err)
	}
	if err := sh.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := qdiscLines(t, tp.branch, tp.br); got != foreign {
		t.Errorf("refusal or Stop touched the foreign qdisc:\n%s\nwas:\n%s", got, foreign)
	}
	cfg.ReplaceForeign = true
	sh, _ = New(cfg)
	if err := sh.Apply(); err != nil {
		t.Fatalf("Apply with ReplaceForeign: %v", err)
	}
	if q := qdiscLines(t, tp.branch, tp.br); !strings.Contains(q, "htb 4f50: root") {
		t.Errorf("not replaced:\n%s", q)
	}
	if err := sh.Stop(); err != nil {
		t.Fatal(err)
	}

	// A foreign ingress qdisc with a filter of its own.
	tc(t, tp.branch, "qdisc", "add", "dev", tp.br, "ingress")
	tc(t, tp.branch, "filter", "add", "dev", tp.br, "parent", "ffff:", "protocol", "ip", "prio", "5", "u32", "match", "ip", "dst", "10.88.0.1/32", "flowid", "1:1")
	ingressBefore := tc(t, tp.branch, "filter", "show", "dev", tp.br, "ingress")
	allBefore := tc(t, tp.branch, "qdisc", "show")
	cfg = testConfig(tp)
	sh, _ = New(cfg)
	if err := sh.Apply(); !errors.Is(err, ErrForeignQdisc) || !strings.Contains(err.Error(), "ingress") {
		t.Fatalf("Apply over a foreign ingress qdisc = %v, want ErrForeignQdisc", err)
	}
	if got := tc(t, tp.branch, "qdisc", "show"); got != allBefore {
		t.Errorf("the refused Apply left changes (egress root, IFB):\n%s\nwas:\n%s", got, allBefore)
	}
	if err := sh.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := tc(t, tp.branch, "filter", "show", "dev", tp.br, "ingress"); got != ingressBefore {
		t.Errorf("foreign ingress filters changed:\n%s\nwas:\n%s", got, ingressBefore)
	}
	tc(t, tp.branch, "qdisc", "del", "dev", tp.br, "ingress")

	// A device of the IFB's name that is not ours.
	netnstest.Run(t, "ip", "-n", tp.branch, "link", "add", DefaultIFB, "type", "ifb") // an ifb, but without the box's alias
	sh, _ = New(cfg)
	if err := sh.Apply(); !errors.Is(err, ErrForeignDevice) {
		t.Fatalf("Apply with %s taken = %v, want ErrForeignDevice", DefaultIFB, err)
	}
	if err := sh.Stop(); err != nil {
		t.Fatal(err)
	}
	if out := netnstest.Run(t, "ip", "-n", tp.branch, "link", "show", DefaultIFB); !strings.Contains(out, DefaultIFB) {
		t.Error("Stop deleted a device it did not create")
	}
}

// TestUpdateInPlace: a config change changes the classes in place (their
// counters survive) and rewrites the filters for new origins.
func TestUpdateInPlace(t *testing.T) {
	tp := newTopo(t)
	cfg := testConfig(tp)
	sh, _ := New(cfg)
	if err := sh.Apply(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sh.Stop() })
	ln := listenTCP(t, tp.wanNS, netip.AddrPortFrom(wanIP, 9000))
	wait := sinkServer(ln)
	if _, err := upload(context.Background(), tp.branchNS, cfg.withDefaults().Mark, netip.AddrPortFrom(wanIP, 9000), 200<<10); err != nil {
		t.Fatal(err)
	}
	st1, err := sh.Stats()
	if err != nil {
		t.Fatal(err)
	}
	video1 := classOf(t, st1, "egress", ClassVideo)
	if video1.Bytes < 200<<10 {
		t.Fatalf("marked upload: video class sent %d bytes, want >= %d", video1.Bytes, 200<<10)
	}

	cfg.VideoMbps = 5
	cfg.LinkMbps = 30
	cfg.Origins = append(cfg.Origins, Endpoint{Prefix: netip.MustParsePrefix("2001:db8::/32"), Port: 443})
	if err := sh.Update(cfg); err != nil {
		t.Fatal(err)
	}
	st2, err := sh.Stats()
	if err != nil {
		t.Fatal(err)
	}
	video2 := classOf(t, st2, "egress", ClassVideo)
	if video2.Bytes < video1.Bytes {
		t.Errorf("video counters reset by the update (%d -> %d): class recreated, not changed", video1.Bytes, video2.Bytes)
	}
	if video2.RateBits != 5e6 || video2.CeilBits != 5e6 || classOf(t, st2, "egress", ClassDefault).RateBits != 25e6 ||
		classOf(t, st2, "ingress", ClassLink).CeilBits != 30e6 {
		t.Errorf("rates after update: %+v", st2.Classes)
	}
	if f := tc(t, tp.branch, "filter", "show", "dev", DefaultIFB); !strings.Contains(f, "pref 3 u32") {
		t.Errorf("no IPv6 origin filter after update:\n%s", f)
	}

	// Turning ingress shaping off removes the IFB and the redirect, nothing else.
	cfg.Ingress = false
	if err := sh.Update(cfg); err != nil {
		t.Fatal(err)
	}
	if out := netnstest.Run(t, "ip", "-n", tp.branch, "link", "show"); strings.Contains(out, DefaultIFB) {
		t.Errorf("IFB left after turning ingress off:\n%s", out)
	}
	if q := qdiscLines(t, tp.branch, tp.br); strings.Contains(q, "ingress") || !strings.Contains(q, "htb 4f50: root") {
		t.Errorf("qdiscs after turning ingress off:\n%s", q)
	}
	ln.Close()
	wait()
}

func classOf(t *testing.T, st Stats, dir, class string) ClassStats {
	t.Helper()
	for _, c := range st.Classes {
		if c.Direction == dir && c.Class == class {
			return c
		}
	}
	t.Fatalf("no %s class %s in %+v", dir, class, st.Classes)
	return ClassStats{}
}

// TestClassification: marked egress and origin downloads land in the video
// classes; other traffic (unmarked, or from the origin's port on another
// address) in the default ones.
func TestClassification(t *testing.T) {
	tp := newTopo(t)
	cfg := testConfig(tp)
	sh, _ := New(cfg)
	if err := sh.Apply(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sh.Stop() })
	streamServer(t, tp, netip.AddrPortFrom(originIP, originPort))
	streamServer(t, tp, netip.AddrPortFrom(wanIP, originPort)) // same port, not an origin
	ln := listenTCP(t, tp.wanNS, netip.AddrPortFrom(wanIP, 9000))
	wait := sinkServer(ln)
	defer func() { ln.Close(); wait() }()
	base, err := sh.Stats()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const n = 300 << 10
	mark := cfg.withDefaults().Mark
	steps := []struct {
		name         string
		do           func() (int64, error)
		dir, class   string
		otherClass   string
		wantAtLeastN bool
	}{
		{"marked upload", func() (int64, error) { return upload(ctx, tp.branchNS, mark, netip.AddrPortFrom(wanIP, 9000), n) },
			"egress", ClassVideo, ClassDefault, true},
		{"unmarked upload", func() (int64, error) { return upload(ctx, tp.branchNS, 0, netip.AddrPortFrom(wanIP, 9000), n) },
			"egress", ClassDefault, ClassVideo, true},
		{"origin download", func() (int64, error) {
			return download(ctx, tp.branchNS, fmt.Sprintf("http://%s:%d/stream?bytes=%d", originIP, originPort, n))
		}, "ingress", ClassVideo, ClassDefault, true},
		{"other download", func() (int64, error) {
			return download(ctx, tp.branchNS, fmt.Sprintf("http://%s:%d/stream?bytes=%d", wanIP, originPort, n))
		}, "ingress", ClassDefault, ClassVideo, true},
	}
	prev := base
	for _, s := range steps {
		got, err := s.do()
		if err != nil || got != n {
			t.Fatalf("%s: %d bytes, %v", s.name, got, err)
		}
		now, err := sh.Stats()
		if err != nil {
			t.Fatal(err)
		}
		in := classOf(t, now, s.dir, s.class).Bytes - classOf(t, prev, s.dir, s.class).Bytes
		out := classOf(t, now, s.dir, s.otherClass).Bytes - classOf(t, prev, s.dir, s.otherClass).Bytes
		t.Logf("%s: %s/%s +%d bytes, %s/%s +%d bytes", s.name, s.dir, s.class, in, s.dir, s.otherClass, out)
		if in < n || out > n/10 {
			t.Errorf("%s: %d bytes in %s/%s and %d in %s, want >= %d and few", s.name, in, s.dir, s.class, out, s.otherClass, n)
		}
		prev = now
	}
}

func TestApplyErrors(t *testing.T) {
	tp := newTopo(t)
	cases := []struct {
		name string
		edit func(*Config)
		want error
	}{
		{"no interface", func(c *Config) { c.Interface = "nope0" }, ErrNoInterface},
		{"strict fq_codel", func(c *Config) { c.Leaf = LeafFQCodel }, ErrUnsupportedKind},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(tp)
			c.edit(&cfg)
			if c.want == ErrUnsupportedKind && kernelHas(t, tp, "fq_codel") {
				t.Skip("this kernel has fq_codel")
			}
			before := tc(t, tp.branch, "qdisc", "show")
			sh, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = sh.Apply()
			if !errors.Is(err, c.want) {
				t.Fatalf("Apply = %v, want %v", err, c.want)
			}
			t.Log(err)
			if after := tc(t, tp.branch, "qdisc", "show"); after != before {
				t.Errorf("a failed Apply left changes:\n%s\nwas:\n%s", after, before)
			}
		})
	}
}

func kernelHas(t *testing.T, tp *topo, kind string) bool {
	err := exec.Command("tc", "-n", tp.branch, "qdisc", "add", "dev", "lo", "root", kind).Run()
	if err == nil {
		tc(t, tp.branch, "qdisc", "del", "dev", "lo", "root")
	}
	return err == nil
}

// TestApplyWithoutCapNetAdmin: on a thread without CAP_NET_ADMIN (capabilities are
// per thread) Apply fails with ErrPermission and changes nothing. Not as root, the
// plain call on lo must fail the same way (it cannot change anything).
func TestApplyWithoutCapNetAdmin(t *testing.T) {
	if os.Geteuid() != 0 {
		sh, _ := New(Config{Interface: "lo", LinkMbps: 20, VideoMbps: 8})
		if err := sh.Apply(); !errors.Is(err, ErrPermission) {
			t.Fatalf("Apply as non-root = %v, want ErrPermission", err)
		}
		return
	}
	tp := newTopo(t)
	before := tc(t, tp.branch, "qdisc", "show")
	sh, _ := New(testConfig(tp))
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread keeps reduced capabilities
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			errc <- err
			return
		}
		data[unix.CAP_NET_ADMIN/32].Effective &^= 1 << (unix.CAP_NET_ADMIN % 32)
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			errc <- err
			return
		}
		errc <- sh.Apply()
	}()
	if err := <-errc; !errors.Is(err, ErrPermission) {
		t.Fatalf("Apply without CAP_NET_ADMIN = %v, want ErrPermission", err)
	}
	if after := tc(t, tp.branch, "qdisc", "show"); after != before {
		t.Errorf("qdiscs changed:\n%s\nwas:\n%s", after, before)
	}
}
