package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/config"
	"github.com/outpost-ecdn/outpost/appliance/discovery"
	"github.com/outpost-ecdn/outpost/appliance/identity"
	"github.com/outpost-ecdn/outpost/appliance/sibling"
)

// siblingsState is the running discovery and site cache cooperation.
type siblingsState struct {
	disc *discovery.Service
	node *sibling.Node
	ln   net.Listener // the sibling TLS port, bound in initSiblings so errors show at start
	port int
	wg   sync.WaitGroup
}

// SiblingsStatus is the "siblings" part of /api/v1/status.
type SiblingsStatus struct {
	Self        string           `json:"self"`
	Port        int              `json:"port"`
	Members     []string         `json:"members"` // healthy siblings and this box: the owners of the site's keys
	Discovery   discovery.Status `json:"discovery"`
	Cooperation sibling.Stats    `json:"cooperation"`
}

// initSiblings builds discovery from cfg (nothing runs yet); a no-op when disabled.
func (d *daemon) initSiblings(cfg *config.Config) error {
	sc := cfg.Siblings
	if !sc.Enabled {
		return nil
	}
	sitePub, err := identity.LoadPublicKey(sc.SitePublicKey)
	if err != nil {
		return fmt.Errorf("siblings.site_public_key: %w", err)
	}
	key, created, err := identity.LoadOrCreateBoxKey(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("box identity: %w", err)
	}
	boxPub := identity.EncodePublicKey(key.Public().(ed25519.PublicKey))
	if created {
		d.log.Info("created box identity", "box_public_key", boxPub, "file", filepath.Join(cfg.DataDir, identity.BoxKeyFile))
	}
	certFile := sc.CertFile
	if certFile == "" {
		certFile = filepath.Join(cfg.DataDir, "box.cert")
	}
	cert, err := identity.ReadCertificate(certFile)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no box certificate at %s; issue one with: outpostctl cert issue -site-key site.key -box-pub %s -box-id BOX -site %s -out %s",
			certFile, boxPub, cfg.Site, certFile)
	}
	if err != nil {
		return err
	}
	if err := cert.Verify(sitePub, cfg.Site, time.Now()); err != nil {
		return fmt.Errorf("%s: %w", certFile, err)
	}
	if !cert.BoxKey.Equal(key.Public()) {
		return fmt.Errorf("%s was issued for another box key (this box's key is %s)", certFile, boxPub)
	}
	httpPort := 0
	if _, p, err := net.SplitHostPort(cfg.Listen); err == nil {
		httpPort, _ = strconv.Atoi(p)
	}
	disc, err := discovery.New(discovery.Config{
		Site: cfg.Site, SitePublicKey: sitePub, Key: key, Cert: cert,
		Version: version, Role: sc.Role, Port: sc.Port, HTTPPort: httpPort,
		Interfaces: sc.Interfaces, ExpireAfter: sc.ExpireAfter,
		Load:   d.viewerLoad,
		Logger: d.log.With("component", "discovery"),
	})
	if err != nil {
		return err
	}
	node, err := sibling.New(sibling.Config{Self: cert.BoxID, Key: key, Peers: disc, Handler: d.edge,
		Logger: d.log.With("component", "sibling")})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(sc.Port)))
	if err != nil {
		return fmt.Errorf("siblings.port: %w", err)
	}
	d.sib = &siblingsState{disc: disc, node: node, ln: ln, port: sc.Port}
	d.edge.Siblings = node
	d.log.Info("siblings enabled", "box", cert.BoxID, "box_public_key", boxPub, "port", sc.Port,
		"certificate_expires", cert.NotAfter.Format(time.RFC3339))
	return nil
}

// viewerLoad is the load a box advertises: distinct viewers over all playlists.
func (d *daemon) viewerLoad() int {
	n := 0
	for _, v := range d.edge.Stats().ViewersPerList {
		n += v
	}
	return n
}

// startSiblings starts advertising and browsing; stop ends it.
func (d *daemon) startSiblings(ctx context.Context) (stop func()) {
	s := d.sib
	if s == nil {
		return func() {}
	}
	if err := s.disc.Start(ctx); err != nil {
		// The box still serves alone; the status page shows no siblings.
		d.log.Error("sibling discovery not running; this box fetches everything itself", "err", err)
	}
	events, cancel := s.disc.Subscribe(64)
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.node.Serve(s.ln); err != nil {
			d.log.Error("sibling listener stopped", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		healthy := map[string]bool{}
		for ev := range events {
			level := slog.LevelInfo
			if ev.Kind == discovery.Update && healthy[ev.Peer.BoxID] == ev.Peer.Healthy {
				level = slog.LevelDebug // load or address changes: routine
			}
			healthy[ev.Peer.BoxID] = ev.Peer.Healthy
			if ev.Kind == discovery.Leave {
				delete(healthy, ev.Peer.BoxID)
			}
			d.log.Log(context.Background(), level, "sibling "+ev.Kind.String(), "box", ev.Peer.BoxID,
				"addr", ev.Peer.AddrPort().String(), "healthy", ev.Peer.Healthy, "load", ev.Peer.Load,
				"members", len(s.disc.Healthy())+1)
		}
	}()
	return func() {
		cancel()
		s.disc.Close()
		s.node.Close()
		s.wg.Wait()
	}
}

// closeSiblings releases what initSiblings built.
func (d *daemon) closeSiblings() {
	if d.sib == nil {
		return
	}
	d.sib.disc.Close()
	d.sib.node.Close()
	d.sib.ln.Close()
}

// siblingsStatus is the "siblings" part of /api/v1/status (nil when disabled).
func (d *daemon) siblingsStatus() any {
	s := d.sib
	if s == nil {
		return nil
	}
	st := SiblingsStatus{Self: s.disc.Self(), Port: s.port, Discovery: s.disc.Status(), Cooperation: s.node.Stats()}
	st.Members = append(st.Members, s.disc.Self())
	for _, p := range s.disc.Healthy() {
		st.Members = append(st.Members, p.BoxID)
	}
	return st
}
