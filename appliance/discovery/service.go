package discovery

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"

	"github.com/outpost-ecdn/outpost/appliance/identity"
)

// Config configures a Service. Zero durations take the defaults noted.
type Config struct {
	Site          string
	SitePublicKey ed25519.PublicKey
	Key           ed25519.PrivateKey    // the box key
	Cert          *identity.Certificate // certifies Key for Site
	Version, Role string                // advertised; Role empty means "edge"
	Port          int                   // sibling TLS port (advertised)
	// HTTPPort is the console's port for the "_http._tcp" record; 0 means none.
	HTTPPort int
	// Interfaces are the LAN interfaces to advertise and browse on (never the WAN
	// port); empty means every up, multicast, non-loopback interface.
	Interfaces []string
	// ExpireAfter drops a box silent for this long; 0 means 6s. The box announces
	// itself every third of it.
	ExpireAfter time.Duration
	// Window is how far a record's timestamp may be from now; 0 means 30s.
	Window time.Duration
	// Load reports the box's current load for its record; nil means 0.
	Load func() int
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Stats are the service's counters.
type Stats struct {
	Accepted      int64            `json:"accepted"`       // records accepted
	Duplicates    int64            `json:"duplicates"`     // exact repeats of an accepted record
	Ignored       map[string]int64 `json:"ignored"`        // rejected records by reason
	Announcements int64            `json:"announcements"`  // announcements sent
	Answers       int64            `json:"answers"`        // queries answered
	PacketsIn     int64            `json:"packets_in"`     // mDNS packets received on LAN interfaces
	DroppedEvents int64            `json:"dropped_events"` // events a slow subscriber missed
}

// Status is the discovery part of /api/v1/status.
type Status struct {
	Self       string   `json:"self"`
	Interfaces []string `json:"interfaces"`
	Peers      []Peer   `json:"peers"`
	Stats      Stats    `json:"stats"`
}

// Service advertises this box and keeps the table of its siblings.
type Service struct {
	cfg    Config
	log    *slog.Logger
	table  *table
	resp   *responder
	fields Fields

	txt       atomic.Pointer[[]string]
	lastStamp time.Time // loop goroutine only
	instances sync.Map  // instance name -> box id
	ifaces    []net.Interface

	conn   *ipv4.PacketConn
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	announcements, answers, packetsIn atomic.Int64
}

// New checks cfg and builds a Service; nothing is sent until Start.
func New(cfg Config) (*Service, error) {
	if cfg.ExpireAfter <= 0 {
		cfg.ExpireAfter = 6 * time.Second
	}
	if cfg.Window <= 0 {
		cfg.Window = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Role == "" {
		cfg.Role = "edge"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Cert == nil || len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("discovery: a box key and certificate are required")
	}
	if err := cfg.Cert.Verify(cfg.SitePublicKey, cfg.Site, cfg.Now()); err != nil {
		return nil, fmt.Errorf("discovery: own certificate: %w", err)
	}
	if !cfg.Cert.BoxKey.Equal(cfg.Key.Public()) {
		return nil, errors.New("discovery: the certificate was issued for another box key")
	}
	s := &Service{cfg: cfg, log: cfg.Logger, table: newTable(cfg.ExpireAfter),
		fields: Fields{Site: cfg.Site, Box: cfg.Cert.BoxID, Version: cfg.Version, Role: cfg.Role, Port: cfg.Port}}
	services := []published{{typ: ServiceType, port: cfg.Port, txt: func() []string { return *s.txt.Load() }}}
	if cfg.HTTPPort > 0 {
		console := []string{"path=/", "site=" + cfg.Site, "box=" + cfg.Cert.BoxID}
		services = append(services, published{typ: HTTPServiceType, port: cfg.HTTPPort, txt: func() []string { return console }})
	}
	s.resp = newResponder(cfg.Cert.BoxID, services...)
	s.sign()
	return s, nil
}

// Self is this box's id.
func (s *Service) Self() string { return s.fields.Box }

// sign refreshes the advertised record with a new timestamp; strictly increasing
// so that receivers never take a fresh record for a replay.
func (s *Service) sign() {
	ts := s.cfg.Now().Truncate(time.Millisecond)
	if !ts.After(s.lastStamp) {
		ts = s.lastStamp.Add(time.Millisecond)
	}
	s.lastStamp = ts
	f := s.fields
	if s.cfg.Load != nil {
		f.Load = max(0, s.cfg.Load())
	}
	txt := SignTXT(f, s.cfg.Key, s.cfg.Cert, ts)
	s.txt.Store(&txt)
}

// Start opens the mDNS socket on the LAN interfaces and starts advertising and
// browsing until Close or the end of ctx.
func (s *Service) Start(ctx context.Context) error {
	ifaces, err := lanInterfaces(s.cfg.Interfaces)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	s.ifaces = ifaces
	// 224.0.0.0:5353 makes Go bind the wildcard address with SO_REUSEADDR, so other
	// mDNS stacks on the host keep working.
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(224, 0, 0, 0), Port: 5353})
	if err != nil {
		return fmt.Errorf("discovery: listen udp 5353: %w", err)
	}
	conn := ipv4.NewPacketConn(c)
	if err := conn.SetControlMessage(ipv4.FlagInterface, true); err != nil {
		conn.Close()
		return fmt.Errorf("discovery: control messages: %w", err)
	}
	conn.SetMulticastTTL(255)
	conn.SetMulticastLoopback(true)
	var joined []string
	for i := range ifaces {
		if err := conn.JoinGroup(&ifaces[i], &net.UDPAddr{IP: mdnsGroup.IP}); err != nil {
			s.log.Warn("mdns: join group failed", "iface", ifaces[i].Name, "err", err)
			continue
		}
		joined = append(joined, ifaces[i].Name)
	}
	if len(joined) == 0 {
		conn.Close()
		return fmt.Errorf("discovery: join 224.0.0.251 on %v: %w", s.cfg.Interfaces, ErrNoInterfaces)
	}
	s.conn = conn
	ctx, s.cancel = context.WithCancel(ctx)
	s.log.Info("mdns: advertising and browsing", "service", ServiceType, "box", s.Self(), "interfaces", joined)
	s.wg.Add(2)
	go s.recvLoop()
	go s.tickLoop(ctx)
	return nil
}

