package netup

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ethernet picks the links Run configures: Ethernet devices (not bridges,
// veths or tunnels). Tests swap it to take a veth.
var ethernet = func(l netlink.Link) bool {
	return l.Attrs().EncapType == "ether" && l.Type() == "device"
}

// Config configures Run.
type Config struct {
	Hostname   string
	ResolvConf string // path written with the DNS servers; empty: not written
	// FallbackAfter is how long a link waits for DHCP before it also takes a
	// link-local address; zero means 10 s.
	FallbackAfter time.Duration
	Static        *Static // nil: DHCP on every link
	Log           *slog.Logger
	// OnChange receives every link's status after each change. It must not block.
	OnChange func([]LinkStatus)
}

type runner struct {
	cfg   Config
	mu    sync.Mutex
	links map[string]*LinkStatus
}

// Run brings up loopback and every Ethernet link and keeps them configured until
// ctx ends. Links that appear later (a USB adapter) are picked up within seconds.
func Run(ctx context.Context, cfg Config) {
	if cfg.FallbackAfter == 0 {
		cfg.FallbackAfter = 10 * time.Second
	}
	r := &runner{cfg: cfg, links: map[string]*LinkStatus{}}
	if lo, err := netlink.LinkByName("lo"); err == nil {
		if err := netlink.LinkSetUp(lo); err != nil {
			cfg.Log.Error("net: loopback up", "err", err)
		}
	}
	started := map[string]bool{}
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	// Link events (carrier up/down, new links) arrive at once; the ticker is the
	// fallback when the subscription fails or misses one.
	updates := make(chan netlink.LinkUpdate, 16)
	done := make(chan struct{})
	defer close(done)
	if err := netlink.LinkSubscribe(updates, done); err != nil {
		cfg.Log.Warn("net: no link events; polling every 5 s", "err", err)
		updates = nil
	}
	for {
		links, err := netlink.LinkList()
		if err != nil {
			cfg.Log.Error("net: list links", "err", err)
		}
		// Sorted by index, so "the first Ethernet link" is stable.
		slices.SortFunc(links, func(a, b netlink.Link) int { return a.Attrs().Index - b.Attrs().Index })
		for _, l := range links {
			a := l.Attrs()
			if !ethernet(l) {
				continue
			}
			if started[a.Name] {
				r.carrier(a) // cable plugged or pulled since the last look
				continue
			}
			started[a.Name] = true
			st := &LinkStatus{Name: a.Name, MAC: a.HardwareAddr.String(), Mode: ModeWaiting}
			r.mu.Lock()
			r.links[a.Name] = st
			r.mu.Unlock()
			static := cfg.Static
			if static != nil && static.Interface != "" && static.Interface != a.Name {
				static = nil
			}
			if static != nil && static.Interface == "" && len(started) > 1 {
				static = nil // the first link only
			}
			go r.link(ctx, l, static)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case u, ok := <-updates:
			if !ok {
				updates = nil // closed on error: polling only from now on
				continue
			}
			if a := u.Link.Attrs(); started[a.Name] {
				r.carrier(a)
				continue // a known link changed state: nothing to start
			}
		}
	}
}

// carrier records whether the link has a carrier (a cable to a live port),
// reporting only changes.
func (r *runner) carrier(a *netlink.LinkAttrs) {
	up := a.RawFlags&unix.IFF_LOWER_UP != 0
	r.mu.Lock()
	st := r.links[a.Name]
	changed := st != nil && st.Carrier != up
	r.mu.Unlock()
	if changed {
		r.cfg.Log.Info("net: carrier", "link", a.Name, "up", up)
		r.update(a.Name, func(s *LinkStatus) { s.Carrier = up })
	}
}

// update changes one link's status and reports every link's. OnChange runs
// under the lock: two links (or a link's goroutine and a carrier event) must
// not deliver their snapshots out of order, or an older one would win.
func (r *runner) update(name string, f func(*LinkStatus)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.links[name])
	var all []LinkStatus
	for _, st := range r.links {
		all = append(all, *st)
	}
	slices.SortFunc(all, func(a, b LinkStatus) int {
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
	if r.cfg.OnChange != nil {
		r.cfg.OnChange(all)
	}
}

func (r *runner) link(ctx context.Context, l netlink.Link, static *Static) {
	name := l.Attrs().Name
	log := r.cfg.Log.With("link", name)
	if err := netlink.LinkSetUp(l); err != nil {
		log.Error("net: link up", "err", err)
		r.update(name, func(s *LinkStatus) { s.Problem = "cannot bring link up: " + err.Error() })
		return
	}
	if static != nil {
		r.static(l, static, log)
		return
	}
	r.dhcp(ctx, l, log)
}

func (r *runner) static(l netlink.Link, s *Static, log *slog.Logger) {
	name := l.Attrs().Name
	p := netip.MustParsePrefix(s.Address)
	if err := netlink.AddrReplace(l, &netlink.Addr{IPNet: ipnet(p)}); err != nil {
		log.Error("net: static address", "addr", p, "err", err)
		r.update(name, func(st *LinkStatus) { st.Problem = "static address: " + err.Error() })
		return
	}
	var dns []netip.Addr
	for _, a := range s.DNS {
		dns = append(dns, netip.MustParseAddr(a))
	}
	var gw netip.Addr
	if s.Gateway != "" {
		gw = netip.MustParseAddr(s.Gateway)
	}
	r.route(l, gw, log)
	r.resolv(dns, "", log)
	log.Info("net: static address", "addr", p, "gateway", s.Gateway)
	r.update(name, func(st *LinkStatus) {
		st.Mode, st.Addr, st.Router, st.DNS, st.NTP, st.Problem = ModeStatic, p.String(), s.Gateway, s.DNS, s.NTP, ""
	})
}

func ipnet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func (r *runner) route(l netlink.Link, gw netip.Addr, log *slog.Logger) {
	if !gw.IsValid() {
		return
	}
	rt := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: gw.AsSlice(), Priority: 100 + l.Attrs().Index}
	if err := netlink.RouteReplace(rt); err != nil {
		log.Error("net: default route", "via", gw, "err", err)
	}
}

func (r *runner) resolv(dns []netip.Addr, domain string, log *slog.Logger) {
	if r.cfg.ResolvConf == "" || len(dns) == 0 {
		return
	}
	if err := writeAtomic(r.cfg.ResolvConf, ResolvConf(dns, domain)); err != nil {
		log.Error("net: write resolv.conf", "err", err)
	}
}

func strs(as []netip.Addr) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

// dhcp runs the lease life cycle forever: acquire, renew at T1, rebind at T2,
// start over at expiry. While nothing answers it keeps a link-local address.
func (r *runner) dhcp(ctx context.Context, l netlink.Link, log *slog.Logger) {
	name, hw := l.Attrs().Name, l.Attrs().HardwareAddr
	var linkLocal netip.Prefix
	fallback := time.AfterFunc(r.cfg.FallbackAfter, func() {
		p := LinkLocal(hw, 0)
		if err := netlink.AddrReplace(l, &netlink.Addr{IPNet: ipnet(p), Scope: unix.RT_SCOPE_LINK}); err != nil {
			log.Error("net: link-local address", "err", err)
			return
		}
		r.mu.Lock()
		linkLocal = p
		r.mu.Unlock()
		log.Warn("net: NO DHCP ANSWER: using a link-local address while DHCP keeps trying", "addr", p, "after", r.cfg.FallbackAfter)
		r.update(name, func(s *LinkStatus) { s.Mode, s.Addr = ModeLinkLocal, p.String() })
	})
	defer fallback.Stop()

	failures := 0
	for ctx.Err() == nil {
		lease, err := dhcpAcquire(ctx, name, hw, r.cfg.Hostname)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			if failures == 1 || failures%10 == 0 {
				log.Warn("net: DHCP failed", "err", err, "failures", failures)
			}
			r.update(name, func(s *LinkStatus) { s.Problem = dhcpProblem(err) })
			if !sleep(ctx, min(time.Duration(failures)*2*time.Second, 30*time.Second)) {
				return
			}
			continue
		}
		failures = 0
		fallback.Stop()
		r.mu.Lock()
		ll := linkLocal
		linkLocal = netip.Prefix{}
		r.mu.Unlock()
		if ll.IsValid() {
			netlink.AddrDel(l, &netlink.Addr{IPNet: ipnet(ll)})
		}
		r.keep(ctx, l, lease, log)
	}
}

