package pid1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/config"
	"github.com/outpost-ecdn/outpost/rootfs/blockdev"
	"github.com/outpost-ecdn/outpost/rootfs/clock"
	"github.com/outpost-ecdn/outpost/rootfs/datapart"
	"github.com/outpost-ecdn/outpost/rootfs/layout"
	"github.com/outpost-ecdn/outpost/rootfs/netup"
	"github.com/outpost-ecdn/outpost/rootfs/supervise"
	"github.com/outpost-ecdn/outpost/rootfs/watchdog"
	"golang.org/x/sys/unix"
)

type box struct {
	log     *slog.Logger
	console io.Writer
	m       *layout.Manifest
	rep     *Report
	slot    string
	dog     *watchdog.Dog
	esp     string // mount point when mounted, "" otherwise
	espDev  string
	initLog *supervise.FileLog // init.log on the data partition; nil when it could not be opened

	mu  sync.Mutex
	ntp []string // from DHCP
}

// Stage2 runs as PID 1 in the root slot. It returns only to let the caller
// reboot after a fatal error; a requested poweroff or reboot ends in the
// reboot system call.
func Stage2(log *slog.Logger, console io.Writer) error {
	b := &box{log: log, console: console, slot: Slot(), rep: &Report{path: layout.StatusFile, Problems: []string{}}}
	if err := mountAll([]mount{
		{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
		{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755,size=20%"},
		{"tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777,size=20%"},
		{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666"},
		{"tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
	}); err != nil {
		log.Error("mounts", "err", err)
	}
	if _, err := os.Stat("/sys/firmware/efi"); err == nil {
		mountAll([]mount{{"efivarfs", "/sys/firmware/efi/efivars", "efivarfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""}})
	}
	raw, err := os.ReadFile(layout.ManifestPath)
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	if b.m, err = layout.ParseManifest(raw); err != nil {
		return err
	}
	stage2At := Uptime()
	b.rep.Update(func(r *Report) {
		r.Board, r.Version, r.BuildTime, r.Slot, r.Stage2At = b.m.Board, b.m.Version, b.m.BuildTime, b.slot, stage2At
	})
	log.Info("stage 2", "board", b.m.Board, "version", b.m.Version, "slot", b.slot, "kernel", b.m.Kernel)

	// Clock first: TLS and file times depend on it.
	if stepped, err := clock.Floor(b.m.BuildTime, clock.SetSystem); err != nil {
		b.problem("clock: " + err.Error())
	} else if stepped {
		log.Warn("clock: was before the build time; set to the build time until NTP answers", "build", b.m.BuildTime.UTC().Format(time.RFC3339))
	}
	unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF) // Ctrl-Alt-Del sends SIGINT to us

	for _, err := range RaiseSysctls() {
		log.Warn("kernel setting not applied", "err", err)
	}
	b.startWatchdog()
	host := Hostname()
	if err := unix.Sethostname([]byte(host)); err != nil {
		log.Error("hostname", "err", err)
	}
	b.rep.Update(func(r *Report) { r.Hostname = host })
	log.Info("hostname", "name", host)

	b.mountESP()
	data := datapart.Ensure(context.Background(), datapart.Config{
		Label:      "data",
		Type:       b.m.DataType,
		MinSize:    b.m.DataMinSize,
		Template:   layout.DataTemplate,
		Fsck:       layout.Fsck,
		MountPoint: layout.DataMount,
		DiskOf:     "root-" + b.slot,
		Marker:     &espMarker{esp: layout.ESPMount, remount: b.remountESP},
		Log:        log,
	})
	b.rep.Update(func(r *Report) { r.Data = data })
	switch data.State {
	case datapart.Mounted:
		if data.Detail != "" {
			b.problem("data: " + data.Detail)
		}
	case datapart.Volatile:
		b.problem("data: NO PERSISTENT DATA PARTITION, running on a tmpfs: " + data.Detail)
	case datapart.Recreated:
		b.problem("data: the data partition was RECREATED EMPTY: " + data.Detail)
	}
	log.Info("data partition", "state", data.State, "dev", data.Dev, "bytes", data.Size)
	b.persistLog()
	b.bootsLog()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.startNetwork(ctx)
	b.startClock(ctx)

	svcCtx, stopServices := context.WithCancel(ctx)
	sup := &supervise.Supervisor{Starter: &supervise.ProcStarter{}, Log: log, Console: console,
		LogDir: filepath.Join(layout.DataMount, layout.LogsDir)}
	supDone := make(chan struct{})
	services := []supervise.Service{b.outpostd()} // writes the default config first
	go func() {
		defer close(supDone)
		sup.Run(svcCtx, services)
	}()
	go b.watchServices(ctx, sup)
	go b.awaitServing(ctx, sup)

	reason := b.waitForShutdown(ctx)
	log.Warn("shutting down", "reason", reason)
	stopServices()
	select {
	case <-supDone:
	case <-time.After(30 * time.Second):
		log.Error("services did not stop in 30s")
	}
	b.shutdown(reason)
	return nil // not reached
}

func (b *box) problem(p string) {
	b.log.Error(p)
	b.rep.Problem(p)
}

func (b *box) startWatchdog() {
	d, err := watchdog.Open(watchdog.Device, 30*time.Second)
	switch {
	case errors.Is(err, watchdog.ErrAbsent):
		b.log.Warn("watchdog: none on this board; a hang will not reset the box")
		b.rep.Update(func(r *Report) { r.Watchdog = watchdog.Info{Problem: "no hardware watchdog"} })
		return
	case err != nil:
		b.problem(err.Error())
		return
	}
	b.dog = d
	info := d.Info()
	b.rep.Update(func(r *Report) { r.Watchdog = info })
	b.log.Info("watchdog: armed", "driver", info.Driver, "timeout_s", info.Timeout)
	if info.LastResetByWatchdog {
		b.problem("watchdog: THE LAST RESET WAS THE WATCHDOG (the box hung)")
	}
	go d.Run(context.Background())
}

// mountESP mounts the ESP read-only; it is writable only while the init
// writes the data marker or blesses the boot entry.
func (b *box) mountESP() {
	d, err := blockdev.ByLabel("ESP")
	if err != nil {
		b.log.Warn("ESP not found; boot counting and the data marker are unavailable", "err", err)
		return
	}
	if err := mountAll([]mount{{d.Dev, layout.ESPMount, "vfat", unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "umask=0077,shortname=mixed"}}); err != nil {
		b.log.Warn("ESP mount", "err", err)
		return
	}
	b.esp, b.espDev = layout.ESPMount, d.Dev
}

func (b *box) remountESP(rw bool) error {
	if b.esp == "" {
		return errors.New("ESP not mounted")
	}
	flags := uintptr(unix.MS_REMOUNT | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if !rw {
		unix.Sync()
		flags |= unix.MS_RDONLY
	}
	return unix.Mount(b.espDev, b.esp, "vfat", flags, "umask=0077,shortname=mixed")
}

// persistLog sends the init's log, from its first line on, to init.log on the
// data partition (a tmpfs when the data partition is volatile).
func (b *box) persistLog() {
	cw, ok := b.console.(*consoleWriter)
	if !ok {
		return
	}
	dir := filepath.Join(layout.DataMount, layout.LogsDir)
	os.MkdirAll(dir, 0o755)
	f, err := supervise.OpenFileLog(filepath.Join(dir, layout.InitLog), supervise.DefaultLogMax)
	if err != nil {
		b.log.Error("init log stays on the console only", "err", err)
		return
	}
	b.initLog = f
	fmt.Fprintf(f, "%s --- init: boot of slot %s, version %s ---\n", time.Now().UTC().Format(supervise.TimeFormat), b.slot, b.m.Version)
	cw.persist(f)
}

// closeLog ends init.log before the data partition is unmounted.
func (b *box) closeLog() {
	if b.initLog == nil {
		return
	}
	if cw, ok := b.console.(*consoleWriter); ok {
		cw.persist(nil)
	}
	if err := b.initLog.Close(); err != nil {
		b.log.Warn("init log", "err", err)
	}
	b.initLog = nil
}

// bootsLog appends this boot to the data partition's log, so a reboot shows
// that the data partition kept what was written.
func (b *box) bootsLog() {
	p := filepath.Join(layout.DataMount, layout.BootsLog)
	os.MkdirAll(filepath.Dir(p), 0o755)
	old, _ := os.ReadFile(p)
	n := strings.Count(string(old), "\n") + 1
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		b.log.Error("data: boots log", "err", err)
		return
	}
	fmt.Fprintf(f, "boot=%d slot=%s version=%s time=%s\n", n, b.slot, b.m.Version, time.Now().UTC().Format(time.RFC3339))
	f.Sync()
	f.Close()
	b.rep.Update(func(r *Report) { r.Boot = n })
	b.log.Info("data: boot recorded", "boot", n, "earlier_boots", n-1)
}

func (b *box) startNetwork(ctx context.Context) {
	var static *netup.Static
	if raw, err := os.ReadFile(filepath.Join(layout.DataMount, layout.NetworkConf)); err == nil {
		if static, err = netup.ParseStatic(raw); err != nil {
			b.problem("network: ignoring the static config: " + err.Error())
		}
	}
	host, _ := os.Hostname()
	go netup.Run(ctx, netup.Config{
		Hostname:   host,
		ResolvConf: layout.ResolvConf,
		Static:     static,
		Log:        b.log,
		OnChange: func(links []netup.LinkStatus) {
			var ntp []string
			for _, l := range links {
				ntp = append(ntp, l.NTP...)
			}
			b.mu.Lock()
			b.ntp = ntp
			b.mu.Unlock()
			b.rep.Update(func(r *Report) { r.Network = links })
		},
	})
}

func (b *box) startClock(ctx context.Context) {
	conf := filepath.Join(layout.DataMount, layout.OutpostdConf)
	s := &clock.Syncer{
		Floor: b.m.BuildTime,
		Servers: func() ([]string, string) {
			b.mu.Lock()
			dhcp := slices.Clone(b.ntp)
			b.mu.Unlock()
			return NTPServers(conf, dhcp)
		},
		Query: clock.NTPQuery,
		Set:   clock.SetSystem,
		Log:   b.log,
		OnChange: func(st clock.Status) {
			b.rep.Update(func(r *Report) { r.Clock = st })
			if st.Synced {
				b.rep.Resolve(problemNoNTP)
			} else {
				b.rep.Problem(problemNoNTP)
			}
		},
	}
	go func() {
		// Give DHCP a moment to name NTP servers; bounded, not a guess at readiness.
		t := time.NewTimer(5 * time.Second)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.Run(ctx)
	}()
}

// outpostd is the service definition, creating its config on first boot.
func (b *box) outpostd() supervise.Service {
	conf := filepath.Join(layout.DataMount, layout.OutpostdConf)
	if _, err := os.Stat(conf); errors.Is(err, os.ErrNotExist) {
		def, err := os.ReadFile(layout.OutpostdDefault)
		if err == nil {
			os.MkdirAll(filepath.Dir(conf), 0o755)
			err = writeSync(conf, def)
		}
		if err != nil {
			b.problem("outpostd: cannot write the default config: " + err.Error())
		} else {
			b.log.Info("outpostd: wrote the default config", "path", conf)
		}
	}
	dataDir := filepath.Join(layout.DataMount, layout.OutpostdData)
	os.MkdirAll(dataDir, 0o755)
	return supervise.Service{
		Name: "outpostd",
		Path: layout.Outpostd,
		Args: []string{"-config", conf},
		Dir:  dataDir,
		Env: []string{
			"PATH=/bin", "HOME=" + dataDir, "TZ=UTC",
			"ZONEINFO=" + layout.ZoneInfo,
			"SSL_CERT_FILE=" + layout.CACerts,
			"OUTPOST_BOOT_STATUS=" + layout.StatusFile,
			"OUTPOST_LOG_DIR=" + filepath.Join(layout.DataMount, layout.LogsDir),
		},
	}
}

func (b *box) watchServices(ctx context.Context, sup *supervise.Supervisor) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		st := sup.Status()
		b.rep.Update(func(r *Report) { r.Services = st })
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// awaitServing polls outpostd's status endpoint until it answers, prints the
// boot-to-serving time and blesses the boot entry.
func (b *box) awaitServing(ctx context.Context, sup *supervise.Supervisor) {
	addr := ":80"
	if cfg, err := config.Load(filepath.Join(layout.DataMount, layout.OutpostdConf)); err == nil {
		addr = cfg.Listen
	} else {
		b.problem("outpostd config: " + err.Error())
	}
	_, port, _ := net.SplitHostPort(addr)
	url := "http://" + netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(atoi(port))).String() + "/api/v1/status"
	client := &http.Client{Timeout: 2 * time.Second}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	up := Uptime()
	b.rep.Update(func(r *Report) { r.ServingAt = up })
	b.log.Info("SERVING: outpostd answers /api/v1/status", "since_kernel_start", up.Round(time.Millisecond))
	var blessed string
	err := errors.New("ESP not mounted")
	if b.esp != "" {
		err = (&espMarker{esp: b.esp, remount: b.remountESP}).write(func() error {
			var err error
			blessed, err = Bless(b.esp, b.slot)
			return err
		})
	}
	switch {
	case err != nil:
		b.problem("boot counting: cannot mark this boot good: " + err.Error())
	case blessed != "":
		b.log.Info("boot counting: this slot is good", "entry", blessed)
		b.rep.Update(func(r *Report) { r.Blessed = blessed })
	}
	// Idle memory, once things settled: the figure docs/BENCH.md tracks.
	t2 := time.NewTimer(20 * time.Second)
	defer t2.Stop()
	select {
	case <-ctx.Done():
		return
	case <-t2.C:
	}
	args := []any{"init_rss_kib", rssKiB(os.Getpid())}
	for _, st := range sup.Status() {
		if st.Pid > 0 {
			args = append(args, st.Name+"_rss_kib", rssKiB(st.Pid))
		}
	}
	b.log.Info("idle memory", args...)
}

// rssKiB reads VmRSS of a process.
func rssKiB(pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			return atoi(f[1])
		}
	}
	return 0
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// waitForShutdown returns "poweroff" or "reboot" when asked to.
func (b *box) waitForShutdown(ctx context.Context) string {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPWR)
	power := make(chan struct{}, 1)
	go watchPowerButton(ctx, b.log, power)
	select {
	case s := <-sigs:
		switch s {
		case syscall.SIGTERM, syscall.SIGINT:
			return "reboot"
		}
		return "poweroff"
	case <-power:
		return "poweroff"
	}
}

// shutdown stops whatever still runs, syncs and unmounts, and powers off or
// reboots.
func (b *box) shutdown(reason string) {
	unix.Kill(-1, unix.SIGTERM)
	time.Sleep(time.Second) // grace for stragglers; the reaper collects them
	unix.Kill(-1, unix.SIGKILL)
	b.closeLog()
	unix.Sync()
	for _, mp := range []string{layout.DataMount, layout.ESPMount} {
		if err := unix.Unmount(mp, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			b.log.Warn("unmount failed; remounting read-only", "path", mp, "err", err)
			unix.Mount("", mp, "", unix.MS_REMOUNT|unix.MS_RDONLY, "")
		}
	}
	unix.Sync()
	cmd := unix.LINUX_REBOOT_CMD_RESTART
	if reason == "poweroff" {
		cmd = unix.LINUX_REBOOT_CMD_POWER_OFF
	}
	if b.dog != nil {
		b.dog.Close(reason == "poweroff")
	}
	b.log.Info("bye", "reason", reason)
	unix.Reboot(cmd)
}

// Reboot is the last resort after a fatal error: sync and restart.
func Reboot(log *slog.Logger, why error) {
	log.Error("FATAL: rebooting in 10 s", "err", why)
	time.Sleep(10 * time.Second)
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	select {}
}
