package superpeer

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/tracker"
)

// Source is how the super-peer reaches the box's objects: box paths such as
// "/o/demo/live/720p/index.m3u8", always through the cache so that a site pulls
// one WAN copy.
type Source interface {
	// Fetch returns the object's bytes, filling the cache once when it lacks it.
	Fetch(ctx context.Context, path string) ([]byte, error)
	// Cached reports whether the object is complete in the cache already.
	Cached(path string) bool
}

// Config configures a Server. Zero values mean the defaults named.
type Config struct {
	// Tracker is the box's own tracker; the super-peer joins it in process.
	Tracker *tracker.Tracker
	// Source serves playlists and segments (required).
	Source Source
	// UDP is the one socket all ICE traffic uses (the box needs one firewall
	// rule); the caller opens and closes it. Required.
	UDP net.PacketConn
	// IncludeLoopback gathers loopback host candidates (tests on one machine).
	IncludeLoopback bool
	// Prefixes are the site's LAN: the only addresses ICE offers as the box's
	// host candidates and accepts as browsers' candidates, so a WAN address is
	// never offered. Empty means tracker.DefaultPrefixes. Loopback counts only
	// with IncludeLoopback.
	Prefixes []netip.Prefix
	// NoMDNS stops resolving browsers' .local candidates (on by default).
	NoMDNS bool
	// MaxPeers bounds peer connections; zero means 200.
	MaxPeers int
	// PeerUploadBytesPerSecond and UploadBytesPerSecond cap upload per peer and
	// in total; zero means unlimited.
	PeerUploadBytesPerSecond float64
	UploadBytesPerSecond     float64
	// StreamIdle: a stream nobody asked for and with no peers leaves its swarms
	// after this long; zero means 5 minutes.
	StreamIdle time.Duration
	// ConnectTimeout bounds an answered offer's wait for its data channel; zero
	// means 30 s.
	ConnectTimeout time.Duration
	// PeerID is the box's tracker peer id; zero means a random "-OP0100-..." id.
	PeerID tracker.ID
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.MaxPeers <= 0 {
		c.MaxPeers = 200
	}
	if c.StreamIdle <= 0 {
		c.StreamIdle = 5 * time.Minute
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