// keep applies the lease and renews it until it cannot, then removes it.
func (r *runner) keep(ctx context.Context, l netlink.Link, lease lease, log *slog.Logger) {
	name, hw := l.Attrs().Name, l.Attrs().HardwareAddr
	for {
		secs := int(lease.Duration / time.Second)
		if lease.Duration >= infinite {
			secs = 0 // no lifetime: the address stays
		}
		addr := &netlink.Addr{IPNet: ipnet(lease.Addr), ValidLft: secs, PreferedLft: secs}
		if err := netlink.AddrReplace(l, addr); err != nil {
			log.Error("net: set DHCP address", "addr", lease.Addr, "err", err)
		}
		r.route(l, lease.Router, log)
		r.resolv(lease.DNS, lease.Domain, log)
		log.Info("net: DHCP lease", "addr", lease.Addr, "router", lease.Router, "dns", lease.DNS, "ntp", lease.NTP,
			"server", lease.Server, "lease", lease.Duration, "t1", lease.T1, "t2", lease.T2)
		r.update(name, func(s *LinkStatus) {
			s.Mode, s.Addr, s.DNS, s.NTP, s.Expiry, s.Problem = ModeDHCP, lease.Addr.String(), strs(lease.DNS), strs(lease.NTP), lease.Expiry(), ""
			s.Router = ""
			if lease.Router.IsValid() {
				s.Router = lease.Router.String()
			}
		})
		renewed := false
		for !renewed {
			now := time.Now()
			var next time.Time
			var rebind bool
			switch {
			case now.Before(lease.Acquired.Add(lease.T1)):
				next = lease.Acquired.Add(lease.T1)
			case now.Before(lease.Acquired.Add(lease.T2)):
				next = now.Add(min(time.Minute, lease.Acquired.Add(lease.T2).Sub(now)))
			case now.Before(lease.Expiry()):
				next, rebind = now.Add(min(time.Minute, lease.Expiry().Sub(now))), true
			default:
				log.Warn("net: DHCP lease expired", "addr", lease.Addr)
				netlink.AddrDel(l, &netlink.Addr{IPNet: ipnet(lease.Addr)})
				r.update(name, func(s *LinkStatus) { s.Mode, s.Addr, s.Problem = ModeWaiting, "", "DHCP lease expired" })
				return
			}
			if !sleep(ctx, time.Until(next)) {
				return
			}
			// Past T1 renew; past T2 rebind (the time may have moved while asleep).
			rebind = rebind || !time.Now().Before(lease.Acquired.Add(lease.T2))
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			nl, err := dhcpRenew(rctx, name, hw, r.cfg.Hostname, lease, rebind)
			cancel()
			var nak *nclient4.ErrNak
			switch {
			case errors.As(err, &nak):
				log.Warn("net: DHCP server refused the renewal", "addr", lease.Addr, "msg", nak.Nak.Message())
				netlink.AddrDel(l, &netlink.Addr{IPNet: ipnet(lease.Addr)})
				r.update(name, func(s *LinkStatus) { s.Mode, s.Addr, s.Problem = ModeWaiting, "", dhcpProblem(err) })
				return
			case err != nil:
				if ctx.Err() != nil {
					return
				}
				log.Warn("net: DHCP renewal failed", "addr", lease.Addr, "rebind", rebind, "err", err)
			default:
				if nl.Addr != lease.Addr {
					netlink.AddrDel(l, &netlink.Addr{IPNet: ipnet(lease.Addr)})
				}
				lease, renewed = nl, true
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
