package main

// The site in network namespaces: three boxes, a viewer host and a rogue responder on
// one bridge (real multicast), the demo origin behind a tbf-shaped "WAN" veth. Runs as
// root (CI is root); skips otherwise. Everything it makes carries a per-run prefix and
// is torn down by t.Cleanup.

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/discovery"
	"github.com/outpost-ecdn/outpost/appliance/identity"
)

const (
	sibSite     = "branch-042"
	sibOriginIP = "10.78.0.2"
	sibViewerIP = "10.77.0.50"
	sibRogueIP  = "10.77.0.66"
)

func sibBoxIP(i int) string { return fmt.Sprintf("10.77.0.%d", 10+i) }

// sibNet is one run's namespaces and processes.
type sibNet struct {
	t      *testing.T
	prefix string
	dir    string
	mu     sync.Mutex
	procs  []*exec.Cmd
}

func (n *sibNet) ns(name string) string { return n.prefix + "-" + name }

func (n *sibNet) run(args ...string) string {
	n.t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// in runs a command in namespace ns and returns its output (no failure on error).
func (n *sibNet) in(ns string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.ns(ns)}, args...)...).Output()
	return string(out), err
}

// start runs a long-lived process in ns with its own host name; logs go to dir/name.log.
func (n *sibNet) start(ns, name string, env []string, args ...string) *exec.Cmd {
	n.t.Helper()
	log, err := os.Create(filepath.Join(n.dir, name+".log"))
	if err != nil {
		n.t.Fatal(err)
	}
	full := append([]string{"netns", "exec", n.ns(ns), "unshare", "--uts", "sh", "-c", `hostname "$0" && exec "$@"`, n.prefix + "-" + name}, args...)
	cmd := exec.Command("ip", full...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("start %s: %v", name, err)
	}
	n.mu.Lock()
	n.procs = append(n.procs, cmd)
	n.mu.Unlock()
	return cmd
}

func (n *sibNet) kill(cmd *exec.Cmd) {
	if cmd.ProcessState == nil {
		cmd.Process.Kill()
		cmd.Wait()
	}
}

