package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// LAN describes the site's LAN as the peer broker sees it.
type LAN struct {
	// Prefixes are the site's LAN prefixes (CIDR); only peers whose source address
	// is inside one are accepted by the tracker. Empty: loopback, RFC 1918,
	// RFC 6598 and RFC 4193.
	Prefixes []string `yaml:"prefixes"`
	// Groups subdivide the site; in mesh mode browsers only meet their own group.
	Groups []PeerGroup `yaml:"groups"`
}

// PeerGroup is a named part of the site's LAN.
type PeerGroup struct {
	Name     string   `yaml:"name"`
	Prefixes []string `yaml:"prefixes"`
	// P2P is "on" (empty), "off" (refused by the tracker) or "download_only"
	// (connects only to the box, is never handed to other browsers).
	P2P string `yaml:"p2p"`
}

// Tracker configures the WebTorrent tracker at /announce (ws:// on listen,
// wss:// on tls.listen). Zero value: disabled.
type Tracker struct {
	Enabled bool `yaml:"enabled"`
	// Mode is "star" (empty: browsers connect only to the box) or "mesh".
	Mode string `yaml:"mode"`
	// IntervalSeconds is the announce interval told to browsers; 0 means 120.
	IntervalSeconds int `yaml:"interval_seconds"`
	// OriginPatterns are the page origins (host patterns) allowed to open the
	// tracker socket; empty means any page.
	OriginPatterns []string `yaml:"origin_patterns"`
	// Limits; 0 means the tracker package's defaults (64KiB messages, 20
	// messages/s, 32 swarms per connection, 4096 connections, 1024 swarms, 16384
	// peers).
	MaxMessageBytes   ByteSize `yaml:"max_message_bytes"`
	MessagesPerSecond float64  `yaml:"messages_per_second"`
	MaxSwarmsPerConn  int      `yaml:"max_swarms_per_conn"`
	MaxConns          int      `yaml:"max_conns"`
	MaxSwarms         int      `yaml:"max_swarms"`
	MaxPeers          int      `yaml:"max_peers"`
}

// SuperPeer configures the box's own WebRTC peer. Zero value: disabled.
type SuperPeer struct {
	Enabled bool `yaml:"enabled"`
	// UDPListen is the one UDP address all WebRTC traffic uses; empty means ":8478".
	UDPListen string `yaml:"udp_listen"`
	// MaxPeers bounds browser connections; 0 means 200.
	MaxPeers int `yaml:"max_peers"`
	// PeerUploadMbps and UploadMbps cap upload per browser and in total; 0 means
	// unlimited.
	PeerUploadMbps float64 `yaml:"peer_upload_mbps"`
	UploadMbps     float64 `yaml:"upload_mbps"`
	// LoopbackCandidates offers 127.0.0.1 candidates (local tries and tests only).
	LoopbackCandidates bool `yaml:"loopback_candidates"`
	// Streams are joined from the start; others are joined when a browser first
	// asks the box for their multivariant playlist.
	Streams []P2PStream `yaml:"streams"`
}

// P2PStream is a stream as pages name it and as the box fetches it.
type P2PStream struct {
	// URL is the multivariant playlist URL the pages load (its swarm id).
	URL string `yaml:"url"`
	// Path is the box path of the same playlist, e.g. /o/demo/live/master.m3u8.
	Path string `yaml:"path"`
}

func (c *Config) applyP2PDefaults() {
	if c.Tracker.Mode == "" {
		c.Tracker.Mode = "star"
	}
	if c.Tracker.IntervalSeconds == 0 {
		c.Tracker.IntervalSeconds = 120
	}
	if c.SuperPeer.UDPListen == "" {
		c.SuperPeer.UDPListen = ":8478"
	}
	if c.SuperPeer.MaxPeers == 0 {
		c.SuperPeer.MaxPeers = 200
	}
	for i := range c.LAN.Groups {
		if c.LAN.Groups[i].P2P == "" {
			c.LAN.Groups[i].P2P = "on"
		}
	}
}

func checkPrefixes(key string, list []string) error {
	for i, p := range list {
		if _, err := netip.ParsePrefix(p); err != nil {
			return keyErr(fmt.Sprintf("%s[%d]", key, i), fmt.Sprintf("must be a CIDR prefix like 10.1.0.0/16, got %q", p))
		}
	}
	return nil
}

func (c *Config) validateP2P() error {
	if err := checkPrefixes("lan.prefixes", c.LAN.Prefixes); err != nil {
		return err
	}
	names := map[string]bool{}
	for i, g := range c.LAN.Groups {
		k := fmt.Sprintf("lan.groups[%d]", i)
		if !siteRE.MatchString(g.Name) || names[g.Name] {
			return keyErr(k+".name", "must be a unique name of 1-63 letters, digits, '.', '_' or '-'")
		}
		names[g.Name] = true
		if len(g.Prefixes) == 0 {
			return keyErr(k+".prefixes", "at least one prefix is required")
		}
		if err := checkPrefixes(k+".prefixes", g.Prefixes); err != nil {
			return err
		}
		switch g.P2P {
		case "on", "off", "download_only":
		default:
			return keyErr(k+".p2p", "must be on, off or download_only")
		}
	}
	t := c.Tracker
	switch t.Mode {
	case "star", "mesh":
	default:
		return keyErr("tracker.mode", "must be star or mesh")
	}
	if t.IntervalSeconds < 10 || t.IntervalSeconds > 3600 {
		return keyErr("tracker.interval_seconds", "must be between 10 and 3600")
	}
	for k, v := range map[string]float64{"tracker.max_message_bytes": float64(t.MaxMessageBytes),
		"tracker.messages_per_second": t.MessagesPerSecond, "tracker.max_swarms_per_conn": float64(t.MaxSwarmsPerConn),
		"tracker.max_conns": float64(t.MaxConns), "tracker.max_swarms": float64(t.MaxSwarms), "tracker.max_peers": float64(t.MaxPeers),
		"superpeer.peer_upload_mbps": c.SuperPeer.PeerUploadMbps, "superpeer.upload_mbps": c.SuperPeer.UploadMbps} {
		if v < 0 {
			return keyErr(k, "must not be negative (0 means the default)")
		}
	}
	if t.MaxMessageBytes != 0 && (t.MaxMessageBytes < 4<<10 || t.MaxMessageBytes > 1<<20) {
		return keyErr("tracker.max_message_bytes", "must be between 4KiB and 1MiB")
	}
	sp := c.SuperPeer
	if sp.Enabled && !t.Enabled {
		return keyErr("superpeer.enabled", "needs tracker.enabled: the super-peer meets browsers through the box's tracker")
	}
	if err := checkAddr(sp.UDPListen); err != nil {
		return keyErr("superpeer.udp_listen", err.Error())
	}
	if sp.MaxPeers < 1 || sp.MaxPeers > 10000 {
		return keyErr("superpeer.max_peers", "must be between 1 and 10000")
	}
	for i, s := range sp.Streams {
		k := fmt.Sprintf("superpeer.streams[%d]", i)
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return keyErr(k+".url", "must be the http(s) URL pages load the multivariant playlist from")
		}
		if !strings.HasPrefix(s.Path, "/o/") {
			return keyErr(k+".path", "must be the box path of the playlist, e.g. /o/demo/live/master.m3u8")
		}
	}
	return nil
}
