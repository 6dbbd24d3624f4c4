package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/outpost-ecdn/outpost/tools/bench"
	"github.com/outpost-ecdn/outpost/tools/viewerload"
)

// stopGrace is how long a child gets between SIGTERM and SIGKILL.
const stopGrace = 10 * time.Second

// originStartup bounds the demo origin's start, which encodes media on first use.
const originStartup = 10 * time.Minute

// harness runs one comparison. It owns every process it starts.
type harness struct {
	opts  options
	log   *slog.Logger
	dir   string // work directory: binaries, configs, logs, JSON reports
	procs []*bench.Process

	outpostdBin, originBin, nginxBin string
	origin                           string // http://127.0.0.1:port
	mediaPath                        string // origin path of the played media playlist
	wrkSize                          int64  // bytes of the wrk object
}

// result is what one edge did.
type result struct {
	name     string
	version  string
	runs     map[int]*viewerload.Report
	cpu      map[int]time.Duration
	idle     bench.Memory
	peak     bench.Memory
	peakN    int
	wrk      *bench.WrkResult
	wrkError string
}

// run performs the whole comparison and writes the Markdown report to stdout.
func run(ctx context.Context, opts options, stdout io.Writer, log *slog.Logger) (err error) {
	dir := opts.workDir
	if dir == "" {
		dir, err = os.MkdirTemp("", "bench-edge-")
	} else {
		opts.keep = true
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	// nginx workers run as nobody when the harness is root: they must reach the prefix.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	h := &harness{opts: opts, log: log, dir: dir}
	defer func() {
		h.stopAll()
		if err != nil || opts.keep {
			log.Info("work directory kept (logs, configs, JSON reports)", "dir", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	started := time.Now()
	if err := h.prepare(ctx); err != nil {
		return err
	}
	var results []*result
	for _, name := range opts.targets {
		r, err := h.measure(ctx, name)
		if err != nil {
			return fmt.Errorf("measure %s: %w", name, err)
		}
		results = append(results, r)
	}
	rep := h.markdown(results, started)
	if _, err := io.WriteString(stdout, rep); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if opts.out != "" {
		if err := os.WriteFile(opts.out, []byte(rep), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}

// prepare builds what is missing, starts the demo origin and finds the media playlist.
func (h *harness) prepare(ctx context.Context) error {
	h.outpostdBin, h.originBin = h.opts.outpostdBin, h.opts.demoOriginBin
	if err := h.build(ctx); err != nil {
		return err
	}
	var err error
	if h.nginxBin, err = findNginx(h.opts.nginxBin); err != nil && slices.Contains(h.opts.targets, "nginx") {
		return err
	}
	if _, err := exec.LookPath(h.opts.wrkBin); err != nil {
		return fmt.Errorf("find wrk: %w", err)
	}
	mediaDir := h.opts.mediaDir
	if mediaDir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("media dir: %w", err)
		}
		mediaDir = filepath.Join(cache, "outpost-demo") // the demo origin's own default
	}
	addr, err := bench.FreeLoopbackAddr()
	if err != nil {
		return err
	}
	args := []string{"-listen", addr, "-media-dir", mediaDir,
		"-rate-mbps", fmt.Sprint(h.opts.rateMbps), "-latency", h.opts.latency.String()}
	p, err := h.start("demo-origin", h.originBin, args)
	if err != nil {
		return err
	}
	h.origin = "http://" + addr
	h.log.Info("waiting for the demo origin (the first run encodes media)", "addr", addr, "media_dir", mediaDir)
	if err := p.WaitHTTP(ctx, h.origin+"/stats", originStartup); err != nil {
		return err
	}
	if h.mediaPath, err = resolveVariant(ctx, h.origin+"/live/master.m3u8", h.opts.variant); err != nil {
		return err
	}
	return nil
}

// build compiles the demo origin and outpostd unless their binaries were given.
func (h *harness) build(ctx context.Context) error {
	var pkgs []string
	bin := filepath.Join(h.dir, "bin")
	if h.originBin == "" {
		pkgs = append(pkgs, "./tools/cmd/demo-origin")
		h.originBin = filepath.Join(bin, "demo-origin")
	}
	if h.outpostdBin == "" && slices.Contains(h.opts.targets, "outpostd") {
		pkgs = append(pkgs, "./appliance/cmd/outpostd")
		h.outpostdBin = filepath.Join(bin, "outpostd")
	}
	if len(pkgs) == 0 {
		return nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	h.log.Info("building", "packages", pkgs)
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", bin + "/"}, pkgs...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, out)
	}
	return nil
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("find module root: run bench-edge inside the outpost module")
	}
	return filepath.Dir(mod), nil
}

func findNginx(flagValue string) (string, error) {
	for _, p := range []string{flagValue, "nginx", "/usr/sbin/nginx"} {
		if p == "" {
			continue
		}
		if bin, err := exec.LookPath(p); err == nil {
			return bin, nil
		}
	}
	return "", fmt.Errorf("find nginx: not on PATH nor in /usr/sbin (use -nginx)")
}

// start starts a child with its log in the work directory and remembers it for stopAll.
func (h *harness) start(name, bin string, args []string) (*bench.Process, error) {
	p, err := bench.StartProcess(name, bin, args, filepath.Join(h.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	h.procs = append(h.procs, p)
	h.log.Info("started", "name", name, "pid", p.PID(), "cmd", p.CommandLine)
	return p, nil
}

// stop stops one child and forgets it.
func (h *harness) stop(p *bench.Process) {
	if err := p.Stop(stopGrace); err != nil {
		h.log.Warn("stop", "name", p.Name, "err", err)
	}
	for i, q := range h.procs {
		if q == p {
			h.procs = append(h.procs[:i], h.procs[i+1:]...)
			break
		}
	}
}

// stopAll stops every child still running, newest first.
func (h *harness) stopAll() {
	for len(h.procs) > 0 {
		h.stop(h.procs[len(h.procs)-1])
	}
}

// resolveVariant returns the path of variant i of the multivariant playlist at u.
func resolveVariant(ctx context.Context, u string, i int) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("resolve variant: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("resolve variant: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("resolve variant: GET %s: %s %v", u, resp.Status, err)
	}
	pl, err := viewerload.ParsePlaylist(body)
	if err != nil {
		return "", fmt.Errorf("resolve variant: %w", err)
	}
	if i >= len(pl.Variants) {
		return "", fmt.Errorf("resolve variant %d of %d: %w", i, len(pl.Variants), viewerload.ErrNoVariant)
	}
	base, _ := url.Parse(u)
	ref, err := url.Parse(pl.Variants[i].URI)
	if err != nil {
		return "", fmt.Errorf("resolve variant: %w", err)
	}
	return base.ResolveReference(ref).Path, nil
}

// measure starts one edge, runs every viewer count and wrk against it, and stops it.
func (h *harness) measure(ctx context.Context, name string) (*result, error) {
	p, edge, version, err := h.startEdge(ctx, name)
	if err != nil {
		return nil, err
	}
	defer h.stop(p)
	r := &result{name: name, version: version, runs: map[int]*viewerload.Report{}, cpu: map[int]time.Duration{}}
	r.idle, _ = bench.TreeMemory(p.PID())
	maxN := h.opts.viewers[len(h.opts.viewers)-1]
	for i, n := range h.opts.viewers {
		if i > 0 && !sleepCtx(ctx, h.opts.cooldown) {
			return nil, ctx.Err()
		}
		var sampler *bench.RSSSampler
		if n == maxN {
			sampler = bench.StartRSSSampler(p.PID(), 250*time.Millisecond)
		}
		cpu0, _ := bench.TreeCPU(p.PID())
		h.log.Info("viewers", "edge", name, "n", n, "duration", h.opts.duration)
		rep, err := viewerload.Run(ctx, viewerload.Config{
			URL:            edge + "/o/demo/live/master.m3u8",
			Variant:        h.opts.variant,
			Viewers:        n,
			Duration:       h.opts.duration,
			JoinJitter:     h.opts.joinJitter,
			OriginStats:    h.origin + "/stats",
			OriginPlaylist: h.origin + h.mediaPath,
			Logger:         h.log.With("edge", name, "n", n),
		})
		cpu1, _ := bench.TreeCPU(p.PID())
		if sampler != nil {
			r.peak, _ = sampler.Stop()
			r.peakN = n
		}
		if err != nil {
			return nil, fmt.Errorf("%d viewers: %w", n, err)
		}
		select {
		case <-p.Done():
			return nil, fmt.Errorf("%d viewers: %s: %w (see %s)", n, name, bench.ErrExited, h.dir)
		default:
		}
		r.runs[n], r.cpu[n] = rep, cpu1-cpu0
		h.saveJSON(fmt.Sprintf("%s-%d.json", name, n), rep)
		rep.WriteText(os.Stderr)
	}
	if !sleepCtx(ctx, h.opts.cooldown) {
		return nil, ctx.Err()
	}
	r.wrk, err = h.runWrk(ctx, name, edge)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		h.log.Warn("wrk", "edge", name, "err", err)
		r.wrkError = err.Error()
	}
	return r, nil
}

// startEdge starts outpostd or nginx on a free port and waits until it serves the
// stream. It returns the process, the edge's base URL and its version.
func (h *harness) startEdge(ctx context.Context, name string) (*bench.Process, string, string, error) {
	addr, err := bench.FreeLoopbackAddr()
	if err != nil {
		return nil, "", "", err
	}
	var (
		p       *bench.Process
		version string
		ready   string
	)
	switch name {
	case "outpostd":
		conf := filepath.Join(h.dir, "outpostd.yaml")
		if err := os.WriteFile(conf, []byte(outpostdConfig(addr, h.origin, filepath.Join(h.dir, "outpostd-data"), h.opts.wanMbps)), 0o644); err != nil {
			return nil, "", "", fmt.Errorf("write outpostd config: %w", err)
		}
		version = firstLine(exec.CommandContext(ctx, h.outpostdBin, "-version").CombinedOutput())
		if p, err = h.start("outpostd", h.outpostdBin, []string{"-config", conf}); err != nil {
			return nil, "", "", err
		}
		ready = "http://" + addr + "/api/v1/status"
	case "nginx":
		prefix := filepath.Join(h.dir, "nginx")
		conf, err := bench.RenderNginx(bench.NginxConfig{Prefix: prefix, Listen: addr, Origin: strings.TrimPrefix(h.origin, "http://")})
		if err != nil {
			return nil, "", "", err
		}
		version = firstLine(exec.CommandContext(ctx, h.nginxBin, "-v").CombinedOutput())
		if p, err = bench.StartNginx(h.nginxBin, prefix, conf); err != nil {
			return nil, "", "", err
		}
		h.procs = append(h.procs, p)
		h.log.Info("started", "name", "nginx", "pid", p.PID(), "cmd", p.CommandLine)
		ready = "http://" + addr + "/o/demo/live/master.m3u8"
	default:
		return nil, "", "", fmt.Errorf("unknown edge %q", name)
	}
	if err := p.WaitHTTP(ctx, ready, 30*time.Second); err != nil {
		h.stop(p)
		return nil, "", "", err
	}
	return p, "http://" + addr, version, nil
}

// outpostdConfig is the site config for the edge under test.
func outpostdConfig(listen, origin, dataDir string, wanMbps float64) string {
	return fmt.Sprintf(`# bench-edge: outpostd under test
site: bench
listen: %s
data_dir: %s
origins:
  - name: demo
    url: %s/
wan:
  max_mbps: %g
cache:
  max_bytes: 1GiB
log:
  level: warn
`, listen, dataDir, origin, wanMbps)
}

// runWrk warms the cache with the wrk object, then runs wrk against it.
func (h *harness) runWrk(ctx context.Context, name, edge string) (*bench.WrkResult, error) {
	u := edge + "/o/demo" + h.opts.wrkPath
	for range 2 {
		n, err := getCount(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("warm %s: %w", u, err)
		}
		h.wrkSize = n
	}
	o := bench.WrkOptions{Bin: h.opts.wrkBin, URL: u, Threads: h.opts.wrkThreads, Conns: h.opts.wrkConns, Duration: h.opts.wrkDuration}
	h.log.Info("wrk", "edge", name, "args", strings.Join(o.Args(), " "))
	res, out, err := bench.RunWrk(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(h.dir, "wrk-"+name+".txt"), []byte(out), 0o644); err != nil {
		h.log.Warn("save wrk output", "err", err)
	}
	return &res, nil
}

func getCount(ctx context.Context, u string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %s", resp.Status)
	}
	return n, err
}

func (h *harness) saveJSON(name string, rep *viewerload.Report) {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(h.dir, name), b, 0o644)
	}
	if err != nil {
		h.log.Warn("save report", "name", name, "err", err)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func firstLine(out []byte, _ error) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return s
}