func (n *sibNet) logTail(name string) string {
	b, _ := os.ReadFile(filepath.Join(n.dir, name+".log"))
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

func newSibNet(t *testing.T) *sibNet {
	var rnd [2]byte
	rand.Read(rnd[:])
	n := &sibNet{t: t, prefix: "osib" + hex.EncodeToString(rnd[:]), dir: t.TempDir()}
	names := []string{"r", "o", "b1", "b2", "b3", "v", "x"}
	t.Cleanup(func() {
		n.mu.Lock()
		for _, c := range n.procs {
			n.kill(c)
		}
		n.mu.Unlock()
		for _, name := range names {
			exec.Command("ip", "netns", "del", n.ns(name)).Run()
		}
	})
	for _, name := range names {
		n.run("ip", "netns", "add", n.ns(name))
		n.run("ip", "-n", n.ns(name), "link", "set", "lo", "up")
	}
	r := n.ns("r")
	n.run("ip", "-n", r, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
	n.run("ip", "-n", r, "link", "set", "br0", "multicast", "on", "up")
	n.run("ip", "-n", r, "addr", "add", "10.77.0.1/24", "dev", "br0")
	n.run("ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	lan := map[string]string{"b1": sibBoxIP(1), "b2": sibBoxIP(2), "b3": sibBoxIP(3), "v": sibViewerIP, "x": sibRogueIP}
	for name, ip := range lan {
		ns := n.ns(name)
		n.run("ip", "link", "add", "lan0", "netns", ns, "type", "veth", "peer", "name", "p-"+name, "netns", r)
		n.run("ip", "-n", r, "link", "set", "p-"+name, "master", "br0", "multicast", "on", "up")
		n.run("ip", "-n", ns, "addr", "add", ip+"/24", "dev", "lan0")
		n.run("ip", "-n", ns, "link", "set", "lan0", "multicast", "on", "up")
		n.run("ip", "-n", ns, "route", "add", "default", "via", "10.77.0.1")
		n.run("ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", "lan0")
	}
	o := n.ns("o")
	n.run("ip", "link", "add", "wan0", "netns", r, "type", "veth", "peer", "name", "eth0", "netns", o)
	n.run("ip", "-n", r, "addr", "add", "10.78.0.1/30", "dev", "wan0")
	n.run("ip", "-n", r, "link", "set", "wan0", "up")
	n.run("ip", "-n", o, "addr", "add", sibOriginIP+"/30", "dev", "eth0")
	n.run("ip", "-n", o, "link", "set", "eth0", "up")
	n.run("ip", "-n", o, "route", "add", "10.77.0.0/24", "via", "10.78.0.1")
	// the WAN: 40 Mbit/s from the origin towards the site (no netem here: no added delay)
	n.run("tc", "-n", o, "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", "40mbit", "burst", "64kb", "latency", "400ms")
	return n
}

// getJSON fetches url from the viewer namespace.
func (n *sibNet) getJSON(url string, v any) error {
	out, err := n.in("v", "curl", "-fsS", "--max-time", "3", url)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(out), v)
}

func (n *sibNet) post(url string) {
	n.in("v", "curl", "-fsS", "--max-time", "3", "-X", "POST", url)
}

// waitFor polls cond every 100ms for at most limit; it returns the time it took.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < limit {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s", what, limit)
	return 0
}

type sibStatus struct {
	Siblings *SiblingsStatus `json:"siblings"`
}

func (n *sibNet) boxStatus(i int) *SiblingsStatus {
	var st sibStatus
	if n.getJSON("http://"+sibBoxIP(i)+":8080/api/v1/status", &st) != nil {
		return nil
	}
	return st.Siblings
}

func hasMembers(st *SiblingsStatus, want ...string) bool {
	if st == nil || len(st.Members) != len(want) {
		return false
	}
	for _, w := range want {
		if !slices.Contains(st.Members, w) {
			return false
		}
	}
	return true
}

// wanCopies is origin segment requests per distinct segment since the last reset.
func (n *sibNet) wanCopies() (copies float64, segments int) {
	var st struct {
		Paths map[string]struct{ Requests int64 } `json:"paths"`
	}
	if err := n.getJSON("http://"+sibOriginIP+":8081/stats", &st); err != nil {
		n.t.Fatalf("origin stats: %v", err)
	}
	var reqs int64
	for p, c := range st.Paths {
		if strings.HasSuffix(p, ".ts") {
			reqs += c.Requests
			segments++
		}
	}
	if segments == 0 {
		return 0, 0
	}
	return float64(reqs) / float64(segments), segments
}

type viewerReport struct {
	Viewers       int     `json:"viewers"`
	Segments      int     `json:"segments"`
	Errors        int     `json:"errors"`
	Failovers     int     `json:"failovers"`
	MaxGapSeconds float64 `json:"max_gap_seconds"`
	// LateOK counts viewers that got a segment after SIB_LATE seconds.
	LateOK int `json:"late_ok"`
}

// viewers runs the viewer helper (this test binary) in the viewer namespace.
func (n *sibNet) viewers(boxes []int, count int, d, late time.Duration) *exec.Cmd {
	var addrs []string
	for _, b := range boxes {
		addrs = append(addrs, sibBoxIP(b)+":8080")
	}
	exe, _ := os.Executable()
	cmd := exec.Command("ip", "netns", "exec", n.ns("v"), exe, "-test.run=^TestSiblingsViewerHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SIB_HELPER=viewers", "SIB_BOXES="+strings.Join(addrs, ","),
		"SIB_VIEWERS="+strconv.Itoa(count), "SIB_SECONDS="+strconv.Itoa(int(d.Seconds())), "SIB_LATE="+strconv.Itoa(int(late.Seconds())))
	return cmd
}

func parseViewerReport(t *testing.T, out []byte) viewerReport {
	t.Helper()
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "VIEWERS_RESULT "); ok {
			var r viewerReport
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	t.Fatalf("viewer helper printed no result:\n%s", out)
	return viewerReport{}
}

func (n *sibNet) viewPhase(boxes []int, count int, d time.Duration) (viewerReport, float64, int) {
	n.t.Helper()
	// warm up: let prefetch and ownership settle, then count only the window
	warm := n.viewers(boxes, count, d+4*time.Second, 0)
	var out []byte
	done := make(chan error, 1)
	go func() {
		var err error
		out, err = warm.Output()
		done <- err
	}()
	time.Sleep(4 * time.Second)
	n.post("http://" + sibOriginIP + ":8081/stats/reset")
	if err := <-done; err != nil {
		n.t.Fatalf("viewers: %v\n%s", err, out)
	}
	copies, segs := n.wanCopies()
	return parseViewerReport(n.t, out), copies, segs
}

func TestSiblingsNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces (CI runs as root)")
	}
	if testing.Short() {
		t.Skip("slow: network namespaces")
	}
	needFFmpeg(t)
	for _, tool := range []string{"ip", "tc", "unshare", "curl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	pyZeroconf := exec.Command("/usr/bin/python3", "-c", "import zeroconf").Run() == nil
	if !pyZeroconf && os.Getenv("CI") != "" {
		t.Fatal("python3-zeroconf is not installed (apt-get install python3-zeroconf; .ci/run does it)")
	}
	viewersPerPhase := 60
	if v, err := strconv.Atoi(os.Getenv("OUTPOST_SIBLINGS_VIEWERS")); err == nil && v > 0 {
		viewersPerPhase = v
	}

	n := newSibNet(t)
	bin := t.TempDir()
	for _, pkg := range []string{".", "../../../tools/cmd/demo-origin"} {
		name := filepath.Base(pkg)
		if pkg == "." {
			name = "outpostd"
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(bin, name), pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}

	// Site key and three boxes with their certificates.
	_, siteKey, _ := ed25519.GenerateKey(rand.Reader)
	sitePub := identity.EncodePublicKey(siteKey.Public().(ed25519.PublicKey))
	logLevel := "info"
	if os.Getenv("OUTPOST_SIBLINGS_DEBUG") != "" {
		logLevel = "debug"
	}
	cfgPath := func(i int) string { return filepath.Join(n.dir, fmt.Sprintf("b%d", i), "config.yaml") }
	for i := 1; i <= 3; i++ {
		dir := filepath.Join(n.dir, fmt.Sprintf("b%d", i))
		os.MkdirAll(dir, 0o750)
		key, _, err := identity.LoadOrCreateBoxKey(dir)
		if err != nil {
			t.Fatal(err)
		}
		c, err := identity.Issue(siteKey, key.Public().(ed25519.PublicKey), fmt.Sprintf("box-%d", i), sibSite, time.Now(), 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		c.WriteFile(filepath.Join(dir, "box.cert"))
		os.WriteFile(cfgPath(i), []byte(fmt.Sprintf(`site: %s
listen: ":8080"
data_dir: %s
origins: [{name: demo, url: "http://%s:8081"}]
wan: {max_mbps: 30}
log: {level: %s}
siblings:
  enabled: true
  site_public_key: %s
  interfaces: [lan0]
`, sibSite, dir, sibOriginIP, logLevel, sitePub)), 0o644)
	}

	n.start("o", "origin", nil, filepath.Join(bin, "demo-origin"), "-listen", ":8081", "-media-dir", mediaDir)
	waitFor(t, 60*time.Second, "origin up", func() bool {
		_, err := n.in("v", "curl", "-fsS", "--max-time", "2", "-o", "/dev/null", "http://"+sibOriginIP+":8081/live/master.m3u8")
		return err == nil
	})

	// The rogue: python-zeroconf announcing an unsigned sibling and one signed by a
	// foreign site key, and listening on the sibling port to see if anyone comes.
	var rogue *exec.Cmd
	if pyZeroconf {
		_, foreignSite, _ := ed25519.GenerateKey(rand.Reader)
		_, rogueKey, _ := ed25519.GenerateKey(rand.Reader)
		fc, _ := identity.Issue(foreignSite, rogueKey.Public().(ed25519.PublicKey), "box-9", sibSite, time.Now(), time.Hour)
		foreignTXT := discovery.SignTXT(discovery.Fields{Site: sibSite, Box: "box-9", Version: "x", Role: "edge", Port: 8444}, rogueKey, fc, time.Now())
		recs, _ := json.Marshal([]map[string]any{
			{"name": "outpost-rogue-unsigned", "txt": []string{"txtvers=1", "site=" + sibSite, "box=box-8", "port=8444", "load=0"}},
			{"name": "outpost-rogue-foreign", "txt": foreignTXT},
		})
		os.WriteFile(filepath.Join(n.dir, "rogue.py"), []byte(rogueScript), 0o644)
		rogue = n.start("x", "rogue", nil, "/usr/bin/python3", "-u", filepath.Join(n.dir, "rogue.py"), sibRogueIP, string(recs))
		waitFor(t, 20*time.Second, "rogue registered", func() bool { return strings.Contains(n.logTail("rogue"), "REGISTERED") })
	}

	startBox := func(i int) *exec.Cmd {
		return n.start(fmt.Sprintf("b%d", i), fmt.Sprintf("box%d", i), nil, filepath.Join(bin, "outpostd"), "-config", cfgPath(i))
	}
	report := map[string]string{}

	// One box.
	boxes := map[int]*exec.Cmd{1: startBox(1)}
	waitFor(t, 30*time.Second, "box-1 up", func() bool { return n.boxStatus(1) != nil })
	vr, c1, s1 := n.viewPhase([]int{1}, viewersPerPhase, 16*time.Second)
	report["copies_1_box"] = fmt.Sprintf("%.2f over %d segments (%d viewers, max gap %.1fs)", c1, s1, vr.Viewers, vr.MaxGapSeconds)

	// Two boxes: time until both list each other.
	boxes[2] = startBox(2)
	d2 := waitFor(t, 30*time.Second, "box-1 and box-2 discover each other", func() bool {
		return hasMembers(n.boxStatus(1), "box-1", "box-2") && hasMembers(n.boxStatus(2), "box-1", "box-2")
	})
	vr, c2, s2 := n.viewPhase([]int{1, 2}, viewersPerPhase, 16*time.Second)
	report["discover_2nd_box"] = d2.Round(10 * time.Millisecond).String()
	report["copies_2_boxes"] = fmt.Sprintf("%.2f over %d segments (%d viewers, max gap %.1fs)", c2, s2, vr.Viewers, vr.MaxGapSeconds)

	// Three boxes.
	boxes[3] = startBox(3)
	all := []string{"box-1", "box-2", "box-3"}
	d3 := waitFor(t, 30*time.Second, "three boxes discover each other", func() bool {
		return hasMembers(n.boxStatus(1), all...) && hasMembers(n.boxStatus(2), all...) && hasMembers(n.boxStatus(3), all...)
	})
	report["discover_3rd_box"] = d3.Round(10 * time.Millisecond).String()

	// An independent mDNS stack sees the boxes and their TXT fields.
	if pyZeroconf {
		os.WriteFile(filepath.Join(n.dir, "browse.py"), []byte(browseScript), 0o644)
		out, err := n.in("v", "/usr/bin/python3", filepath.Join(n.dir, "browse.py"), sibViewerIP)
		if err != nil {
			t.Fatalf("python-zeroconf browse: %v\n%s", err, out)
		}
		var found map[string]struct {
			Type string            `json:"type"`
			Port int               `json:"port"`
			TXT  map[string]string `json:"txt"`
		}
		json.Unmarshal([]byte(out), &found)
		outposts, consoles := 0, 0
		for name, f := range found {
			if !strings.HasPrefix(name, "outpost-box-") {
				continue
			}
			switch f.Type {
			case "_outpost._tcp.local.":
				outposts++
				if f.TXT["site"] != sibSite || !strings.HasPrefix(f.TXT["box"], "box-") || f.TXT["port"] != "8444" || f.TXT["sig"] == "" || f.TXT["c0"] == "" {
					t.Errorf("python-zeroconf sees %s with TXT %v", name, f.TXT)
				}
			case "_http._tcp.local.":
				consoles++
				if f.Port != 8080 {
					t.Errorf("console record %s port %d", name, f.Port)
				}
			}
		}
		if outposts != 3 || consoles != 3 {
			t.Errorf("python-zeroconf found %d _outpost._tcp and %d _http._tcp boxes, want 3 and 3:\n%s", outposts, consoles, out)
		}
		report["independent_browser"] = fmt.Sprintf("python-zeroconf: %d _outpost._tcp, %d _http._tcp", outposts, consoles)
	}

	vr, c3, s3 := n.viewPhase([]int{1, 2, 3}, viewersPerPhase, 16*time.Second)
	report["copies_3_boxes"] = fmt.Sprintf("%.2f over %d segments (%d viewers, max gap %.1fs)", c3, s3, vr.Viewers, vr.MaxGapSeconds)
	if c3 > 1.5 {
		t.Errorf("3 boxes: %.2f WAN copies per segment, want about 1", c3)
	}

	// Kill box-1 mid-stream (SIGKILL: no goodbye). Viewers on it move to the others.
	const killAt, total = 8 * time.Second, 30 * time.Second
	vc := n.viewers([]int{1, 2, 3}, viewersPerPhase, total, killAt+6*time.Second)
	var vout []byte
	vdone := make(chan error, 1)
	go func() {
		var err error
		vout, err = vc.Output()
		vdone <- err
	}()
	time.Sleep(killAt)
	n.kill(boxes[1])
	killed := time.Now()
	reown := waitFor(t, 30*time.Second, "box-2 and box-3 drop box-1", func() bool {
		return hasMembers(n.boxStatus(2), "box-2", "box-3") && hasMembers(n.boxStatus(3), "box-2", "box-3")
	})
	time.Sleep(max(0, 6*time.Second-time.Since(killed)))
	n.post("http://" + sibOriginIP + ":8081/stats/reset")
	if err := <-vdone; err != nil {
		t.Fatalf("viewers: %v\n%s", err, vout)
	}
	vr = parseViewerReport(t, vout)
	cAfter, sAfter := n.wanCopies()
	report["reown_after_kill"] = reown.Round(10 * time.Millisecond).String()
	report["copies_after_kill"] = fmt.Sprintf("%.2f over %d segments", cAfter, sAfter)
	report["viewers_during_kill"] = fmt.Sprintf("%d viewers, %d segments, %d errors, %d failovers, max gap %.1fs, %d got segments after re-own",
		vr.Viewers, vr.Segments, vr.Errors, vr.Failovers, vr.MaxGapSeconds, vr.LateOK)
	if vr.LateOK != vr.Viewers {
		t.Errorf("only %d of %d viewers got segments after box-1 died", vr.LateOK, vr.Viewers)
	}
	if cAfter > 1.5 {
		t.Errorf("after re-own: %.2f WAN copies per segment, want about 1", cAfter)
	}

	// The rogue was ignored (counted), never became a member, and nobody called it.
	if pyZeroconf {
		for _, i := range []int{2, 3} {
			st := n.boxStatus(i)
			if st == nil {
				t.Fatalf("box-%d status", i)
			}
			ig := st.Discovery.Stats.Ignored
			if ig["unsigned"] == 0 || ig["foreign_site"] == 0 {
				t.Errorf("box-%d ignored %v, want unsigned and foreign_site counted", i, ig)
			}
			for _, p := range st.Discovery.Peers {
				if p.BoxID == "box-8" || p.BoxID == "box-9" {
					t.Errorf("box-%d accepted rogue %s", i, p.BoxID)
				}
			}
			report[fmt.Sprintf("box-%d_ignored", i)] = fmt.Sprint(ig)
		}
		// the rogue cannot fetch from a box's sibling port either (no certified key)
		if out, err := n.in("x", "curl", "-ksS", "--max-time", "3", "https://"+sibBoxIP(2)+":8444/o/demo/live/360p/index.m3u8"); err == nil {
			t.Errorf("rogue fetched from box-2's sibling port: %s", out)
		}
		n.kill(rogue)
		if strings.Contains(n.logTail("rogue"), "CONN") {
			t.Errorf("a box connected to the rogue:\n%s", n.logTail("rogue"))
		}
	}
	keys := make([]string, 0, len(report))
	for k := range report {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Logf("%-22s %s", k, report[k])
	}
	if t.Failed() {
		for _, name := range []string{"box1", "box2", "box3"} {
			t.Logf("--- %s log tail:\n%s", name, n.logTail(name))
		}
	}
}

// TestSiblingsViewerHelper is the viewer load, run by TestSiblingsNetns inside the
// viewer namespace; it does nothing otherwise.
func TestSiblingsViewerHelper(t *testing.T) {
	if os.Getenv("SIB_HELPER") != "viewers" {
		t.Skip("helper process for TestSiblingsNetns")
	}
	boxes := strings.Split(os.Getenv("SIB_BOXES"), ",")
	count, _ := strconv.Atoi(os.Getenv("SIB_VIEWERS"))
	secs, _ := strconv.Atoi(os.Getenv("SIB_SECONDS"))
	late, _ := strconv.Atoi(os.Getenv("SIB_LATE"))
	start := time.Now()
	deadline := start.Add(time.Duration(secs) * time.Second)
	lateAt := start.Add(time.Duration(late) * time.Second)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	variants := []string{"240p", "360p", "540p"}
	var mu sync.Mutex
	rep := viewerReport{Viewers: count}
	var wg sync.WaitGroup
	for i := range count {
		wg.Add(1)
		go func() {
			defer wg.Done()
			box := i % len(boxes)
			variant := variants[i%len(variants)]
			seen := map[string]bool{}
			var last time.Time
			var segs, errs, fails int
			var maxGap time.Duration
			gotLate := false
			get := func(u string) ([]byte, error) {
				resp, err := client.Get(u)
				if err != nil {
					return nil, err
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err == nil && resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
				return b, err
			}
			for time.Now().Before(deadline) {
				poll := time.Now()
				base := "http://" + boxes[box] + "/o/demo/live/" + variant + "/"
				pl, err := get(base + "index.m3u8")
				if err != nil {
					errs++
					fails++
					box = (box + 1) % len(boxes)
					time.Sleep(200 * time.Millisecond)
					continue
				}
				var uris []string
				sc := bufio.NewScanner(strings.NewReader(string(pl)))
				for sc.Scan() {
					if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
						uris = append(uris, l)
					}
				}
				if len(seen) == 0 && len(uris) > 2 {
					for _, u := range uris[:len(uris)-2] {
						seen[u] = true
					}
				}
				for _, u := range uris {
					if seen[u] || !time.Now().Before(deadline) {
						continue
					}
					if _, err := get(base + u); err != nil {
						errs++
						break
					}
					seen[u] = true
					now := time.Now()
					if !last.IsZero() && now.Sub(last) > maxGap {
						maxGap = now.Sub(last)
					}
					last = now
					segs++
					if late > 0 && now.After(lateAt) {
						gotLate = true
					}
				}
				if wait := time.Second - time.Since(poll); wait > 0 {
					time.Sleep(wait)
				}
			}
			mu.Lock()
			rep.Segments += segs
			rep.Errors += errs
			rep.Failovers += fails
			rep.MaxGapSeconds = max(rep.MaxGapSeconds, maxGap.Seconds())
			if gotLate {
				rep.LateOK++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	b, _ := json.Marshal(rep)
	fmt.Printf("VIEWERS_RESULT %s\n", b)
}

const rogueScript = `import json, socket, sys, threading, time
from zeroconf import Zeroconf, ServiceInfo
ip, recs = sys.argv[1], json.loads(sys.argv[2])
zc = Zeroconf(interfaces=[ip])
for r in recs:
    props = {}
    for s in r["txt"]:
        k, _, v = s.partition("=")
        props[k.encode()] = v.encode()
    zc.register_service(ServiceInfo("_outpost._tcp.local.", r["name"] + "._outpost._tcp.local.",
        addresses=[socket.inet_aton(ip)], port=8444, properties=props, server=r["name"] + ".local."))
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 8444))
srv.listen(16)
print("REGISTERED", flush=True)
while True:
    c, a = srv.accept()
    print("CONN", a, flush=True)
    c.close()
`

const browseScript = `import json, sys, time
from zeroconf import Zeroconf, ServiceBrowser, ServiceListener
zc = Zeroconf(interfaces=[sys.argv[1]])
names = set()
class L(ServiceListener):
    def add_service(self, zc, type_, name):
        names.add((type_, name))
    update_service = add_service
    def remove_service(self, zc, type_, name):
        pass
ServiceBrowser(zc, ["_outpost._tcp.local.", "_http._tcp.local."], L())
time.sleep(4)
found = {}
for type_, name in sorted(names):
    info = zc.get_service_info(type_, name, timeout=3000)
    if info is not None:
        found[name] = {"type": type_, "port": info.port,
            "txt": {k.decode(): (v or b"").decode() for k, v in info.properties.items()}}
zc.close()
print(json.dumps(found))
`
