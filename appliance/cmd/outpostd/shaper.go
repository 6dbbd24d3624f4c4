package main

import (
	"context"
	"net/http"
	"net/netip"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/capture"
	"github.com/outpost-ecdn/outpost/appliance/config"
	"github.com/outpost-ecdn/outpost/appliance/shaper"
	"github.com/prometheus/client_golang/prometheus"
)

// shaperConfig maps the site config to the kernel shaper's.
func shaperConfig(ctx context.Context, cfg *config.Config, d *daemon) shaper.Config {
	var urls []string
	for _, o := range cfg.Origins {
		urls = append(urls, o.URL)
	}
	// Origin addresses classify received video (marks exist only on sent packets).
	// A name that does not resolve now is skipped; the periodic refresh retries.
	eps, err := shaper.OriginEndpoints(ctx, nil, urls)
	if err != nil {
		d.log.Warn("shaper: origin addresses not all resolved", "err", err)
	}
	ingress := cfg.WAN.ShapeIngress == nil || *cfg.WAN.ShapeIngress
	return shaper.Config{
		Interface: cfg.WAN.Interface, LinkMbps: cfg.WAN.LinkMbps, VideoMbps: cfg.WAN.MaxMbps,
		Mark: cfg.WAN.Fwmark, Origins: eps, Ingress: ingress, IngressLinkMbps: cfg.WAN.IngressLinkMbps,
		ReplaceForeign: cfg.WAN.ReplaceForeignQdisc, Logger: d.log.With("component", "shaper"),
	}
}

// initShaper installs the WAN tree when wan.interface is set. A failure (not root,
// no such interface, a foreign qdisc) is logged loudly and shown in the status, but
// the box keeps serving video: the in-process budget still caps origin fetches.
func (d *daemon) initShaper(cfg *config.Config) {
	if cfg.WAN.Interface == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sh, err := shaper.New(shaperConfig(ctx, cfg, d))
	if err == nil {
		err = sh.Apply()
	}
	if err != nil {
		d.shaperErr = err.Error()
		d.log.Error("WAN shaping is OFF", "interface", cfg.WAN.Interface, "err", err)
		return
	}
	d.shaper = sh
	d.client.DialControl = shaper.MarkDialer(sh.Config().Mark)
	d.log.Info("WAN shaping on", "interface", cfg.WAN.Interface, "link_mbps", cfg.WAN.LinkMbps, "video_mbps", cfg.WAN.MaxMbps)
}

// reloadShaper applies a changed budget or link rate to the installed tree.
func (d *daemon) reloadShaper(next *config.Config) {
	if d.shaper == nil || next.WAN.Interface != d.shaper.Config().Interface {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.shaper.Update(shaperConfig(ctx, next, d)); err != nil {
		d.log.Error("shaper update failed; the previous tree stays", "err", err)
	}
}

func (d *daemon) stopShaper() {
	if d.shaper == nil {
		return
	}
	if err := d.shaper.Stop(); err != nil {
		d.log.Warn("remove WAN shaping", "err", err)
	}
}

// shaperStatus is the "shaper" part of /api/v1/status.
func (d *daemon) shaperStatus() any {
	switch {
	case d.shaper != nil:
		return d.shaper.Status()
	case d.shaperErr != "":
		return map[string]any{"installed": false, "error": d.shaperErr}
	}
	return nil
}

func (d *daemon) registerShaperMetrics(reg *prometheus.Registry) {
	if d.shaper != nil {
		reg.MustRegister(d.shaper.Collector())
	}
}

// mountDiag serves packet capture and WAN top talkers under /api/v1/diag/ (bearer
// token from diag.api_token; without one the API answers 403).
func (d *daemon) mountDiag(mux *http.ServeMux) {
	cfg := d.cfg.Load()
	if cfg.Diag.TopTalkers && cfg.WAN.Interface != "" {
		d.top = &capture.TopTalkers{Interface: cfg.WAN.Interface, LAN: lanPrefixes(cfg)}
	}
	h := capture.Handler(capture.HandlerConfig{Token: capture.Secret(cfg.Diag.APIToken),
		Interfaces: cfg.Diag.CaptureInterfaces, DefaultInterface: cfg.WAN.Interface, Top: d.top,
		Logger: d.log.With("component", "capture")})
	mux.Handle("/api/v1/diag/", http.StripPrefix("/api/v1/diag", h))
}

// startTop runs the top-talkers view while the daemon serves.
func (d *daemon) startTop(ctx context.Context) {
	if d.top == nil {
		return
	}
	go func() {
		if err := d.top.Run(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("WAN top talkers stopped", "err", err)
		}
	}()
}

func lanPrefixes(cfg *config.Config) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range cfg.LAN.Prefixes {
		if pfx, err := netip.ParsePrefix(p); err == nil {
			out = append(out, pfx)
		}
	}
	return out
}
