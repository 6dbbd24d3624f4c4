// Package config turns the site configuration file (YAML) into a validated Config.
//
// In: the bytes of a config file. Out: a *Config with defaults applied, or an error
// that names the offending key ("wan.max_mbps: must be > 0", "unknown key
// cache.max_size"). Nothing here touches the network or the disk beyond reading the
// file; the daemon decides what a change means for the running components.
//
// # Usage
//
//	cfg, err := config.Load("/perm/outpost/config.yaml")
//	if err != nil {
//		log.Fatal(err) // e.g. config: origins[1].url: scheme must be http or https
//	}
package config

import (
	_ "embed"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// Config is the site configuration of one box. Field comments say what the zero value
// (the key left out of the file) means after Parse applied defaults.
type Config struct {
	// Site is the site id this box serves (required), e.g. "branch-042".
	Site string `yaml:"site"`
	// Listen is the LAN HTTP address; empty means ":8080".
	Listen string `yaml:"listen"`
	// DataDir holds the cache and the box's state; empty means "/var/lib/outpost".
	DataDir string `yaml:"data_dir"`
	// Origins are the only upstreams the box fetches from (at least one).
	Origins  []Origin `yaml:"origins"`
	WAN      WAN      `yaml:"wan"`
	Cache    Cache    `yaml:"cache"`
	Edge     Edge     `yaml:"edge"`
	TLS      TLS      `yaml:"tls"`
	Prefetch Prefetch `yaml:"prefetch"`
	Log      Log      `yaml:"log"`
	Diag     Diag     `yaml:"diag"`
	// Siblings: mDNS discovery and site cache cooperation (siblings.go).
	Siblings Siblings `yaml:"siblings"`
	// LAN, Tracker and SuperPeer: the peer broker for browsers (p2p.go).
	LAN       LAN       `yaml:"lan"`
	Tracker   Tracker   `yaml:"tracker"`
	SuperPeer SuperPeer `yaml:"superpeer"`
	// NTP: the time servers the init uses (ntp.go); the daemon ignores it.
	NTP NTP `yaml:"ntp"`
}

// Origin is one allowed upstream: LAN requests /o/{name}/{path} map to {url}{path}.
type Origin struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
}

// WAN is the budget for everything the box pulls over the WAN.
type WAN struct {
	// MaxMbps caps origin fetches in Mbit/s; 0 means unlimited (not recommended).
	// With Interface set, the kernel's video class gets the same cap.
	MaxMbps float64 `yaml:"max_mbps"`
	// Interface is the WAN port; set, the box installs an HTB tree on it (video
	// class capped at MaxMbps, the rest in a default class). Empty: no kernel shaping.
	Interface string `yaml:"interface"`
	// LinkMbps is the WAN uplink rate (required with Interface).
	LinkMbps float64 `yaml:"link_mbps"`
	// IngressLinkMbps is the downlink rate; 0 means LinkMbps.
	IngressLinkMbps float64 `yaml:"ingress_link_mbps"`
	// ShapeIngress also shapes what arrives on the WAN port (video mostly flows in)
	// through an IFB device; nil means true.
	ShapeIngress *bool `yaml:"shape_ingress"`
	// Fwmark marks the box's origin sockets for the video class; 0 means 0x4f50.
	Fwmark uint32 `yaml:"fwmark"`
	// ReplaceForeignQdisc lets the box replace a qdisc it did not install on the WAN
	// port; false refuses and says so.
	ReplaceForeignQdisc bool `yaml:"replace_foreign_qdisc"`
}

// Diag configures the diagnostics API (packet capture, WAN top talkers).
type Diag struct {
	// APIToken is the bearer token of /api/v1/diag/; empty disables the API.
	APIToken string `yaml:"api_token"`
	// CaptureInterfaces limits capture to these interfaces; empty means any.
	CaptureInterfaces []string `yaml:"capture_interfaces"`
	// TopTalkers keeps a live per-host view of the WAN port (costs CPU per packet).
	TopTalkers bool `yaml:"top_talkers"`
}

// LogValue redacts the token from logs.
func (d Diag) LogValue() slog.Value {
	tok := ""
	if d.APIToken != "" {
		tok = "REDACTED"
	}
	return slog.GroupValue(slog.String("api_token", tok), slog.Any("capture_interfaces", d.CaptureInterfaces),
		slog.Bool("top_talkers", d.TopTalkers))
}

