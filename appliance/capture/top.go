package capture

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// DefaultLAN are the prefixes TopTalkers treats as the branch LAN when none are
// configured: RFC 1918, shared address space (RFC 6598), IPv6 ULA and link-local.
var DefaultLAN = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
}

const (
	defaultWindow  = time.Minute
	defaultMaxKeys = 4096
	topSnaplen     = 128 // enough for Ethernet + IPv6 + TCP headers
	// OtherKey collects bytes of hosts or services beyond MaxKeys in one second.
	OtherKey = "other"
)

// TopTalkers counts the WAN interface's bytes per LAN host and per remote service
// (address, port and protocol) over a sliding window, from packet headers only. A
// packet counts when exactly one end is in the LAN: that end is the LAN host, the
// other end the remote service. Traffic between two LAN hosts, or between two
// remote ones, is ignored.
type TopTalkers struct {
	// Interface is the WAN interface Run captures on.
	Interface string
	// NetNS is the path of the namespace the interface lives in; "" means the
	// process's own.
	NetNS string
	// LAN are the branch prefixes; nil means DefaultLAN.
	LAN []netip.Prefix
	// Window is the period a snapshot covers; 0 means one minute.
	Window time.Duration
	// MaxKeys bounds distinct hosts and services kept per second (the rest count as
	// OtherKey); 0 means 4096.
	MaxKeys int
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	buckets []bucket // ring indexed by unix second % len
	parser  *gopacket.DecodingLayerParser
	eth     layers.Ethernet
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	decoded []gopacket.LayerType
	running bool
	lastErr error
}

type counter struct{ Bytes, Packets int64 }

type bucket struct {
	sec      int64
	hosts    map[netip.Addr]*counter
	services map[string]*counter
	total    counter
}

// Talker is one LAN host or remote service in a snapshot.
type Talker struct {
	Name          string  `json:"name"`
	Bytes         int64   `json:"bytes"`
	Packets       int64   `json:"packets"`
	BitsPerSecond float64 `json:"bits_per_second"`
}

// Top is a snapshot of the window, largest first.
type Top struct {
	Interface     string    `json:"interface"`
	WindowSeconds int       `json:"window_seconds"`
	Until         time.Time `json:"until"`
	Bytes         int64     `json:"bytes"`
	Packets       int64     `json:"packets"`
	LANHosts      []Talker  `json:"lan_hosts"`
	Services      []Talker  `json:"remote_services"`
	Running       bool      `json:"running"`
	Error         string    `json:"error,omitempty"`
}

func (t *TopTalkers) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *TopTalkers) window() time.Duration {
	if t.Window > 0 {
		return t.Window
	}
	return defaultWindow
}

func (t *TopTalkers) lan() []netip.Prefix {
	if t.LAN != nil {
		return t.LAN
	}
	return DefaultLAN
}

