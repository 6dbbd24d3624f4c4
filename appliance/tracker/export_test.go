package tracker

import "net/netip"

// ConnectFrom opens a local browser-like connection as if from addr.
func (t *Tracker) ConnectFrom(addr netip.Addr) (*LocalConn, error) { return t.connect(false, addr) }