var mdnsGroup = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}

// Close says goodbye and stops; safe to call more than once and without Start.
func (s *Service) Close() error {
	s.once.Do(func() {
		defer s.table.closeSubs()
		if s.conn == nil {
			return
		}
		s.cancel()
		s.sendAll(func(ips []net.IP) *dns.Msg { return s.resp.announcement(ips, 0) })
		s.conn.Close()
		s.wg.Wait()
	})
	return nil
}

func (s *Service) tickLoop(ctx context.Context) {
	defer s.wg.Done()
	every := max(s.cfg.ExpireAfter/3, 100*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	// Announce right away and query, then announce once more a second later
	// (RFC 6762 8.3), then every tick; query again every 10 ticks.
	s.announce()
	s.sendAll(func([]net.IP) *dns.Msg { return query(ServiceType) })
	second := time.After(time.Second)
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-second:
			s.announce()
		case <-t.C:
			s.sign()
			s.announce()
			if n%10 == 0 {
				s.sendAll(func([]net.IP) *dns.Msg { return query(ServiceType) })
			}
			s.table.expireAt(s.cfg.Now())
		}
	}
}

func (s *Service) announce() {
	s.announcements.Add(1)
	s.sendAll(func(ips []net.IP) *dns.Msg { return s.resp.announcement(ips, recordTTL) })
}

// sendAll multicasts the message build returns on every LAN interface.
func (s *Service) sendAll(build func(ips []net.IP) *dns.Msg) {
	for i := range s.ifaces {
		m := build(ifaceIPv4(&s.ifaces[i]))
		if err := s.send(m, s.ifaces[i].Index, mdnsGroup); err != nil {
			s.log.Debug("mdns: send failed", "iface", s.ifaces[i].Name, "err", err)
		}
	}
}

func (s *Service) send(m *dns.Msg, ifIndex int, to *net.UDPAddr) error {
	m.Compress = true
	b, err := m.Pack()
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	_, err = s.conn.WriteTo(b, &ipv4.ControlMessage{IfIndex: ifIndex}, to)
	return err
}

func (s *Service) recvLoop() {
	defer s.wg.Done()
	buf := make([]byte, 9000)
	for {
		n, cm, src, err := s.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if cm == nil {
			continue
		}
		iface := s.iface(cm.IfIndex)
		if iface == nil {
			continue // not a LAN interface we serve (e.g. the WAN port)
		}
		udp, ok := src.(*net.UDPAddr)
		if !ok {
			continue
		}
		s.packetsIn.Add(1)
		pkt := buf[:n]
		if isResponse(pkt) {
			addr, ok := netip.AddrFromSlice(udp.IP)
			if !ok {
				continue
			}
			sg, err := sightings(pkt, ServiceType)
			if err != nil {
				s.log.Debug("mdns: undecodable response", "from", udp, "err", err)
			}
			s.ingest(sg, addr.Unmap()) // what parsed before an error still counts
			continue
		}
		var m dns.Msg
		if err := m.Unpack(pkt); err != nil {
			s.log.Debug("mdns: undecodable query", "from", udp, "err", err)
			continue
		}
		s.answerQuery(&m, iface, udp)
	}
}

