package main

import (
	"context"

	"github.com/outpost-ecdn/outpost/appliance/config"
)

// siblingsState is the running discovery and site cache cooperation.
type siblingsState struct{}

// initSiblings builds discovery from cfg (nothing runs yet); a no-op when disabled.
func (d *daemon) initSiblings(cfg *config.Config) error { return nil }

// startSiblings starts advertising and browsing; stop ends it.
func (d *daemon) startSiblings(ctx context.Context) (stop func()) { return func() {} }

// closeSiblings releases what initSiblings built.
func (d *daemon) closeSiblings() {}

// siblingsStatus is the "siblings" part of /api/v1/status (nil when disabled).
func (d *daemon) siblingsStatus() any { return nil }
