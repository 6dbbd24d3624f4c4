package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/outpost-ecdn/outpost/appliance/cache"
	"github.com/outpost-ecdn/outpost/appliance/capture"
	"github.com/outpost-ecdn/outpost/appliance/config"
	"github.com/outpost-ecdn/outpost/appliance/edge"
	"github.com/outpost-ecdn/outpost/appliance/origin"
	"github.com/outpost-ecdn/outpost/appliance/prefetch"
	"github.com/outpost-ecdn/outpost/appliance/shaper"
)

func defaultConfig() (*config.Config, []byte) { return config.Default() }

// daemon is the running box: every component and the current config.
type daemon struct {
	out       io.Writer // the operator's console: log lines and the start banner
	log       *slog.Logger
	level     *slog.LevelVar
	path      string // config file; "" = embedded default
	cfg       atomic.Pointer[config.Config]
	origins   atomic.Pointer[origin.Set]
	cors      atomic.Pointer[[]string]
	budget    *origin.Budget
	client    *origin.Client
	cache     *cache.Cache
	prefetch  *prefetch.Prefetcher
	edge      *edge.Server
	sib       *siblingsState      // siblings.go: discovery and site cache cooperation
	p2p       *p2pState           // p2p.go: tracker and super-peer
	shaper    *shaper.Shaper      // shaper.go: kernel WAN shaping; nil when off or failed
	shaperErr string              // why shaping is off, for the status
	top       *capture.TopTalkers // shaper.go: WAN top talkers; nil when off
	started   time.Time
	reloads   atomic.Int64
	reloadMu  sync.Mutex
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		cfg, _ := defaultConfig()
		return cfg, nil
	}
	return config.Load(path)
}

func originSet(cfg *config.Config) (*origin.Set, error) {
	var list []origin.Origin
	for _, o := range cfg.Origins {
		u, err := url.Parse(o.URL)
		if err != nil {
			return nil, fmt.Errorf("origin %s: %w", o.Name, err)
		}
		list = append(list, origin.Origin{Name: o.Name, URL: u})
	}
	return origin.NewSet(list)
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(s))
	return l
}

// newDaemon builds every component from cfg; nothing listens yet.
func newDaemon(cfg *config.Config, path string, logOut io.Writer) (*daemon, error) {
	d := &daemon{out: logOut, path: path, level: new(slog.LevelVar), started: time.Now()}
	d.level.Set(parseLevel(cfg.Log.Level))
	d.log = slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: d.level}))
	set, err := originSet(cfg)
	if err != nil {
		return nil, err
	}
	d.cfg.Store(cfg)
	d.origins.Store(set)
	cors := cfg.Edge.CORSOrigins
	d.cors.Store(&cors)
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	d.cache, err = cache.Open(cache.Config{
		Dir:         filepath.Join(cfg.DataDir, "cache"),
		MaxBytes:    int64(cfg.Cache.MaxBytes),
		MemoryBytes: int64(cfg.Cache.MemoryBytes),
		Logger:      d.log,
	})
	if err != nil {
		return nil, fmt.Errorf("open cache: %w", err)
	}
	d.budget = origin.NewBudget(cfg.WAN.MaxMbps * 1e6)
	d.client = &origin.Client{
		Set:            d.origins.Load,
		Budget:         d.budget,
		MaxObjectBytes: int64(cfg.Cache.MaxObjectBytes),
		UserAgent:      "outpostd/" + version,
		Logger:         d.log.With("component", "origin"),
	}
	d.edge = &edge.Server{
		Cache:       d.cache,
		Client:      d.client,
		Origins:     d.origins.Load,
		CORSOrigins: func() []string { return *d.cors.Load() },
		Logger:      d.log.With("component", "edge"),
	}
	if !cfg.Prefetch.Disabled {
		d.prefetch = prefetch.New(prefetch.Config{
			Source:              d.edge,
			IdleTargetDurations: cfg.Prefetch.IdleTargetDurations,
			Logger:              d.log.With("component", "prefetch"),
		})
		d.edge.Prefetch = d.prefetch
	}
	d.initShaper(cfg)
	if err := d.initSiblings(cfg); err != nil {
		d.close()
		return nil, fmt.Errorf("siblings: %w", err)
	}
	if err := d.initP2P(cfg); err != nil {
		d.close()
		return nil, fmt.Errorf("p2p: %w", err)
	}
	return d, nil
}