func (s *Service) iface(index int) *net.Interface {
	for i := range s.ifaces {
		if s.ifaces[i].Index == index {
			return &s.ifaces[i]
		}
	}
	return nil
}

func (s *Service) answerQuery(m *dns.Msg, iface *net.Interface, src *net.UDPAddr) {
	legacy := src.Port != 5353
	r := s.resp.answer(m, ifaceIPv4(iface), legacy)
	if r == nil {
		return
	}
	s.answers.Add(1)
	to := mdnsGroup
	if legacy || unicastRequested(m) {
		to = src
	}
	s.send(r, iface.Index, to)
}

func unicastRequested(m *dns.Msg) bool {
	for _, q := range m.Question {
		if q.Qclass&cacheFlush == 0 {
			return false
		}
	}
	return true
}

// ingest applies the sibling records of one response heard from addr.
func (s *Service) ingest(found []sighting, addr netip.Addr) {
	now := s.cfg.Now()
	for _, sg := range found {
		if sg.goodbye {
			if box, ok := s.instances.Load(sg.instance); ok && s.table.goodbye(box.(string), addr) {
				s.log.Info("sibling said goodbye", "box", box)
			}
			continue
		}
		r, err := ParseTXT(sg.txt)
		if err == nil && r.Box == s.Self() {
			continue // our own record, looped back
		}
		if err == nil {
			err = r.Verify(s.cfg.SitePublicKey, s.cfg.Site, now, s.cfg.Window)
		}
		if err != nil {
			s.table.ignore(err)
			s.log.Debug("sibling record ignored", "from", addr, "instance", sg.instance, "reason", reason(err), "err", err)
			continue
		}
		s.instances.Store(sg.instance, r.Box)
		s.table.observe(r, addr, now)
	}
}

// Peers is the whole table, sorted by box id.
func (s *Service) Peers() []Peer { return s.table.all() }

// Healthy are the healthy siblings (not this box), sorted by box id; cheap enough
// to call per request.
func (s *Service) Healthy() []Peer { return *s.table.healthy.Load() }

// PeerByKey finds a sibling in the table (healthy or not) by its certified key.
func (s *Service) PeerByKey(pub ed25519.PublicKey) (Peer, bool) { return s.table.byKey(pub) }

// ReportFailure marks a sibling unhealthy (e.g. its listener refused a fetch) until
// it advertises again.
func (s *Service) ReportFailure(box string) { s.table.reportFailure(box, s.cfg.Now()) }

// Subscribe returns a channel of table events with room for buf; events a slow
// subscriber has no room for are dropped and counted. cancel ends the subscription
// and closes the channel (Close does too).
func (s *Service) Subscribe(buf int) (events <-chan Event, cancel func()) {
	return s.table.subscribe(buf)
}

// Stats returns the counters.
func (s *Service) Stats() Stats {
	return Stats{Accepted: s.table.accepted.Load(), Duplicates: s.table.duplicates.Load(),
		Ignored: s.table.ignoredCopy(), Announcements: s.announcements.Load(), Answers: s.answers.Load(),
		PacketsIn: s.packetsIn.Load(), DroppedEvents: s.table.dropped.Load()}
}

// Status is the table and counters for /api/v1/status.
func (s *Service) Status() Status {
	st := Status{Self: s.Self(), Peers: s.Peers(), Stats: s.Stats()}
	for _, i := range s.ifaces {
		st.Interfaces = append(st.Interfaces, i.Name)
	}
	return st
}

// lanInterfaces resolves names, or picks every up multicast non-loopback interface.
func lanInterfaces(names []string) ([]net.Interface, error) {
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var out []net.Interface
	for _, i := range all {
		if len(names) > 0 {
			if slices.Contains(names, i.Name) {
				out = append(out, i)
			}
			continue
		}
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagMulticast != 0 && i.Flags&net.FlagLoopback == 0 {
			out = append(out, i)
		}
	}
	if len(names) > 0 && len(out) != len(names) {
		return nil, fmt.Errorf("interfaces %v: some do not exist: %w", names, ErrNoInterfaces)
	}
	if len(out) == 0 {
		return nil, ErrNoInterfaces
	}
	return out, nil
}

func ifaceIPv4(i *net.Interface) []net.IP {
	addrs, _ := i.Addrs()
	var out []net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			out = append(out, n.IP.To4())
		}
	}
	return out
}