// Cache bounds the segment cache.
type Cache struct {
	// MaxBytes bounds the disk cache; 0 means 2 GiB. Accepts 1073741824 or "1GiB".
	MaxBytes ByteSize `yaml:"max_bytes"`
	// MemoryBytes bounds the in-memory live-edge tier; 0 means 64 MiB.
	MemoryBytes ByteSize `yaml:"memory_bytes"`
	// MaxObjectBytes is the largest object the box fetches; 0 means 256 MiB.
	MaxObjectBytes ByteSize `yaml:"max_object_bytes"`
}

// Edge configures the LAN HTTP side.
type Edge struct {
	// CORSOrigins are the browser origins allowed to read responses; empty means "*".
	CORSOrigins []string `yaml:"cors_origins"`
}

// TLS optionally adds an HTTPS listener with the site certificate.
type TLS struct {
	// Listen is the HTTPS address, e.g. ":8443"; empty means no TLS listener.
	Listen   string `yaml:"listen"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Prefetch configures live-edge prefetch.
type Prefetch struct {
	// Disabled turns live prefetch off (viewers then fill the cache on demand).
	Disabled bool `yaml:"disabled"`
	// IdleTargetDurations stops polling a playlist nobody asked for in this many
	// target durations; 0 means 3.
	IdleTargetDurations int `yaml:"idle_target_durations"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error; empty means info.
	Level string `yaml:"level"`
}

//go:embed default.yaml
var defaultYAML []byte

// Default returns the embedded default configuration: one site, the demo origin on
// 127.0.0.1:8081, data under ./outpost-data.
func Default() (*Config, []byte) {
	cfg, err := Parse(defaultYAML)
	if err != nil {
		panic("config: embedded default is invalid: " + err.Error())
	}
	return cfg, defaultYAML
}

