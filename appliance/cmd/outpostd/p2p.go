package main

import (
	"context"
	"net/http"

	"github.com/outpost-ecdn/outpost/appliance/config"
)

// p2pState is the running tracker and super-peer.
type p2pState struct{}

// initP2P builds the tracker and super-peer from cfg; a no-op when disabled.
func (d *daemon) initP2P(cfg *config.Config) error { return nil }

// mountP2P adds /announce and the p2p endpoints to the LAN mux.
func (d *daemon) mountP2P(mux *http.ServeMux) {}

// startP2P starts the super-peer; stop ends it.
func (d *daemon) startP2P(ctx context.Context) (stop func()) { return func() {} }

// closeP2P releases what initP2P built.
func (d *daemon) closeP2P() {}

// p2pStatus is the "p2p" part of /api/v1/status (nil when disabled).
func (d *daemon) p2pStatus() any { return nil }
