package tracker

import (
	"log/slog"
	"net/netip"
	"time"
)

// Mode decides who gets a browser's offers.
type Mode int

const (
	// ModeStar relays offers only to super-peers (the box): browsers never
	// connect to each other, so no browser can feed another bad segments.
	ModeStar Mode = iota
	// ModeMesh relays offers to super-peers first, then to other browsers of the
	// same peer group.
	ModeMesh
)

func (m Mode) String() string {
	if m == ModeMesh {
		return "mesh"
	}
	return "star"
}

// Access is what a peer group may do.
type Access int

const (
	// AccessOn: a full peer (uploads and downloads).
	AccessOn Access = iota
	// AccessDownloadOnly: offers from these peers go only to super-peers and no
	// offer is ever relayed to them, so they are never chosen as an uploader.
	AccessDownloadOnly
	// AccessOff: refused like an address outside the site.
	AccessOff
)

// Group is a named set of the site's addresses; in mesh mode peers only meet
// peers of their own group. The first group whose prefixes hold an address wins.
type Group struct {
	Name     string
	Prefixes []netip.Prefix
	Access   Access
}

// Config configures a Tracker. Zero values mean the defaults named.
type Config struct {
	// Prefixes are the site's LAN prefixes; connections from anywhere else are
	// refused. Empty means loopback, RFC 1918, RFC 6598 and RFC 4193 addresses.
	Prefixes []netip.Prefix
	// Groups subdivide the site (optional).
	Groups []Group
	Mode   Mode
	// Interval is the announce interval told to clients; zero means 2 minutes
	// (the npm server's WebSocket default). Scrape replies carry 5 times it.
	Interval time.Duration
	// OriginPatterns are the browser origins (host patterns, as in
	// github.com/coder/websocket) allowed to open the socket; nil means any.
	OriginPatterns []string

	// MaxMessageBytes bounds one client message; zero means 64 KiB.
	MaxMessageBytes int64
	// MessagesPerSecond and MessageBurst bound each connection's message rate;
	// zero means 20/s with a burst of 60.
	MessagesPerSecond float64
	MessageBurst      int
	// MaxSwarmsPerConn bounds the swarms one connection joins; zero means 32.
	MaxSwarmsPerConn int
	// MaxOffers bounds the offers relayed per announce; zero means 5.
	MaxOffers int
	// MaxPendingOffers bounds offers relayed to one connection that it has not
	// answered yet (only answers to those are routed); zero means 64.
	MaxPendingOffers int
	// MaxConns, MaxSwarms and MaxPeers bound the whole tracker; zero means 4096,
	// 1024 and 16384. MaxPeers counts (swarm, peer) entries.
	MaxConns  int
	MaxSwarms int
	MaxPeers  int
	// QueueLength is each connection's outgoing queue; a browser that lets it
	// fill up is disconnected. Zero means 64.
	QueueLength int
	// WriteTimeout bounds one WebSocket write; zero means 10 s.
	WriteTimeout time.Duration

	Logger *slog.Logger
}

// DefaultPrefixes is what an empty Config.Prefixes means.
var DefaultPrefixes = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("fc00::/7"),
}

func (c Config) withDefaults() Config {
	if len(c.Prefixes) == 0 {
		c.Prefixes = DefaultPrefixes
	}
	if c.Interval <= 0 {
		c.Interval = 2 * time.Minute
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 64 << 10
	}
	if c.MessagesPerSecond <= 0 {
		c.MessagesPerSecond = 20
	}
	if c.MessageBurst <= 0 {
		c.MessageBurst = 60
	}
	if c.MaxSwarmsPerConn <= 0 {
		c.MaxSwarmsPerConn = 32
	}
	if c.MaxOffers <= 0 {
		c.MaxOffers = 5
	}
	if c.MaxPendingOffers <= 0 {
		c.MaxPendingOffers = 64
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 4096
	}
	if c.MaxSwarms <= 0 {
		c.MaxSwarms = 1024
	}
	if c.MaxPeers <= 0 {
		c.MaxPeers = 16384
	}
	if c.QueueLength <= 0 {
		c.QueueLength = 64
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// classify says whether addr belongs to the site and which group it is in
// (-1: the default group).
func (c *Config) classify(addr netip.Addr) (group int, access Access, ok bool) {
	addr = addr.Unmap()
	in := false
	for _, p := range c.Prefixes {
		if p.Contains(addr) {
			in = true
			break
		}
	}
	if !in {
		return -1, AccessOff, false
	}
	for i, g := range c.Groups {
		for _, p := range g.Prefixes {
			if p.Contains(addr) {
				return i, g.Access, g.Access != AccessOff
			}
		}
	}
	return -1, AccessOn, true
}
