package config

// Siblings configures discovery of the other boxes of the site over mDNS and the
// site cache cooperation (one WAN copy per site). Zero value: disabled.
type Siblings struct {
	// Enabled turns discovery and cooperation on.
	Enabled bool `yaml:"enabled"`
}

func (s *Siblings) applyDefaults() {}

func (s *Siblings) validate() error { return nil }
