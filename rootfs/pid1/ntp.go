package pid1

import (
	"github.com/outpost-ecdn/outpost/appliance/config"
)

// DefaultNTP are asked when neither the site config nor DHCP names an NTP
// server.
var DefaultNTP = []string{"0.pool.ntp.org", "1.pool.ntp.org", "2.pool.ntp.org"}

// Where an NTP server list came from (clock.Status.ServersFrom).
const (
	NTPFromConfig     = "config"
	NTPFromDHCP       = "dhcp"
	NTPFromConfigDHCP = "config+dhcp"
	NTPFromDefault    = "default"
)

// maxNTPServers bounds one round's list (the config allows 8).
const maxNTPServers = 16

// NTPServers is the list the clock asks, in order: the site config's
// ntp.servers (read from confPath on every call, so an edit counts at the next
// sync round; a config that does not load names none), then the servers DHCP
// named, duplicates dropped; DefaultNTP only when both name none. The second
// result says where the list came from.
func NTPServers(confPath string, dhcp []string) ([]string, string) {
	var conf []string
	if cfg, err := config.Load(confPath); err == nil {
		conf = cfg.NTP.Servers
	}
	var out []string
	seen := map[string]bool{}
	for _, s := range append(append([]string(nil), conf...), dhcp...) {
		if s != "" && !seen[s] && len(out) < maxNTPServers {
			seen[s] = true
			out = append(out, s)
		}
	}
	switch {
	case len(conf) > 0 && len(dhcp) > 0:
		return out, NTPFromConfigDHCP
	case len(conf) > 0:
		return out, NTPFromConfig
	case len(dhcp) > 0:
		return out, NTPFromDHCP
	}
	return append([]string(nil), DefaultNTP...), NTPFromDefault
}