// reload re-reads the config file and applies what can change in place. An invalid
// file is logged and ignored: the box keeps running on the last good config.
func (d *daemon) reload() error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	next, err := loadConfig(d.path)
	if err != nil {
		d.log.Error("config reload rejected; keeping the running config", "err", err)
		return err
	}
	set, err := originSet(next)
	if err != nil {
		d.log.Error("config reload rejected; keeping the running config", "err", err)
		return err
	}
	cur := d.cfg.Load()
	if keys := cur.NeedsRestart(next); len(keys) > 0 {
		d.log.Warn("config keys changed that apply only after a restart", "keys", keys)
	}
	d.origins.Store(set)
	cors := next.Edge.CORSOrigins
	d.cors.Store(&cors)
	d.budget.SetRate(next.WAN.MaxMbps * 1e6)
	d.reloadShaper(next)
	d.cache.SetMaxBytes(int64(next.Cache.MaxBytes))
	if d.prefetch != nil {
		d.prefetch.SetIdleTargetDurations(next.Prefetch.IdleTargetDurations)
	}
	d.level.Set(parseLevel(next.Log.Level))
	d.cfg.Store(next)
	d.reloads.Add(1)
	d.log.Info("config reloaded", "site", next.Site, "origins", len(next.Origins), "wan_mbps", next.WAN.MaxMbps)
	return nil
}

// close stops prefetch and the cache.
func (d *daemon) close() {
	d.closeP2P()
	d.closeSiblings()
	d.stopShaper()
	if d.prefetch != nil {
		d.prefetch.Close()
	}
	if err := d.cache.Close(); err != nil {
		d.log.Warn("close cache", "err", err)
	}
}

// run is main without the process: it serves until ctx ends.
func run(ctx context.Context, path string, logOut io.Writer, ready func(lan, tls net.Addr)) error {
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	d, err := newDaemon(cfg, path, logOut)
	if err != nil {
		return err
	}
	defer d.close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	var tlsLn net.Listener
	if cfg.TLS.Listen != "" {
		if tlsLn, err = net.Listen("tcp", cfg.TLS.Listen); err != nil {
			ln.Close()
			return fmt.Errorf("tls.listen %s: %w", cfg.TLS.Listen, err)
		}
	}
	return d.serve(ctx, ln, tlsLn, ready)
}

// serve runs the HTTP servers on ln (and tlsLn when not nil) until ctx ends, then
// drains: in-flight responses finish (bounded), new connections are refused.
func (d *daemon) serve(ctx context.Context, ln, tlsLn net.Listener, ready func(lan, tls net.Addr)) error {
	cfg := d.cfg.Load()
	srv := &http.Server{
		Handler:           d.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	servers := 1
	if tlsLn != nil {
		servers++
		go func() { errc <- srv.ServeTLS(tlsLn, cfg.TLS.CertFile, cfg.TLS.KeyFile) }()
	}
	d.log.Info("outpostd serving", "site", cfg.Site, "version", version, "listen", ln.Addr().String(),
		"data_dir", cfg.DataDir, "wan_mbps", cfg.WAN.MaxMbps)
	fmt.Fprintf(d.out, "\noutpostd: site %q serving on http://%s\n", cfg.Site, displayAddr(ln.Addr()))
	for _, o := range cfg.Origins {
		fmt.Fprintf(d.out, "  origin %-8s %s -> http://%s/o/%s/...\n", o.Name, o.URL, displayAddr(ln.Addr()), o.Name)
	}
	if len(cfg.Origins) > 0 && cfg.Origins[0].Name == "demo" {
		fmt.Fprintf(d.out, "  play it:  ffplay http://%s/o/demo/live/master.m3u8\n\n", displayAddr(ln.Addr()))
	}

	stopWatch := d.watchConfig(ctx)
	defer stopWatch()
	stopSiblings := d.startSiblings(ctx)
	defer stopSiblings()
	stopP2P := d.startP2P(ctx)
	defer stopP2P()
	d.startTop(ctx)
	if ready != nil {
		var tlsAddr net.Addr
		if tlsLn != nil {
			tlsAddr = tlsLn.Addr()
		}
		ready(ln.Addr(), tlsAddr)
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		servers--
	}
	d.log.Info("draining")
	shutCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		d.log.Warn("drain incomplete", "err", err)
		srv.Close()
	}
	for ; servers > 0; servers-- {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && serveErr == nil {
			serveErr = err
		}
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	d.log.Info("stopped")
	return nil
}

func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if ok && tcp.IP.IsUnspecified() {
		return fmt.Sprintf("127.0.0.1:%d", tcp.Port)
	}
	return a.String()
}

// watchConfig reloads on SIGHUP and when the config file changes (editors replace
// files by rename, so the directory is watched).
func (d *daemon) watchConfig(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	var events <-chan fsnotify.Event
	var w *fsnotify.Watcher
	if d.path != "" {
		var err error
		if w, err = fsnotify.NewWatcher(); err == nil {
			if err = w.Add(filepath.Dir(d.path)); err == nil {
				events = w.Events
			}
		}
		if err != nil {
			d.log.Warn("config file not watched; use SIGHUP to reload", "err", err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var debounce <-chan time.Time
		abs, _ := filepath.Abs(d.path)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				d.reload()
			case ev := <-events:
				if p, _ := filepath.Abs(ev.Name); p == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
					debounce = time.After(200 * time.Millisecond)
				}
			case <-debounce:
				debounce = nil
				d.reload()
			}
		}
	}()
	return func() {
		cancel()
		signal.Stop(hup)
		<-done
		if w != nil {
			w.Close()
		}
	}
}