func (t *TopTalkers) inLAN(a netip.Addr) bool {
	for _, p := range t.lan() {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Run captures headers on Interface until ctx ends, feeding Observe. It returns
// the error that stopped it (nil when ctx ended).
func (t *TopTalkers) Run(ctx context.Context) error {
	s, err := Open(Options{Interface: t.Interface, NetNS: t.NetNS, Filter: "ip or ip6",
		Snaplen: topSnaplen, Duration: MaxDuration})
	if err != nil {
		t.setRunning(false, err)
		return fmt.Errorf("top talkers: %w", err)
	}
	defer s.Close()
	t.setRunning(true, nil)
	for ctx.Err() == nil { // each round is bounded by MaxDuration
		_, err := s.run(ctx, MaxDuration, func(data []byte, ci gopacket.CaptureInfo) (StopReason, error) {
			t.Observe(data, ci.Length, ci.Timestamp)
			return "", nil
		}, nil)
		if err != nil {
			t.setRunning(false, err)
			return fmt.Errorf("top talkers: %w", err)
		}
	}
	t.setRunning(false, nil)
	return nil
}

func (t *TopTalkers) setRunning(r bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.running, t.lastErr = r, err
}

// Observe counts one Ethernet frame of the given original length seen at time at.
// Frames that are not IP, or not between the LAN and the outside, are ignored.
func (t *TopTalkers) Observe(frame []byte, length int, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.parser == nil {
		t.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &t.eth, &t.ip4, &t.ip6, &t.tcp, &t.udp)
		t.parser.IgnoreUnsupported = true
		t.decoded = make([]gopacket.LayerType, 0, 4)
	}
	// Errors are expected for truncated payloads; the layers decoded so far count.
	_ = t.parser.DecodeLayers(frame, &t.decoded)
	var src, dst netip.Addr
	var proto string
	var sport, dport uint16
	for _, lt := range t.decoded {
		switch lt {
		case layers.LayerTypeIPv4:
			src, _ = netip.AddrFromSlice(t.ip4.SrcIP.To4())
			dst, _ = netip.AddrFromSlice(t.ip4.DstIP.To4())
			proto = strings.ToLower(t.ip4.Protocol.String())
		case layers.LayerTypeIPv6:
			src, _ = netip.AddrFromSlice(t.ip6.SrcIP)
			dst, _ = netip.AddrFromSlice(t.ip6.DstIP)
			proto = strings.ToLower(t.ip6.NextHeader.String())
		case layers.LayerTypeTCP:
			proto, sport, dport = "tcp", uint16(t.tcp.SrcPort), uint16(t.tcp.DstPort)
		case layers.LayerTypeUDP:
			proto, sport, dport = "udp", uint16(t.udp.SrcPort), uint16(t.udp.DstPort)
		}
	}
	if !src.IsValid() || !dst.IsValid() {
		return
	}
	var host, remote netip.Addr
	var rport uint16
	switch srcLAN, dstLAN := t.inLAN(src), t.inLAN(dst); {
	case srcLAN && !dstLAN:
		host, remote, rport = src, dst, dport
	case dstLAN && !srcLAN:
		host, remote, rport = dst, src, sport
	default:
		return
	}
	service := remote.String() + "/" + proto
	if proto == "tcp" || proto == "udp" {
		service = netip.AddrPortFrom(remote, rport).String() + "/" + proto
	}
	b := t.bucketAt(at)
	n := int64(length)
	b.total.Bytes += n
	b.total.Packets++
	max := t.MaxKeys
	if max <= 0 {
		max = defaultMaxKeys
	}
	hc := b.hosts[host]
	if hc == nil {
		if len(b.hosts) >= max {
			host = netip.Addr{} // the zero Addr stands for OtherKey
		}
		if hc = b.hosts[host]; hc == nil {
			hc = &counter{}
			b.hosts[host] = hc
		}
	}
	hc.Bytes += n
	hc.Packets++
	sc := b.services[service]
	if sc == nil {
		if len(b.services) >= max {
			service = OtherKey
		}
		if sc = b.services[service]; sc == nil {
			sc = &counter{}
			b.services[service] = sc
		}
	}
	sc.Bytes += n
	sc.Packets++
}

// bucketAt returns the bucket of at's second, recycling a stale one. Callers hold mu.
func (t *TopTalkers) bucketAt(at time.Time) *bucket {
	if at.IsZero() {
		at = t.now()
	}
	n := int(t.window()/time.Second) + 1
	if len(t.buckets) != n {
		t.buckets = make([]bucket, n)
	}
	sec := at.Unix()
	b := &t.buckets[int(sec%int64(n)+int64(n))%n]
	if b.sec != sec || b.hosts == nil {
		*b = bucket{sec: sec, hosts: map[netip.Addr]*counter{}, services: map[string]*counter{}}
	}
	return b
}

// Snapshot returns the n largest LAN hosts and remote services of the window
// (n <= 0 means 20).
func (t *TopTalkers) Snapshot(n int) Top {
	if n <= 0 {
		n = 20
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	win := t.window()
	from := now.Add(-win).Unix()
	hosts := map[string]*counter{}
	services := map[string]*counter{}
	top := Top{Interface: t.Interface, WindowSeconds: int(win / time.Second), Until: now, Running: t.running}
	if t.lastErr != nil {
		top.Error = t.lastErr.Error()
	}
	add := func(m map[string]*counter, k string, c *counter) {
		a := m[k]
		if a == nil {
			a = &counter{}
			m[k] = a
		}
		a.Bytes += c.Bytes
		a.Packets += c.Packets
	}
	for i := range t.buckets {
		b := &t.buckets[i]
		if b.hosts == nil || b.sec <= from || b.sec > now.Unix() {
			continue
		}
		top.Bytes += b.total.Bytes
		top.Packets += b.total.Packets
		for a, c := range b.hosts {
			k := OtherKey
			if a.IsValid() {
				k = a.String()
			}
			add(hosts, k, c)
		}
		for s, c := range b.services {
			add(services, s, c)
		}
	}
	secs := win.Seconds()
	list := func(m map[string]*counter) []Talker {
		out := make([]Talker, 0, len(m))
		for k, c := range m {
			out = append(out, Talker{Name: k, Bytes: c.Bytes, Packets: c.Packets, BitsPerSecond: float64(c.Bytes) * 8 / secs})
		}
		slices.SortFunc(out, func(a, b Talker) int {
			if c := cmp.Compare(b.Bytes, a.Bytes); c != 0 {
				return c
			}
			return strings.Compare(a.Name, b.Name)
		})
		if len(out) > n {
			out = out[:n]
		}
		return out
	}
	top.LANHosts = list(hosts)
	top.Services = list(services)
	return top
}
