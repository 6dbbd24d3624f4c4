//go:build boottest && linux

// The boot test: build (or take) an image, boot it under qemu with UEFI
// firmware, and check what a box must do: on the serial console, in
// /api/v1/status's boot report (board, slot, hostname, boot number, problems,
// watchdog, clock, network) and through the logs API (/api/v1/logs, with a
// token written into the data partition's config between boots). It runs with
//
//	go test -tags boottest -run TestBoot -timeout 40m ./tools/image/
//
// (board/image-test.sh, `make image-test`). Environment: OUTPOST_BOARD
// (default pc-x86_64), OUTPOST_IMAGE (a built image; default: build one),
// OUTPOST_CACHE, OUTPOST_QEMU_ACCEL (tcg, the default, or kvm),
// OUTPOST_BENCH_OUT (append the measured figures as JSON lines).

package image

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/outpost-ecdn/outpost/board"
	"github.com/outpost-ecdn/outpost/rootfs/layout"
	"github.com/outpost-ecdn/outpost/rootfs/netup"
	"github.com/outpost-ecdn/outpost/rootfs/pid1"
	"golang.org/x/sys/unix"
)

// bootTimeout bounds each boot (OUTPOST_BOOT_TIMEOUT, default 4m).
var bootTimeout = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("OUTPOST_BOOT_TIMEOUT")); err == nil {
		return d
	}
	return 4 * time.Minute
}()

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// testImage returns a fresh image for the board.
func testImage(t *testing.T, b *board.Board) string {
	if p := os.Getenv("OUTPOST_IMAGE"); p != "" {
		return p
	}
	cache := env("OUTPOST_CACHE", filepath.Join(os.TempDir(), "outpost-image-cache"))
	src, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "outpost.img")
	res, err := Build(context.Background(), Config{Board: b, Out: out, CacheDir: cache, SourceDir: src, Version: "boottest", Epoch: 1764000000, Log: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Image
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// vm is one running qemu.
type vm struct {
	t       *testing.T
	b       *board.Board
	cmd     *exec.Cmd
	exited  chan struct{} // closed when qemu exited; err holds how
	err     error
	serial  string
	qmp     string
	port    int
	started time.Time
	// watchdog: the machine has the board's watchdog device.
	watchdog bool
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// boot starts qemu on disk. Firmware variables persist in dir across boots,
// like a real box's NVRAM.
// opts.LonelyNIC and opts.NoWatchdog vary the machine; its other fields are set here.
func boot(t *testing.T, b *board.Board, dir, disk, name string, opts board.VM) *vm {
	t.Helper()
	vars := filepath.Join(dir, "vars.fd")
	if _, err := os.Stat(vars); err != nil {
		raw, err := os.ReadFile(b.QEMU.FirmwareVars)
		if err != nil {
			t.Fatalf("firmware vars (apt-get install ovmf / qemu-efi-aarch64): %v", err)
		}
		if err := os.WriteFile(vars, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v := &vm{t: t, b: b, serial: filepath.Join(dir, name+".serial.log"), qmp: filepath.Join(dir, name+".qmp"), port: freePort(t), exited: make(chan struct{})}
	bin, args := b.QEMUCommand(board.VM{Disk: disk, Vars: vars, Serial: v.serial, QMP: v.qmp, HostPort: v.port, Accel: env("OUTPOST_QEMU_ACCEL", "tcg"),
		LonelyNIC: opts.LonelyNIC, NoWatchdog: opts.NoWatchdog})
	v.watchdog = slices.Contains(args, "i6300esb")
	v.cmd = exec.Command(bin, args...)
	out, err := os.Create(filepath.Join(dir, name+".qemu.log"))
	if err != nil {
		t.Fatal(err)
	}
	v.cmd.Stdout, v.cmd.Stderr = out, out
	// qemu dies with the test, even when a timeout or signal skips Cleanup.
	v.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	v.started = time.Now()
	if err := v.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Logf("%s: qemu pid %d, serial %s, http://127.0.0.1:%d", name, v.cmd.Process.Pid, v.serial, v.port)
	go func() { v.err = v.cmd.Wait(); out.Close(); close(v.exited) }()
	t.Cleanup(func() { v.kill() })
	return v
}

// kill ends this qemu (by its own PID) if it still runs.
func (v *vm) kill() {
	select {
	case <-v.exited:
		return
	default:
	}
	v.cmd.Process.Kill()
	select {
	case <-v.exited:
	case <-time.After(30 * time.Second):
	}
}

func (v *vm) log() string {
	b, _ := os.ReadFile(v.serial)
	return string(b)
}

func (v *vm) fail(format string, args ...any) {
	v.t.Helper()
	tail := v.log()
	if len(tail) > 6000 {
		tail = tail[len(tail)-6000:]
	}
	v.t.Fatalf(format+"\n--- serial console (tail) ---\n%s", append(args, tail)...)
}

// waitServing polls GET /api/v1/status through the host forward and returns
// the time from qemu's start.
func (v *vm) waitServing() time.Duration {
	v.t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/api/v1/status", v.port)
	deadline := time.Now().Add(bootTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-v.exited:
			v.fail("qemu exited before serving: %v", v.err)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && json.Valid(body) {
				return time.Since(v.started)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	v.fail("no answer from %s within %v", url, bootTimeout)
	return 0
}

// waitLog waits until the serial console matches re.
func (v *vm) waitLog(re string, within time.Duration) []string {
	v.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if m := rx.FindStringSubmatch(v.log()); m != nil {
			return m
		}
		time.Sleep(500 * time.Millisecond)
	}
	v.fail("serial console never matched %q within %v", re, within)
	return nil
}

// qmpCommand sends one QMP command (a JSON object).
func (v *vm) qmpCommand(cmd string) {
	v.t.Helper()
	c, err := net.DialTimeout("unix", v.qmp, 10*time.Second)
	if err != nil {
		v.t.Fatalf("QMP: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil { // greeting
		v.t.Fatalf("QMP greeting: %v", err)
	}
	for _, m := range []string{`{"execute":"qmp_capabilities"}`, cmd} {
		fmt.Fprintln(c, m)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				v.t.Fatalf("QMP %s: %v", m, err)
			}
			if strings.Contains(line, `"return"`) {
				break
			}
			if strings.Contains(line, `"error"`) {
				v.t.Fatalf("QMP %s: %s", m, line)
			}
		}
	}
}

// powerOff presses the power button and waits for a clean poweroff.
func (v *vm) powerOff() {
	v.t.Helper()
	v.qmpCommand(`{"execute":"system_powerdown"}`)
	select {
	case <-v.exited:
		if v.err != nil {
			v.fail("qemu exited with %v after the power button", v.err)
		}
	case <-time.After(2 * time.Minute):
		v.fail("no poweroff within 2 minutes of the power button")
	}
	if !strings.Contains(v.log(), `msg=bye init=outpost reason=poweroff`) {
		v.fail("the init did not report a clean poweroff")
	}
}

// ctrlAltDel sends Ctrl-Alt-Del: the kernel signals the init, which reboots
// cleanly (qemu runs with -no-reboot, so it exits).
func (v *vm) ctrlAltDel() {
	v.t.Helper()
	v.qmpCommand(`{"execute":"send-key","arguments":{"keys":[{"type":"qcode","data":"ctrl"},{"type":"qcode","data":"alt"},{"type":"qcode","data":"delete"}]}}`)
	select {
	case <-v.exited:
	case <-time.After(2 * time.Minute):
		v.fail("no reboot within 2 minutes of Ctrl-Alt-Del")
	}
	if !strings.Contains(v.log(), `msg=bye init=outpost reason=reboot`) {
		v.fail("the init did not report a clean reboot")
	}
}

func count(s, sub string) int { return strings.Count(s, sub) }

// partitions reads the GPT of the disk file.
func partitions(t *testing.T, disk string) []*gpt.Partition {
	t.Helper()
	f, err := os.Open(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := gpt.Read(f, 512, 512)
	if err != nil {
		t.Fatalf("read GPT: %v", err)
	}
	return tab.Partitions
}

func partitionByName(t *testing.T, disk, name string) *gpt.Partition {
	t.Helper()
	var found *gpt.Partition
	for _, p := range partitions(t, disk) {
		if p.Name == name {
			if found != nil {
				t.Fatalf("two partitions named %q", name)
			}
			found = p
		}
	}
	return found
}

// readData reads a file from the data partition (ext4) of the disk file.
func readData(t *testing.T, disk, path string) string {
	t.Helper()
	p := partitionByName(t, disk, board.LabelData)
	if p == nil {
		t.Fatal("no data partition")
	}
	// e2fsprogs reads a filesystem at an offset inside a file.
	out, err := exec.Command("debugfs", "-R", "cat "+path, fmt.Sprintf("%s?offset=%d", disk, p.Start*512)).Output()
	if err != nil {
		t.Fatalf("debugfs cat %s: %v", path, err)
	}
	return string(out)
}

// writeData puts a file onto the data partition (ext4) of the disk file, the
// box being off: debugfs writes at the partition's offset. It replaces an
// existing file and reads it back.
func writeData(t *testing.T, disk, path string, data []byte) {
	t.Helper()
	p := partitionByName(t, disk, board.LabelData)
	if p == nil {
		t.Fatal("no data partition")
	}
	src := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	fs := fmt.Sprintf("%s?offset=%d", disk, p.Start*512)
	exec.Command("debugfs", "-w", "-R", "rm "+path, fs).Run() // absent is fine
	if out, err := exec.Command("debugfs", "-w", "-R", "write "+src+" "+path, fs).CombinedOutput(); err != nil {
		t.Fatalf("debugfs write %s: %v\n%s", path, err, out)
	}
	if got := readData(t, disk, path); got != string(data) {
		t.Fatalf("%s on the data partition reads back %q", path, got)
	}
}

// removeData deletes a file from the data partition of the disk file.
func removeData(t *testing.T, disk, path string) {
	t.Helper()
	p := partitionByName(t, disk, board.LabelData)
	fs := fmt.Sprintf("%s?offset=%d", disk, p.Start*512)
	if out, err := exec.Command("debugfs", "-w", "-R", "rm "+path, fs).CombinedOutput(); err != nil {
		t.Fatalf("debugfs rm %s: %v\n%s", path, err, out)
	}
	if got := readData(t, disk, path); got != "" {
		t.Fatalf("%s is still on the data partition: %q", path, got)
	}
}

// get fetches a path through the host forward, with a bearer token if given.
func (v *vm) get(path, token string) (int, string) {
	v.t.Helper()
	req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", v.port, path), nil)
	if err != nil {
		v.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		v.fail("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, string(b)
}

// report returns the init's boot report as /api/v1/status shows it.
func (v *vm) report() *pid1.Report {
	v.t.Helper()
	code, body := v.get("/api/v1/status", "")
	var st struct {
		Boot *pid1.Report `json:"boot"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil || st.Boot == nil {
		v.fail("GET /api/v1/status: %d, no boot report: %.2000s", code, body)
	}
	return st.Boot
}

// waitReport polls the boot report until ok says yes.
func (v *vm) waitReport(what string, ok func(*pid1.Report) bool, within time.Duration) *pid1.Report {
	v.t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := v.report()
		if ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(r, "", "  ")
			v.fail("the boot report never showed %s within %v:\n%s", what, within, b)
		}
		time.Sleep(2 * time.Second)
	}
}

func dataProblems(r *pid1.Report) []string {
	var out []string
	for _, p := range r.Problems {
		if strings.HasPrefix(p, "data:") {
			out = append(out, p)
		}
	}
	return out
}

// checkReport checks what every boot must report: this board, slot a, the
// hostname the console printed, the boot's number on this data partition,
// the watchdog as the board's qemu machine has it, and data problems exactly
// when dataProblem is not "" (then one containing it).
func (v *vm) checkReport(boot int, dataProblem string) *pid1.Report {
	v.t.Helper()
	r := v.waitReport(fmt.Sprintf("boot %d", boot), func(r *pid1.Report) bool { return r.Boot != 0 }, time.Minute)
	host := v.waitLog(`msg=hostname init=outpost name=(\S+)`, time.Second)[1]
	if r.Board != v.b.Name || r.Slot != "a" || r.Hostname != host || !strings.HasPrefix(host, "outpost") || r.Boot != boot {
		v.fail("boot report: board %q slot %q hostname %q (console: %q) boot %d; want %s, a, boot %d", r.Board, r.Slot, r.Hostname, host, r.Boot, v.b.Name, boot)
	}
	dp := dataProblems(r)
	switch {
	case dataProblem == "" && len(dp) > 0:
		v.fail("boot report: data problems on a boot without any: %q", dp)
	case dataProblem != "" && (len(dp) != 1 || !strings.Contains(dp[0], dataProblem)):
		v.fail("boot report: data problems %q, want one saying %q", dp, dataProblem)
	}
	if v.watchdog {
		if w := r.Watchdog; !w.Present || !strings.Contains(strings.ToLower(w.Driver), "i6300esb") || w.Timeout != 30 || w.Problem != "" {
			v.fail("boot report: watchdog %+v, want the i6300esb the qemu machine has, armed for 30 s", w)
		}
	} else if r.Watchdog.Problem != "no hardware watchdog" {
		v.fail("boot report: watchdog %+v, want the problem \"no hardware watchdog\"", r.Watchdog)
	}
	// The NIC on qemu's user network has a carrier (link events reach the init).
	if i := slices.IndexFunc(r.Network, func(l netup.LinkStatus) bool { return l.Name == "eth0" }); i < 0 || !r.Network[i].Carrier {
		v.fail("boot report: eth0 missing or without carrier: %+v", r.Network)
	}
	v.t.Logf("boot report: boot %d, hostname %s, watchdog %q (%d s), network %+v, problems %q", r.Boot, r.Hostname, r.Watchdog.Driver, r.Watchdog.Timeout, r.Network, r.Problems)
	return r
}

// checkNoNTP waits for the first NTP round: qemu's restricted user network
// lets no NTP through, so the clock must say no server answered, name where
// its servers came from, list the problem, and the box must still serve.
func (v *vm) checkNoNTP(from string, server string) {
	v.t.Helper()
	r := v.waitReport("an NTP round", func(r *pid1.Report) bool { return r.Clock.Problem != "" || r.Clock.Synced }, 2*time.Minute)
	c := r.Clock
	if c.Synced || c.ServersFrom != from || !strings.Contains(c.Problem, "no NTP server answered") || !strings.Contains(c.Problem, server) {
		v.fail("clock %+v: want not synced, servers_from %q, a problem saying no NTP server (%s) answered", c, from, server)
	}
	if !slices.ContainsFunc(r.Problems, func(p string) bool { return strings.Contains(p, "NO NTP SERVER ANSWERED") }) {
		v.fail("problems %q do not mention NTP", r.Problems)
	}
	if code, _ := v.get("/healthz", ""); code != http.StatusOK {
		v.fail("the box stopped serving without NTP: /healthz %d", code)
	}
	v.t.Logf("clock: servers_from %s, problem %.300s", c.ServersFrom, c.Problem)
}

func linkStatus(r *pid1.Report, name string) (mode, addr string) {
	for _, l := range r.Network {
		if l.Name == name {
			return string(l.Mode), l.Addr
		}
	}
	return "", ""
}

// checkLogs fetches the persisted logs with the token: init.log and
// outpostd.log are listed, and init.log holds the previous boot's
// "boot recorded" line as well as this boot's.
func (v *vm) checkLogs(token string, boot int) {
	v.t.Helper()
	code, body := v.get("/api/v1/logs", token)
	var list []struct {
		Name  string `json:"name"`
		Bytes int64  `json:"bytes"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil {
		v.fail("GET /api/v1/logs: %d %q", code, body)
	}
	names := map[string]int64{}
	for _, l := range list {
		names[l.Name] = l.Bytes
	}
	if names["init.log"] == 0 || names["outpostd.log"] == 0 {
		v.fail("GET /api/v1/logs lists %q, want non-empty init.log and outpostd.log", body)
	}
	code, initLog := v.get("/api/v1/logs/init.log", token)
	for _, b := range []int{boot - 1, boot} {
		if want := fmt.Sprintf(`data: boot recorded" init=outpost boot=%d `, b); code != http.StatusOK || !strings.Contains(initLog, want) {
			v.fail("init.log (%d, %d bytes) lacks %q: the previous boot's lines must survive", code, len(initLog), want)
		}
	}
	code, tail := v.get("/api/v1/logs/outpostd.log?tail=5", token)
	if n := strings.Count(tail, "\n"); code != http.StatusOK || n == 0 || n > 5 {
		v.fail("outpostd.log?tail=5: %d, %d lines:\n%s", code, n, tail)
	}
	if code, _ := v.get("/api/v1/logs/init.log", "wrong-token-0123456789"); code != http.StatusUnauthorized {
		v.fail("init.log with a wrong token: %d, want 401", code)
	}
	v.t.Logf("logs: %v; outpostd.log ends %q", names, tail)
}

// espEntries lists the boot loader entries on the ESP of the disk file
// (mtools reads the FAT at the ESP's offset).
func espEntries(t *testing.T, disk string) []string {
	t.Helper()
	p := partitionByName(t, disk, board.LabelESP)
	out, err := exec.Command("mdir", "-b", "-i", fmt.Sprintf("%s@@%d", disk, p.Start*512), "::/loader/entries").CombinedOutput()
	if err != nil {
		t.Fatalf("mdir: %v\n%s", err, out)
	}
	var names []string
	for _, l := range strings.Fields(string(out)) {
		names = append(names, filepath.Base(l))
	}
	return names
}

type figures struct {
	Board          string  `json:"board"`
	Accel          string  `json:"accel"`
	Boot           string  `json:"boot"`
	ServingSeconds float64 `json:"qemu_start_to_serving_s"`
	KernelToServe  string  `json:"kernel_start_to_serving"`
	InitRSSKiB     string  `json:"init_rss_kib,omitempty"`
	OutpostdRSSKiB string  `json:"outpostd_rss_kib,omitempty"`
}

func record(t *testing.T, f figures) {
	t.Logf("FIGURES %s boot %q (%s): qemu start to serving %.1fs, kernel start to serving %s, RSS init %s KiB, outpostd %s KiB",
		f.Board, f.Boot, f.Accel, f.ServingSeconds, f.KernelToServe, f.InitRSSKiB, f.OutpostdRSSKiB)
	if p := os.Getenv("OUTPOST_BENCH_OUT"); p != "" {
		b, _ := json.Marshal(f)
		fh, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fh.Write(append(b, '\n'))
			fh.Close()
		}
	}
}

func TestBoot(t *testing.T) {
	b, err := board.Lookup(env("OUTPOST_BOARD", "pc-x86_64"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath(b.QEMU.Binary); err != nil {
		t.Fatalf("%s not installed (apt-get install qemu-system-x86 qemu-system-arm)", b.QEMU.Binary)
	}
	img := testImage(t, b)
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.img")
	// The image on a 1 GiB disk, as dd to a bigger disk leaves it.
	if out, err := exec.Command("cp", "--sparse=always", img, disk).CombinedOutput(); err != nil {
		t.Fatalf("copy image: %v %s", err, out)
	}
	if err := os.Truncate(disk, 1<<30); err != nil {
		t.Fatal(err)
	}
	accel := env("OUTPOST_QEMU_ACCEL", "tcg")
	measure := func(v *vm, name string, serving time.Duration) {
		m := v.waitLog(`since_kernel_start=(\S+)`, time.Minute)
		rss := v.waitLog(`msg="idle memory" init=outpost init_rss_kib=(\d+) outpostd_rss_kib=(\d+)`, 2*time.Minute)
		record(t, figures{Board: b.Name, Accel: accel, Boot: name, ServingSeconds: serving.Seconds(), KernelToServe: m[1], InitRSSKiB: rss[1], OutpostdRSSKiB: rss[2]})
	}

	t.Run("first boot creates the data partition and serves", func(t *testing.T) {
		v := boot(t, b, dir, disk, "boot1", board.VM{})
		serving := v.waitServing()
		v.waitLog(`boot counting: this slot is good.*entry=outpost-a\.conf`, time.Minute)
		measure(v, "first", serving)
		log := v.log()
		if n := count(log, "data: first boot, creating the data partition"); n != 1 {
			v.fail("data partition created %d times on the first boot, want once", n)
		}
		if !strings.Contains(log, `msg="data partition" init=outpost state=created`) {
			v.fail("data partition not reported created")
		}
		for _, bad := range []string{"DATA PARTITION", "FATAL", "panic"} {
			if strings.Contains(log, bad) {
				v.fail("serial console says %q on a healthy first boot", bad)
			}
		}
		r := v.checkReport(1, "")
		// (libslirp's DHCP names no router and no DNS server under restrict=on.)
		if mode, addr := linkStatus(r, "eth0"); mode != "dhcp" || addr != "10.0.2.15/24" {
			v.fail("eth0 in the boot report: %s %s, want a DHCP lease of 10.0.2.15/24", mode, addr)
		}
		v.checkNoNTP(pid1.NTPFromDefault, "pool.ntp.org")
		// The image ships no token: the logs API is there and refuses.
		if code, body := v.get("/api/v1/logs", ""); code != http.StatusForbidden || !strings.Contains(body, "diag.api_token") {
			v.fail("GET /api/v1/logs without a configured token: %d %q, want 403 naming diag.api_token", code, body)
		}
		v.powerOff()
		if p := partitionByName(t, disk, board.LabelData); p == nil || int64(p.Size) < b.DataMinSize {
			t.Fatalf("data partition after the first boot: %+v", p)
		}
		entries := strings.Join(espEntries(t, disk), " ")
		if !strings.Contains(entries, "outpost-a.conf") || !strings.Contains(entries, "outpost-b+3.conf") {
			t.Fatalf("ESP entries %q: want slot A blessed (outpost-a.conf) and B untouched (outpost-b+3.conf)", entries)
		}
	})
	if t.Failed() {
		return
	}

	// From the second boot on, the box's config on the data partition carries a
	// diagnostics token (the logs API needs one; the image ships none, as a
	// fleet-wide secret would be) and its own NTP server.
	def, err := layout.Files.ReadFile("files" + layout.OutpostdDefault)
	if err != nil {
		t.Fatal(err)
	}
	token := fmt.Sprintf("boottest-%x", time.Now().UnixNano())
	conf := fmt.Sprintf("%sdiag:\n  api_token: %s\nntp:\n  servers: [\"10.0.2.2:123\"]\n", def, token)

	t.Run("second boot keeps the data partition", func(t *testing.T) {
		writeData(t, disk, "/"+layout.OutpostdConf, []byte(conf))
		v := boot(t, b, dir, disk, "boot2", board.VM{LonelyNIC: true})
		serving := v.waitServing()
		v.waitLog(`data: boot recorded" init=outpost boot=2 earlier_boots=1`, time.Minute)
		measure(v, "second", serving)
		// The second NIC sits on an empty hub: no DHCP there.
		v.waitLog(`NO DHCP ANSWER: using a link-local address.*link=eth1 addr=169\.254\.`, 2*time.Minute)
		log := v.log()
		if strings.Contains(log, "creating the data partition") || strings.Contains(log, "DATA PARTITION") {
			v.fail("the second boot touched the data partition")
		}
		if !strings.Contains(log, `msg="data partition" init=outpost state=mounted`) {
			v.fail("data partition not mounted as is")
		}
		r := v.checkReport(2, "")
		if mode, _ := linkStatus(r, "eth1"); mode != "link-local" {
			v.fail("eth1 in the boot report: %q, want link-local", mode)
		}
		v.checkNoNTP(pid1.NTPFromConfig, "10.0.2.2:123")
		v.checkLogs(token, 2)
		v.powerOff()
		boots := readData(t, disk, "/outpost/boots.log")
		if n := strings.Count(boots, "\n"); n != 2 || !strings.HasPrefix(boots, "boot=1 slot=a") {
			t.Fatalf("boots.log on the data partition:\n%s\nwant two boots, the first from the first boot", boots)
		}
		n := 0
		for _, p := range partitions(t, disk) {
			if p.Name == board.LabelData {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d data partitions, want 1", n)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("damaged superblock is repaired by fsck, data kept, static network", func(t *testing.T) {
		// A static setting for the first NIC, with qemu's user network values so
		// the host forward still reaches the box.
		network := `{"address": "10.0.2.15/24", "gateway": "10.0.2.2", "dns": ["10.0.2.3"]}` + "\n"
		writeData(t, disk, "/"+layout.NetworkConf, []byte(network))
		// Wipe the primary ext4 superblock (bytes 1024-2047 of the partition);
		// e2fsck finds a backup.
		p := partitionByName(t, disk, board.LabelData)
		f, err := os.OpenFile(disk, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt(make([]byte, 1024), int64(p.Start)*512+1024)
		f.Close()
		v := boot(t, b, dir, disk, "boot3", board.VM{})
		v.waitServing()
		v.waitLog(`DATA PARTITION REPAIRED by fsck`, time.Minute)
		v.waitLog(`state=mounted`, time.Minute)
		v.waitLog(`data: boot recorded" init=outpost boot=3 earlier_boots=2`, time.Minute)
		v.waitLog(`msg="net: static address" init=outpost link=eth0 addr=10\.0\.2\.15/24 gateway=10\.0\.2\.2`, time.Minute)
		r := v.checkReport(3, "fsck repaired")
		if mode, addr := linkStatus(r, "eth0"); mode != "static" || addr != "10.0.2.15/24" {
			v.fail("eth0 in the boot report: %s %s, want static 10.0.2.15/24", mode, addr)
		}
		if regexp.MustCompile(`msg="net: DHCP[^"]*" init=outpost link=eth0`).MatchString(v.log()) {
			v.fail("eth0 has a static setting but ran DHCP")
		}
		v.checkLogs(token, 3) // the config with the token survived the repair
		v.powerOff()
		removeData(t, disk, "/"+layout.NetworkConf)
	})
	if t.Failed() {
		return
	}

	t.Run("destroyed data partition is recreated loudly", func(t *testing.T) {
		// Zero the whole partition: no superblock, no backup.
		p := partitionByName(t, disk, board.LabelData)
		f, err := os.OpenFile(disk, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(p.Start)*512, int64(p.Size)); err != nil {
			t.Fatalf("punch the data partition: %v", err)
		}
		f.Close()
		v := boot(t, b, dir, disk, "boot4", board.VM{})
		v.waitServing()
		v.waitLog(`DATA PARTITION DAMAGED`, time.Minute)
		v.waitLog(`state=recreated`, time.Minute)
		v.waitLog(`data: boot recorded" init=outpost boot=1 `, time.Minute)
		v.checkReport(1, "RECREATED EMPTY: could not mount the old one")
		// The config with the token went with the partition: the image's default again.
		if code, _ := v.get("/api/v1/logs", token); code != http.StatusForbidden {
			v.fail("GET /api/v1/logs on a recreated data partition: %d, want 403 (default config)", code)
		}
		v.powerOff()
	})
	if t.Failed() {
		return
	}

	t.Run("missing data partition is recreated loudly, no watchdog", func(t *testing.T) {
		f, err := os.OpenFile(disk, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		tab, err := gpt.Read(f, 512, 512)
		if err != nil {
			t.Fatal(err)
		}
		var keep []*gpt.Partition
		for _, p := range tab.Partitions {
			if p.Name != board.LabelData {
				keep = append(keep, p)
			}
		}
		tab.Partitions = keep
		st, _ := f.Stat()
		if err := tab.Write(f, st.Size()); err != nil {
			t.Fatal(err)
		}
		f.Close()
		// This machine also lacks the watchdog: a board without one boots and says so.
		v := boot(t, b, dir, disk, "boot5", board.VM{NoWatchdog: true})
		v.waitServing()
		v.waitLog(`watchdog: none on this board; a hang will not reset the box`, time.Minute)
		v.waitLog(`DATA PARTITION MISSING: it was created before`, time.Minute)
		v.waitLog(`state=recreated`, time.Minute)
		v.checkReport(1, "RECREATED EMPTY: the partition was missing")
		if b.Name == "pc-x86_64" {
			v.ctrlAltDel() // a clean reboot this time (PS/2 keyboard on q35)
		} else {
			v.powerOff()
		}
	})
}
