package config

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
)

// NTP names the time servers the box's init sets the clock from. The daemon
// does not use it; the init reads it from this file on every sync round, so a
// change takes effect without a restart. Zero value: the servers DHCP names,
// else the public pool (0-2.pool.ntp.org).
type NTP struct {
	// Servers are host names or addresses, with an optional ":port" (default
	// 123), asked before any server from DHCP, e.g. ["ntp1.corp.example",
	// "10.1.0.5"]. A site whose firewall blocks the public pool must list its own.
	Servers []string `yaml:"servers"`
}

var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$`)

func (n *NTP) validate() error {
	if len(n.Servers) > 8 {
		return keyErr("ntp.servers", "at most 8 servers")
	}
	for i, s := range n.Servers {
		if err := checkNTPServer(s); err != nil {
			return keyErr(fmt.Sprintf("ntp.servers[%d]", i), err.Error())
		}
	}
	return nil
}

func checkNTPServer(s string) error {
	host := s
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q must be between 1 and 65535", p)
		}
		host = h
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	if len(host) > 253 || !hostRE.MatchString(host) {
		return fmt.Errorf("%q is not a host name or IP address (optionally with :port)", s)
	}
	return nil
}