// Load reads and parses the config file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	cfg, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes, defaults and validates a config document.
func Parse(b []byte) (*Config, error) {
	var cfg Config
	if err := decodeStrict(b, &cfg); err != nil {
		return nil, err
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func (c *Config) applyDefaults() {
	if c.Listen == "" {
		c.Listen = ":8080"
	}
	if c.DataDir == "" {
		c.DataDir = "/var/lib/outpost"
	}
	if c.Cache.MaxBytes == 0 {
		c.Cache.MaxBytes = 2 << 30
	}
	if c.Cache.MemoryBytes == 0 {
		c.Cache.MemoryBytes = 64 << 20
	}
	if c.Cache.MaxObjectBytes == 0 {
		c.Cache.MaxObjectBytes = 256 << 20
	}
	if len(c.Edge.CORSOrigins) == 0 {
		c.Edge.CORSOrigins = []string{"*"}
	}
	if c.Prefetch.IdleTargetDurations == 0 {
		c.Prefetch.IdleTargetDurations = 3
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	c.Siblings.applyDefaults()
	c.applyP2PDefaults()
}

var (
	siteRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	originRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
)

// Validate checks every field and names the first bad key.
func (c *Config) Validate() error {
	if c.Site == "" {
		return keyErr("site", "is required (the site id, e.g. branch-042)")
	}
	if !siteRE.MatchString(c.Site) {
		return keyErr("site", "must be 1-63 letters, digits, '.', '_' or '-'")
	}
	if err := checkAddr(c.Listen); err != nil {
		return keyErr("listen", err.Error())
	}
	if len(c.Origins) == 0 {
		return keyErr("origins", "at least one origin is required")
	}
	seen := map[string]bool{}
	for i, o := range c.Origins {
		k := fmt.Sprintf("origins[%d]", i)
		if !originRE.MatchString(o.Name) {
			return keyErr(k+".name", "must be 1-63 of a-z, 0-9, '_' or '-', starting with a letter or digit")
		}
		if seen[o.Name] {
			return keyErr(k+".name", fmt.Sprintf("duplicate origin name %q", o.Name))
		}
		seen[o.Name] = true
		u, err := url.Parse(o.URL)
		switch {
		case o.URL == "":
			return keyErr(k+".url", "is required")
		case err != nil:
			return keyErr(k+".url", "is not a URL")
		case u.Scheme != "http" && u.Scheme != "https":
			return keyErr(k+".url", "scheme must be http or https")
		case u.Host == "":
			return keyErr(k+".url", "needs a host")
		case u.User != nil || u.RawQuery != "" || u.Fragment != "":
			return keyErr(k+".url", "must not carry credentials, a query or a fragment")
		}
	}
	if c.WAN.MaxMbps < 0 || c.WAN.MaxMbps > 100000 {
		return keyErr("wan.max_mbps", "must be between 0 (unlimited) and 100000")
	}
	if c.WAN.Interface != "" {
		if c.WAN.LinkMbps <= 0 || c.WAN.LinkMbps > 100000 {
			return keyErr("wan.link_mbps", "is required with wan.interface: the WAN link rate in Mbit/s")
		}
		if c.WAN.MaxMbps <= 0 || c.WAN.MaxMbps >= c.WAN.LinkMbps {
			return keyErr("wan.max_mbps", "must be above 0 and below wan.link_mbps when wan.interface is set")
		}
		if c.WAN.IngressLinkMbps < 0 {
			return keyErr("wan.ingress_link_mbps", "must not be negative")
		}
	}
	if c.Diag.APIToken != "" && len(c.Diag.APIToken) < 16 {
		return keyErr("diag.api_token", "must be at least 16 characters")
	}
	if c.Cache.MaxBytes < 16<<20 {
		return keyErr("cache.max_bytes", "must be at least 16MiB")
	}
	if c.Cache.MemoryBytes < 0 {
		return keyErr("cache.memory_bytes", "must not be negative")
	}
	if c.Cache.MaxObjectBytes < 1<<20 || c.Cache.MaxObjectBytes > c.Cache.MaxBytes {
		return keyErr("cache.max_object_bytes", "must be between 1MiB and cache.max_bytes")
	}
	for i, o := range c.Edge.CORSOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return keyErr(fmt.Sprintf("edge.cors_origins[%d]", i), `must be "*" or an origin like https://portal.corp.example`)
		}
	}
	if c.TLS.Listen != "" || c.TLS.CertFile != "" || c.TLS.KeyFile != "" {
		if err := checkAddr(c.TLS.Listen); err != nil {
			return keyErr("tls.listen", err.Error())
		}
		if c.TLS.CertFile == "" {
			return keyErr("tls.cert_file", "is required when tls is configured")
		}
		if c.TLS.KeyFile == "" {
			return keyErr("tls.key_file", "is required when tls is configured")
		}
	}
	if c.Prefetch.IdleTargetDurations < 1 || c.Prefetch.IdleTargetDurations > 100 {
		return keyErr("prefetch.idle_target_durations", "must be between 1 and 100")
	}
	if err := c.Siblings.validate(); err != nil {
		return err
	}
	if err := c.validateP2P(); err != nil {
		return err
	}
	if err := c.NTP.validate(); err != nil {
		return err
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return keyErr("log.level", "must be debug, info, warn or error")
	}
	return nil
}

// NeedsRestart names the keys whose change a reload cannot apply in place.
func (c *Config) NeedsRestart(next *Config) []string {
	var keys []string
	if c.Listen != next.Listen {
		keys = append(keys, "listen")
	}
	if c.DataDir != next.DataDir {
		keys = append(keys, "data_dir")
	}
	if !reflect.DeepEqual(c.LAN, next.LAN) {
		keys = append(keys, "lan")
	}
	if !reflect.DeepEqual(c.Tracker, next.Tracker) {
		keys = append(keys, "tracker")
	}
	if !reflect.DeepEqual(c.SuperPeer, next.SuperPeer) {
		keys = append(keys, "superpeer")
	}
	if !reflect.DeepEqual(c.Siblings, next.Siblings) {
		keys = append(keys, "siblings")
	}
	if c.WAN.Interface != next.WAN.Interface {
		keys = append(keys, "wan.interface")
	}
	if c.TLS != next.TLS {
		keys = append(keys, "tls")
	}
	if c.Cache.MemoryBytes != next.Cache.MemoryBytes {
		keys = append(keys, "cache.memory_bytes")
	}
	if c.Cache.MaxObjectBytes != next.Cache.MaxObjectBytes {
		keys = append(keys, "cache.max_object_bytes")
	}
	return keys
}

// IdleAfter is how long a live playlist may go unrequested before prefetch stops,
// given its target duration.
func (p Prefetch) IdleAfter(target time.Duration) time.Duration {
	return time.Duration(p.IdleTargetDurations) * target
}

func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("must be host:port or :port, got %q", a)
	}
	if port == "" || strings.Trim(port, "0123456789") != "" {
		return fmt.Errorf("port must be a number, got %q", port)
	}
	if host != "" && net.ParseIP(strings.Trim(host, "[]")) == nil && !siteRE.MatchString(host) {
		return fmt.Errorf("bad host %q", host)
	}
	return nil
}
