package shaper

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Defaults for zero Config fields.
const (
	// DefaultMark is the fwmark of the box's origin sockets ("OP").
	DefaultMark uint32 = 0x4f50
	// DefaultIFB names the ingress shaping device.
	DefaultIFB = "ifb-outpost"
	// maxMbps bounds configured rates (100 Gbit/s).
	maxMbps = 100_000
)

// Leaf qdisc kinds.
const (
	LeafAuto    = ""         // fq_codel, or pfifo when the kernel lacks fq_codel
	LeafFQCodel = "fq_codel" // fq_codel or an ErrUnsupportedKind error
	LeafPFIFO   = "pfifo"
)

// Config describes the tree the shaper keeps on the WAN interface.
type Config struct {
	// Interface is the WAN interface, e.g. "wan0" (required).
	Interface string
	// LinkMbps is the WAN uplink rate in Mbit/s: the parent class's rate and ceil
	// (required, > 0).
	LinkMbps float64
	// VideoMbps caps the box's own video traffic in Mbit/s, the same budget as the
	// in-process token bucket (wan.max_mbps). Required, > 0 and below the link
	// rate: the default class gets rate link-video and may borrow up to the link.
	VideoMbps float64
	// Mark is the fwmark the box sets on its origin sockets (see MarkDialer); egress
	// packets carrying it go to the video class. 0 means DefaultMark.
	Mark uint32
	// Origins are the configured origins' addresses and ports. Egress packets to
	// them, and ingress packets from them, go to the video class (u32 matches:
	// marks do not exist on received packets). Nil means marks only.
	Origins []Endpoint
	// Ingress also shapes received traffic: an ingress qdisc on Interface redirects
	// every packet (mirred) to an IFB device that carries the same HTB tree.
	Ingress bool
	// IngressLinkMbps is the downlink rate for the ingress tree; 0 means LinkMbps.
	IngressLinkMbps float64
	// IFB names the ingress device; "" means DefaultIFB.
	IFB string
	// Leaf is the qdisc under each class: LeafAuto (""), LeafFQCodel or LeafPFIFO.
	Leaf string
	// ReplaceForeign lets Apply replace a root or ingress qdisc that the box did not
	// install. False (the default) refuses with ErrForeignQdisc.
	ReplaceForeign bool
	// NetNS is the path of the network namespace to work in (/run/netns/NAME); ""
	// means the process's own.
	NetNS string
	// Logger receives changes and fallbacks; nil discards.
	Logger *slog.Logger
}

// Endpoint matches addresses in Prefix and, unless Port is 0, one TCP/UDP port.
type Endpoint struct {
	Prefix netip.Prefix
	Port   uint16
}

func (e Endpoint) String() string {
	if e.Port == 0 {
		return e.Prefix.String()
	}
	return e.Prefix.String() + " port " + strconv.Itoa(int(e.Port))
}

func (c Config) withDefaults() Config {
	if c.Mark == 0 {
		c.Mark = DefaultMark
	}
	if c.IFB == "" {
		c.IFB = DefaultIFB
	}
	if c.IngressLinkMbps == 0 {
		c.IngressLinkMbps = c.LinkMbps
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Origins = slices.Clone(c.Origins)
	for i, e := range c.Origins {
		c.Origins[i].Prefix = e.Prefix.Masked()
	}
	return c
}

// Validate reports the first problem of c (after defaults) as an ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	ifname := func(key, name string) error {
		if name == "" || len(name) > 15 || strings.ContainsAny(name, "/: \t\n") {
			return bad("%s %q: want an interface name of 1 to 15 characters", key, name)
		}
		return nil
	}
	if err := ifname("interface", c.Interface); err != nil {
		return err
	}
	rate := func(key string, v float64) error {
		if !(v > 0) || v > maxMbps || math.IsNaN(v) {
			return bad("%s %v: want Mbit/s above 0 and at most %d", key, v, maxMbps)
		}
		return nil
	}
	for _, r := range []struct {
		key string
		v   float64
	}{{"link_mbps", c.LinkMbps}, {"video_mbps", c.VideoMbps}, {"ingress_link_mbps", c.IngressLinkMbps}} {
		if err := rate(r.key, r.v); err != nil {
			return err
		}
	}
	if mbpsToBits(c.VideoMbps) >= mbpsToBits(c.LinkMbps) {
		return bad("video_mbps %v must be below link_mbps %v (the rest of the traffic needs a share)", c.VideoMbps, c.LinkMbps)
	}
	if c.Ingress {
		if mbpsToBits(c.VideoMbps) >= mbpsToBits(c.IngressLinkMbps) {
			return bad("video_mbps %v must be below ingress_link_mbps %v", c.VideoMbps, c.IngressLinkMbps)
		}
		if err := ifname("ifb", c.IFB); err != nil {
			return err
		}
		if c.IFB == c.Interface {
			return bad("ifb %q is the WAN interface", c.IFB)
		}
	}
	switch c.Leaf {
	case LeafAuto, LeafFQCodel, LeafPFIFO:
	default:
		return bad("leaf %q: want %q, %q or empty", c.Leaf, LeafFQCodel, LeafPFIFO)
	}
	for i, e := range c.Origins {
		if !e.Prefix.IsValid() {
			return bad("origins[%d]: no address", i)
		}
	}
	return nil
}

func mbpsToBits(mbps float64) uint64 { return uint64(math.Round(mbps * 1e6)) }

// OriginEndpoints resolves origin base URLs (http/https) into endpoints: every
// address of the host, with the URL's port or the scheme's default. r nil means
// net.DefaultResolver. CDN addresses change: resolve again from time to time and
// pass the result to Update.
func OriginEndpoints(ctx context.Context, r *net.Resolver, urls []string) ([]Endpoint, error) {
	if r == nil {
		r = net.DefaultResolver
	}
	seen := map[Endpoint]bool{}
	var out []Endpoint
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("origin %q: %w", raw, err)
		}
		port := u.Port()
		if port == "" {
			switch u.Scheme {
			case "http":
				port = "80"
			case "https":
				port = "443"
			default:
				return nil, fmt.Errorf("origin %q: scheme %q has no default port", raw, u.Scheme)
			}
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("origin %q: bad port %q", raw, port)
		}
		host := u.Hostname()
		addrs := []netip.Addr{}
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = append(addrs, a)
		} else {
			addrs, err = r.LookupNetIP(ctx, "ip", host)
			if err != nil {
				return nil, fmt.Errorf("resolve origin host %s: %w", host, err)
			}
		}
		for _, a := range addrs {
			a = a.Unmap()
			e := Endpoint{Prefix: netip.PrefixFrom(a, a.BitLen()), Port: uint16(p)}
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	return out, nil
}
