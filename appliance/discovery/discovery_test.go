package discovery

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/outpost-ecdn/outpost/appliance/identity"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

type box struct {
	key  ed25519.PrivateKey
	cert *identity.Certificate
}

func newSite(t testing.TB) (ed25519.PublicKey, func(id string) box) {
	t.Helper()
	_, site, _ := ed25519.GenerateKey(nil)
	return site.Public().(ed25519.PublicKey), func(id string) box {
		_, k, _ := ed25519.GenerateKey(nil)
		c, err := identity.Issue(site, k.Public().(ed25519.PublicKey), id, "branch-042", t0, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return box{k, c}
	}
}

func (b box) txt(ts time.Time) []string {
	return SignTXT(Fields{Site: "branch-042", Box: b.cert.BoxID, Version: "v1", Role: "edge", Port: 8444, Load: 3}, b.key, b.cert, ts)
}

func TestTXTStringsFitAndRoundTrip(t *testing.T) {
	_, mk := newSite(t)
	b := mk("box-a-with-a-rather-long-identifier-0123456789-0123456789-abcd")
	txt := b.txt(t0)
	for _, s := range txt {
		if len(s) > 255 {
			t.Fatalf("TXT string of %d bytes: %q", len(s), s)
		}
	}
	r, err := ParseTXT(txt)
	if err != nil {
		t.Fatal(err)
	}
	got := Fields{Site: r.Site, Box: r.Box, Version: r.Version, Role: r.Role, Port: r.Port, Load: r.Load}
	want := Fields{Site: "branch-042", Box: b.cert.BoxID, Version: "v1", Role: "edge", Port: 8444, Load: 3}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("fields (-want +got):\n%s", d)
	}
	if !r.Time.Equal(t0) {
		t.Fatalf("time %v", r.Time)
	}
}

func replace(txt []string, key, val string) []string {
	out := slices.Clone(txt)
	for i, s := range out {
		if strings.HasPrefix(s, key+"=") {
			out[i] = key + "=" + val
		}
	}
	return out
}

func drop(txt []string, prefix string) []string {
	return slices.DeleteFunc(slices.Clone(txt), func(s string) bool { return strings.HasPrefix(s, prefix) })
}

