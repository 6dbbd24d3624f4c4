package config

// LAN describes the site's LAN as the peer broker sees it.
type LAN struct {
	// Prefixes are the site's LAN prefixes (CIDR); only peers whose source address
	// is inside one are accepted by the tracker. Empty: loopback and RFC 1918/4193.
	Prefixes []string `yaml:"prefixes"`
}

// Tracker configures the WebTorrent tracker at /announce. Zero value: disabled.
type Tracker struct {
	Enabled bool `yaml:"enabled"`
}

// SuperPeer configures the box's own WebRTC peer. Zero value: disabled.
type SuperPeer struct {
	Enabled bool `yaml:"enabled"`
}

func (c *Config) applyP2PDefaults() {}

func (c *Config) validateP2P() error { return nil }
