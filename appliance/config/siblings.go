package config

import (
	"fmt"
	"regexp"
	"time"
)

// Siblings configures discovery of the other boxes of the site over mDNS and the
// site cache cooperation (one WAN copy per site). Zero value: disabled.
type Siblings struct {
	// Enabled turns discovery and cooperation on.
	Enabled bool `yaml:"enabled"`
	// Port is the sibling TLS listener (mutual TLS, box keys pinned); 0 means 8444.
	Port int `yaml:"port"`
	// Interfaces are the LAN interfaces to advertise and browse on; empty means
	// every up, multicast, non-loopback interface. A box with a separate WAN port
	// must name its LAN ports here so the WAN never sees mDNS.
	Interfaces []string `yaml:"interfaces"`
	// SitePublicKey is the site's ed25519 public key (base64, as printed by
	// `outpostctl cert site-key`) or a file holding it; required when enabled.
	SitePublicKey string `yaml:"site_public_key"`
	// CertFile is this box's certificate (`outpostctl cert issue`); empty means
	// {data_dir}/box.cert.
	CertFile string `yaml:"cert_file"`
	// ExpireAfter drops a sibling silent this long (boxes announce every third of
	// it); 0 means 6s.
	ExpireAfter time.Duration `yaml:"expire_after"`
	// Role is advertised to siblings; empty means "edge".
	Role string `yaml:"role"`
}

var ifaceRE = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,15}$`)

func (s *Siblings) applyDefaults() {
	if s.Port == 0 {
		s.Port = 8444
	}
	if s.ExpireAfter == 0 {
		s.ExpireAfter = 6 * time.Second
	}
	if s.Role == "" {
		s.Role = "edge"
	}
}

func (s *Siblings) validate() error {
	if s.Port < 1 || s.Port > 65535 {
		return keyErr("siblings.port", "must be between 1 and 65535")
	}
	if s.ExpireAfter < time.Second || s.ExpireAfter > 10*time.Minute {
		return keyErr("siblings.expire_after", "must be between 1s and 10m")
	}
	if !siteRE.MatchString(s.Role) {
		return keyErr("siblings.role", "must be 1-63 letters, digits, '.', '_' or '-'")
	}
	for i, name := range s.Interfaces {
		if !ifaceRE.MatchString(name) {
			return keyErr(fmt.Sprintf("siblings.interfaces[%d]", i), "must be an interface name (1-15 characters)")
		}
	}
	if s.Enabled && s.SitePublicKey == "" {
		return keyErr("siblings.site_public_key", "is required when siblings are enabled (base64 or a file; see outpostctl cert site-key)")
	}
	return nil
}