func TestParseTXT(t *testing.T) {
	_, mk := newSite(t)
	good := mk("box-a").txt(t0)
	for _, tc := range []struct {
		name string
		txt  []string
		want error
	}{
		{"valid", good, nil},
		{"reordered", append(slices.Clone(good[3:]), good[:3]...), nil},
		{"no signature", drop(good, "sig="), ErrUnsigned},
		{"no certificate", drop(good, "c0="), ErrUnsigned},
		{"only names", []string{"txtvers=1", "site=branch-042", "box=rogue", "port=8444"}, ErrUnsigned},
		{"no txtvers", drop(good, "txtvers="), ErrMalformed},
		{"port zero", replace(good, "port", "0"), ErrMalformed},
		{"port text", replace(good, "port", "http"), ErrMalformed},
		{"negative load", replace(good, "load", "-1"), ErrMalformed},
		{"bad ts", replace(good, "ts", "yesterday"), ErrMalformed},
		{"bad box id", replace(good, "box", "a b"), ErrMalformed},
		{"duplicate key", append(slices.Clone(good), "box=box-b"), ErrMalformed},
		{"garbage certificate", replace(good, "c0", "AAAA"), ErrMalformed},
		{"short signature", replace(good, "sig", "AAAA"), ErrMalformed},
		{"too many strings", append(slices.Clone(good), slices.Repeat([]string{"x"}, 40)...), ErrMalformed},
		{"empty", nil, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTXT(tc.txt)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("ParseTXT = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	sitePub, mk := newSite(t)
	_, foreignMk := newSite(t)
	a := mk("box-a")
	rogue := foreignMk("box-a")
	good := a.txt(t0)
	// a box key signing for an id its certificate does not name
	otherID := SignTXT(Fields{Site: "branch-042", Box: "box-z", Version: "v1", Role: "edge", Port: 8444}, a.key, a.cert, t0)
	for _, tc := range []struct {
		name string
		txt  []string
		now  time.Time
		want error
	}{
		{"valid", good, t0, nil},
		{"valid within window", good, t0.Add(29 * time.Second), nil},
		{"stale", good, t0.Add(31 * time.Second), ErrStale},
		{"from the future", good, t0.Add(-31 * time.Second), ErrStale},
		{"certificate expired", mk("box-b").txt(t0.Add(25 * time.Hour)), t0.Add(25 * time.Hour), ErrExpired},
		{"signed by a foreign site key", rogue.txt(t0), t0, ErrForeignSite},
		{"load changed in transit", replace(good, "load", "0"), t0, ErrBadSignature},
		{"port changed in transit", replace(good, "port", "9999"), t0, ErrBadSignature},
		{"box id not the certificate's", otherID, t0, ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseTXT(tc.txt)
			if err != nil {
				t.Fatal(err)
			}
			err = r.Verify(sitePub, "branch-042", tc.now, 30*time.Second)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func parsed(t *testing.T, txt []string) *Record {
	t.Helper()
	r, err := ParseTXT(txt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTableEventsReplayExpiry(t *testing.T) {
	_, mk := newSite(t)
	a := mk("box-a")
	tb := newTable(6 * time.Second)
	events, cancel := tb.subscribe(16)
	defer cancel()
	addr := netip.MustParseAddr("10.0.0.2")
	next := func() Event {
		select {
		case ev := <-events:
			return ev
		default:
			t.Fatal("no event")
			return Event{}
		}
	}
	none := func() {
		select {
		case ev := <-events:
			t.Fatalf("unexpected event %v %s", ev.Kind, ev.Peer.BoxID)
		default:
		}
	}
	first := a.txt(t0)
	if err := tb.observe(parsed(t, first), addr, t0); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Kind != Join || !ev.Peer.Healthy || ev.Peer.BoxID != "box-a" {
		t.Fatalf("got %v %+v", ev.Kind, ev.Peer)
	}
	// the same record heard twice is a duplicate, not a replay
	if err := tb.observe(parsed(t, first), addr, t0); err != nil {
		t.Fatalf("duplicate: %v", err)
	}
	// an older record, or one with the same time and another nonce, is a replay
	older := a.txt(t0.Add(-time.Second))
	sameTime := a.txt(t0)
	for _, txt := range [][]string{older, sameTime} {
		if err := tb.observe(parsed(t, txt), addr, t0); !errors.Is(err, ErrReplayed) {
			t.Fatalf("replay: %v", err)
		}
	}
	none()
	// a failure makes it unhealthy until it signs a newer record
	tb.reportFailure("box-a", t0.Add(time.Second))
	if ev := next(); ev.Kind != Update || ev.Peer.Healthy {
		t.Fatalf("after failure: %v %+v", ev.Kind, ev.Peer)
	}
	if len(*tb.healthy.Load()) != 0 {
		t.Fatal("failed box still in the healthy set")
	}
	tb.observe(parsed(t, a.txt(t0.Add(2*time.Second))), addr, t0.Add(2*time.Second))
	if ev := next(); ev.Kind != Update || !ev.Peer.Healthy {
		t.Fatalf("after new record: %v %+v", ev.Kind, ev.Peer)
	}
	// a goodbye from another address is ignored
	if tb.goodbye("box-a", netip.MustParseAddr("10.0.0.66")) {
		t.Fatal("goodbye from a stranger accepted")
	}
	tb.expireAt(t0.Add(8 * time.Second))
	none()
	tb.expireAt(t0.Add(8*time.Second + time.Millisecond))
	if ev := next(); ev.Kind != Leave {
		t.Fatalf("expiry: %v", ev.Kind)
	}
	if got := tb.ignoredCopy(); got["replayed"] != 2 {
		t.Fatalf("ignored %v", got)
	}
	if tb.duplicates.Load() != 1 {
		t.Fatalf("duplicates %d", tb.duplicates.Load())
	}
}

func wire(t *testing.T, m *dns.Msg) *dns.Msg {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var out dns.Msg
	if err := out.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return &out
}

func packed(t *testing.T, m *dns.Msg) []sighting {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	sg, err := sightings(b, ServiceType)
	if err != nil {
		t.Fatal(err)
	}
	return sg
}

func TestResponderAnswersAndBrowserReads(t *testing.T) {
	sitePub, mk := newSite(t)
	a := mk("box.a")
	txt := a.txt(t0)
	console := []string{"path=/"}
	r := newResponder("box.a",
		published{typ: ServiceType, port: 8444, txt: func() []string { return txt }},
		published{typ: HTTPServiceType, port: 8080, txt: func() []string { return console }})
	ips := []net.IP{net.IPv4(10, 0, 0, 2)}
	for _, tc := range []struct {
		name   string
		q      *dns.Msg
		legacy bool
		want   []string // record types and names in the answer section
	}{
		{"browse outpost", query(ServiceType), false, []string{"PTR _outpost._tcp.local."}},
		{"browse http", query(HTTPServiceType), false, []string{"PTR _http._tcp.local."}},
		{"service enumeration", query(servicesMeta), false, []string{"PTR _services._dns-sd._udp.local.", "PTR _services._dns-sd._udp.local."}},
		{"instance TXT", func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("Outpost-Box-A._outpost._tcp.local.", dns.TypeTXT)
			return m
		}(), false, []string{"TXT outpost-box-a._outpost._tcp.local."}},
		{"host A, legacy unicast", func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("outpost-box-a.local.", dns.TypeA)
			return m
		}(), true, []string{"A outpost-box-a.local."}},
		{"someone else", func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("_printer._tcp.local.", dns.TypePTR)
			return m
		}(), false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := r.answer(wire(t, tc.q), ips, tc.legacy)
			var got []string
			if resp != nil {
				resp = wire(t, resp)
				for _, rr := range resp.Answer {
					got = append(got, dns.TypeToString[rr.Header().Rrtype]+" "+rr.Header().Name)
				}
				if tc.legacy && (resp.Id != tc.q.Id || len(resp.Question) != 1 || resp.Answer[0].Header().Ttl != legacyTTL) {
					t.Errorf("legacy answer must echo id and question with short TTLs: %v", resp)
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("answers (-want +got):\n%s", d)
			}
		})
	}
	// A browse answer carries the TXT in its extra section; the browser reads it back.
	sg := packed(t, r.answer(query(ServiceType), ips, false))
	if len(sg) != 1 || sg[0].goodbye {
		t.Fatalf("sightings %+v", sg)
	}
	rec, err := ParseTXT(sg[0].txt)
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Verify(sitePub, "branch-042", t0, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// Goodbye: every record with TTL 0.
	bye := packed(t, r.announcement(ips, 0))
	if len(bye) == 0 || !bye[0].goodbye {
		t.Fatalf("goodbye sightings %+v", bye)
	}
}

func FuzzParseTXT(f *testing.F) {
	sitePub, mk := newSite(f)
	good := mk("box-a").txt(t0)
	f.Add(strings.Join(good, "\n"))
	f.Add(strings.Join(drop(good, "sig="), "\n"))
	f.Add("txtvers=1\nsite=s\nbox=b\nport=1\nload=0\nts=0\nnonce=0011223344556677\nc0=\nsig=")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseTXT(strings.Split(s, "\n"))
		if err != nil {
			return
		}
		_ = r.Verify(sitePub, "branch-042", t0, 30*time.Second)
	})
}

// FuzzSightings feeds arbitrary packets through the same path as the socket.
func FuzzSightings(f *testing.F) {
	_, mk := newSite(f)
	txt := mk("box-a").txt(t0)
	r := newResponder("box-a", published{typ: ServiceType, port: 8444, txt: func() []string { return txt }})
	ann, _ := r.announcement([]net.IP{net.IPv4(10, 0, 0, 2)}, recordTTL).Pack()
	f.Add(ann)
	q, _ := query(ServiceType).Pack()
	f.Add(q)
	if h, err := os.ReadFile("testdata/python-zeroconf-0.47-answer-with-nsec.hex"); err == nil {
		b, _ := hex.DecodeString(strings.TrimSpace(string(h)))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sg, _ := sightings(b, ServiceType)
		for _, x := range sg {
			ParseTXT(x.txt)
		}
		var m dns.Msg
		if m.Unpack(b) == nil {
			r.answer(&m, nil, false)
		}
	})
}

// TestSightingsFromPythonZeroconf reads a browse answer captured from python-zeroconf
// 0.47.3 (Debian) in a network namespace: PTR in the answer, SRV, TXT, A and an NSEC
// with an empty bitmap in the additionals (which miekg/dns v1.1.27 refuses to unpack).
func TestSightingsFromPythonZeroconf(t *testing.T) {
	h, err := os.ReadFile("testdata/python-zeroconf-0.47-answer-with-nsec.hex")
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(h)))
	if err != nil {
		t.Fatal(err)
	}
	sg, err := sightings(b, ServiceType)
	if err != nil {
		t.Fatal(err)
	}
	want := []sighting{{instance: "outpost-rogue-unsigned._outpost._tcp.local.",
		txt: []string{"txtvers=1", "site=s", "box=box-8", "port=8444"}}}
	if d := cmp.Diff(want, sg, cmp.AllowUnexported(sighting{})); d != "" {
		t.Fatalf("sightings (-want +got):\n%s", d)
	}
	if _, err := ParseTXT(sg[0].txt); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("ParseTXT = %v, want ErrUnsigned", err)
	}
}
