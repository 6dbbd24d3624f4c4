//go:build boottest && linux

// The boot test: build (or take) an image, boot it under qemu with UEFI
// firmware, and check what a box must do. It runs with
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
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/outpost-ecdn/outpost/board"
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
func boot(t *testing.T, b *board.Board, dir, disk, name string, lonelyNIC bool) *vm {
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
	bin, args := b.QEMUCommand(board.VM{Disk: disk, Vars: vars, Serial: v.serial, QMP: v.qmp, HostPort: v.port, Accel: env("OUTPOST_QEMU_ACCEL", "tcg"), LonelyNIC: lonelyNIC})
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
		v := boot(t, b, dir, disk, "boot1", false)
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

	t.Run("second boot keeps the data partition", func(t *testing.T) {
		v := boot(t, b, dir, disk, "boot2", true)
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

	t.Run("damaged superblock is repaired by fsck, data kept", func(t *testing.T) {
		// Wipe the primary ext4 superblock (bytes 1024-2047 of the partition);
		// e2fsck finds a backup.
		p := partitionByName(t, disk, board.LabelData)
		f, err := os.OpenFile(disk, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt(make([]byte, 1024), int64(p.Start)*512+1024)
		f.Close()
		v := boot(t, b, dir, disk, "boot3", false)
		v.waitServing()
		v.waitLog(`DATA PARTITION REPAIRED by fsck`, time.Minute)
		v.waitLog(`state=mounted`, time.Minute)
		v.waitLog(`data: boot recorded" init=outpost boot=3 earlier_boots=2`, time.Minute)
		v.powerOff()
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
		v := boot(t, b, dir, disk, "boot4", false)
		v.waitServing()
		v.waitLog(`DATA PARTITION DAMAGED`, time.Minute)
		v.waitLog(`state=recreated`, time.Minute)
		v.waitLog(`data: boot recorded" init=outpost boot=1 `, time.Minute)
		v.powerOff()
	})
	if t.Failed() {
		return
	}

	t.Run("missing data partition is recreated loudly", func(t *testing.T) {
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
		v := boot(t, b, dir, disk, "boot5", false)
		v.waitServing()
		v.waitLog(`DATA PARTITION MISSING: it was created before`, time.Minute)
		v.waitLog(`state=recreated`, time.Minute)
		if b.Name == "pc-x86_64" {
			v.ctrlAltDel() // a clean reboot this time (PS/2 keyboard on q35)
		} else {
			v.powerOff()
		}
	})
}
