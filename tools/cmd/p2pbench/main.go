// Command p2pbench measures the box's WebRTC super-peer on loopback.
//
// In: flags (peer counts, viewer bitrate, segment duration, run lengths; see -h).
// For each run it starts the box as a child process of itself (-box: tracker on
// a loopback WebSocket and super-peer on one loopback UDP port, serving a live
// stream whose segments sit in memory), then N pion peers in this process that
// meet the super-peer through the tracker exactly as p2p-media-loader pages do
// and download segments over the data-channel protocol. Paced runs play live
// viewers (one segment per segment duration, phases spread evenly); unpaced runs
// download back to back. Out: a Markdown report on stdout, ready for
// docs/BENCH.md: delivery delay and stalls (a segment not complete within its
// duration), throughput, the box's CPU seconds and memory per peer connection,
// and the CPU the client peers used (they share the host's cores with the box).
//
//	go build -o /tmp/p2pbench ./tools/cmd/p2pbench && /tmp/p2pbench
//	/tmp/p2pbench -peers 1,10 -unpaced 1 -duration 5s   # smoke run
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/tracker"
)

type options struct {
	peers, unpaced []int
	mbps           float64
	segDur         time.Duration
	duration       time.Duration // paced run length
	unpacedDur     time.Duration
	dialers        int
	box            bool
	segBytes       int
	maxPeers       int
	udpBuffer      int
	boxCPUs        string // "": no pinning
}

func main() {
	var o options
	var peers, unpaced string
	flag.StringVar(&peers, "peers", "1,10,50,100,200", "paced peer counts (live viewers)")
	flag.StringVar(&unpaced, "unpaced", "1,10", "unpaced peer counts (back-to-back downloads)")
	flag.Float64Var(&o.mbps, "mbps", 4, "viewer bitrate in Mbit/s: segment size is mbps*segdur/8")
	flag.DurationVar(&o.segDur, "segdur", 2*time.Second, "segment duration: a paced peer asks for one segment per duration")
	flag.DurationVar(&o.duration, "duration", 16*time.Second, "length of each paced run")
	flag.DurationVar(&o.unpacedDur, "unpaced-duration", 8*time.Second, "length of each unpaced run")
	flag.IntVar(&o.dialers, "dialers", 8, "peers connecting at once")
	flag.IntVar(&o.udpBuffer, "udp-buffer", 0, "SO_RCVBUF/SO_SNDBUF of every UDP socket (box and peers) in bytes; 0 keeps the OS default")
	flag.StringVar(&o.boxCPUs, "box-cpus", "", "pin the box to these CPUs (taskset list, e.g. 0) and the client peers to the others, so the box's capacity per core is measured apart from the clients")
	flag.BoolVar(&o.box, "box", false, "internal: run the box (child process)")
	flag.IntVar(&o.segBytes, "seg-bytes", 0, "internal: segment size for -box")
	flag.IntVar(&o.maxPeers, "max-peers", 0, "internal: super-peer MaxPeers for -box")
	flag.Parse()
	if o.box {
		if err := runBox(o.segBytes, o.segDur, o.maxPeers, o.udpBuffer); err != nil {
			fmt.Fprintln(os.Stderr, "p2pbench -box:", err)
			os.Exit(1)
		}
		return
	}
	var err error
	if o.peers, err = ints(peers); err == nil {
		o.unpaced, err = ints(unpaced)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "p2pbench:", err)
		os.Exit(2)
	}
	o.segBytes = int(o.mbps * 1e6 * o.segDur.Seconds() / 8)
	if o.boxCPUs != "" {
		if err := pinClients(o.boxCPUs); err != nil {
			fmt.Fprintln(os.Stderr, "p2pbench: -box-cpus:", err)
			os.Exit(2)
		}
	}
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "p2pbench:", err)
		os.Exit(1)
	}
}

func ints(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// result is one run.
type result struct {
	n         int
	paced     bool
	connected int
	connect   time.Duration // all peers connected
	requests  int
	stalls    int // segments not complete within their duration
	stalled   int // peers with at least one stall
	delays    []time.Duration
	bytes     int64
	perPeer   []float64 // unpaced: bytes/s of each peer
	elapsed   time.Duration
	boxCPU    float64 // box CPU seconds during the load
	cliCPU    float64 // this process's CPU seconds during the load
	heapPer   float64 // box HeapInuse delta per peer connection
	rssPer    float64
	udpDrops  int64   // host-wide UDP receive-buffer drops during the load
	boxDrops  int64   // drops on the box's socket
	cliDrops  int64   // drops on the peers' sockets
	hostBusy  float64 // host CPU seconds busy (all processes) during the load
	load      string  // /proc/loadavg at the end of the load
	errs      []string
}

func run(o options, out io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	started := time.Now()
	var results []*result
	for _, n := range o.unpaced {
		r, err := runOnce(o, self, n, false)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	for _, n := range o.peers {
		r, err := runOnce(o, self, n, true)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	report(out, o, results, started)
	return nil
}

// box is the running child.
type box struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	hello hello
}

func startBox(o options, self string, maxPeers int) (*box, error) {
	args := []string{self, "-box", "-seg-bytes", strconv.Itoa(o.segBytes), "-segdur", o.segDur.String(),
		"-max-peers", strconv.Itoa(maxPeers), "-udp-buffer", strconv.Itoa(o.udpBuffer)}
	if o.boxCPUs != "" {
		// taskset before exec, so the box's Go runtime sizes GOMAXPROCS to its CPUs.
		args = append([]string{"taskset", "-c", o.boxCPUs}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &box{cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &b.hello)
	}
	if err != nil {
		b.stop()
		return nil, fmt.Errorf("box child: %w", err)
	}
	return b, nil
}

// stop ends the child: stdin closes, then a kill by PID if it lingers.
func (b *box) stop() {
	b.stdin.Close()
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-done
	}
}

func (b *box) stats(gc bool) (boxStats, error) {
	u := "http://" + b.hello.HTTP + "/stats"
	if gc {
		u += "?gc=1"
	}
	var s boxStats
	resp, err := http.Get(u)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return cpuSeconds(ru)
}

func runOnce(o options, self string, n int, paced bool) (*result, error) {
	kind := "unpaced"
	if paced {
		kind = "paced"
	}
	fmt.Fprintf(os.Stderr, "p2pbench: %s run, %d peers\n", kind, n)
	b, err := startBox(o, self, max(n+10, 200))
	if err != nil {
		return nil, err
	}
	defer b.stop()
	ih, ok := parseHex(b.hello.InfoHash)
	if !ok {
		return nil, fmt.Errorf("box sent info hash %q", b.hello.InfoHash)
	}
	r := &result{n: n, paced: paced}
	s0, err := b.stats(true)
	if err != nil {
		return nil, err
	}

	// Connect.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	wsURL := "ws://" + b.hello.HTTP + "/announce"
	peers := make([]*peer, n)
	var mu sync.Mutex
	sem := make(chan struct{}, o.dialers)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
			defer dcancel()
			p, err := dialPeer(dctx, wsURL, ih, i, o.udpBuffer)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.errs = append(r.errs, "connect: "+err.Error())
				return
			}
			peers[i] = p
			r.connected++
		}()
	}
	wg.Wait()
	r.connect = time.Since(t0)
	defer func() {
		for _, p := range peers {
			if p != nil {
				p.close()
			}
		}
	}()
	peers = slices.DeleteFunc(peers, func(p *peer) bool { return p == nil })
	time.Sleep(time.Second) // let announcements and handshakes settle
	s1, err := b.stats(true)
	if err != nil {
		return nil, err
	}
	if len(peers) > 0 {
		r.heapPer = (float64(s1.HeapInuse) - float64(s0.HeapInuse)) / float64(len(peers))
		r.rssPer = float64(s1.RSS-s0.RSS) / float64(len(peers))
	}

	// Load.
	dur := o.unpacedDur
	if paced {
		dur = o.duration
	}
	cpu0 := selfCPU()
	drops0 := udpDrops()
	busy0 := hostBusy()
	lctx, lcancel := context.WithTimeout(context.Background(), dur+2*o.segDur+5*time.Second)
	defer lcancel()
	start := time.Now()
	end := start.Add(dur)
	bytes0 := make([]int64, len(peers))
	for i, p := range peers {
		bytes0[i] = p.bytes.Load()
	}
	r.perPeer = make([]float64, len(peers))
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var delays []time.Duration
			stalls := 0
			var req int64
			next := start
			if paced { // spread the phases: viewers do not start together
				next = start.Add(time.Duration(i) * o.segDur / time.Duration(len(peers)))
			}
			for {
				if paced {
					time.Sleep(time.Until(next))
				}
				if !time.Now().Before(end) {
					break
				}
				req++
				t := time.Now()
				err := p.fetch(lctx, firstSeq+req%windowLen, req)
				d := time.Since(t)
				if err != nil {
					mu.Lock()
					r.errs = append(r.errs, "fetch: "+err.Error())
					mu.Unlock()
					stalls++
					break
				}
				delays = append(delays, d)
				if d > o.segDur {
					stalls++
				}
				next = next.Add(o.segDur)
				if !paced {
					r.perPeer[i] = float64(p.bytes.Load()-bytes0[i]) / time.Since(start).Seconds()
				}
			}
			mu.Lock()
			r.delays = append(r.delays, delays...)
			r.requests += len(delays)
			r.stalls += stalls
			if stalls > 0 {
				r.stalled++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	r.cliCPU = selfCPU() - cpu0
	r.udpDrops = udpDrops() - drops0
	r.hostBusy = hostBusy() - busy0
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		r.load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	r.boxDrops, r.cliDrops = socketDrops(b.hello.UDP, peers)
	for i, p := range peers {
		r.bytes += p.bytes.Load() - bytes0[i]
	}
	s2, err := b.stats(false)
	if err != nil {
		return nil, err
	}
	r.boxCPU = s2.CPUSeconds - s1.CPUSeconds
	slices.Sort(r.delays)
	fmt.Fprintf(os.Stderr, "p2pbench:   %d/%d connected in %v, %d segments, %d stalls, %.1f Mbit/s total, box CPU %.1fs, box peers %d, refused %d, failures %d, UDP drops %d (box socket %d, peer sockets %d)\n",
		r.connected, n, r.connect.Round(time.Millisecond), r.requests, r.stalls, float64(r.bytes)*8/r.elapsed.Seconds()/1e6,
		r.boxCPU, s2.SP.Peers, s2.SP.Refused, s2.SP.Failures, r.udpDrops, r.boxDrops, r.cliDrops)
	return r, nil
}

func parseHex(s string) (tracker.ID, bool) {
	var id tracker.ID
	if len(s) != 40 {
		return id, false
	}
	for i := range id {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return id, false
		}
		id[i] = byte(v)
	}
	return id, true
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(p*float64(len(d))))]
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

func report(w io.Writer, o options, rs []*result, started time.Time) {
	fmt.Fprintf(w, "## Super-peer capacity (p2pbench)\n\n")
	fmt.Fprintf(w, "Command: `%s`  \n", strings.Join(os.Args, " "))
	fmt.Fprintf(w, "Run: %s, %s; host %d cores, %s  \n", started.UTC().Format(time.RFC3339), time.Since(started).Round(time.Second), runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(w, "Segments: %d bytes = %.1f Mbit/s x %v, all in the box's memory. Box (tracker + super-peer) runs in a child process; "+
		"the client pion peers run in the parent%s. "+
		"UDP socket buffers: %s.\n\n", o.segBytes, o.mbps, o.segDur, pinName(o.boxCPUs), bufName(o.udpBuffer))
	fmt.Fprintf(w, "| run | peers connected | connect time | segments | stalls (> %v) | peers with a stall | delay p50 / p95 / max (ms) | aggregate Mbit/s | per-peer Mbit/s (min / mean / max) | box CPU s per s | client CPU s per s | host busy CPU s per s (load avg) | box heap / RSS per peer (KiB) | UDP drops: box socket / peer sockets |\n", o.segDur)
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		kind := fmt.Sprintf("unpaced, %d", r.n)
		if r.paced {
			kind = fmt.Sprintf("%.0f Mbit/s live, %d", o.mbps, r.n)
		}
		secs := r.elapsed.Seconds()
		agg := float64(r.bytes) * 8 / secs / 1e6
		per := "-"
		if !r.paced && len(r.perPeer) > 0 {
			mn, mx, sum := r.perPeer[0], r.perPeer[0], 0.0
			for _, v := range r.perPeer {
				mn, mx, sum = min(mn, v), max(mx, v), sum+v
			}
			per = fmt.Sprintf("%.0f / %.0f / %.0f", mn*8/1e6, sum/float64(len(r.perPeer))*8/1e6, mx*8/1e6)
		} else if r.connected > 0 {
			per = fmt.Sprintf("mean %.1f", agg/float64(r.connected))
		}
		stalls, stalled := strconv.Itoa(r.stalls), strconv.Itoa(r.stalled)
		if !r.paced {
			stalls, stalled = "-", "-"
		}
		fmt.Fprintf(w, "| %s | %d/%d | %.1f s | %d | %s | %s | %s / %s / %s | %.0f | %s | %.2f | %.2f | %.2f (%s) | %.0f / %.0f | %d / %d |\n",
			kind, r.connected, r.n, r.connect.Seconds(), r.requests, stalls, stalled,
			ms(pct(r.delays, 0.5)), ms(pct(r.delays, 0.95)), ms(pct(r.delays, 1)), agg, per,
			r.boxCPU/secs, r.cliCPU/secs, r.hostBusy/secs, r.load, r.heapPer/1024, r.rssPer/1024, r.boxDrops, r.cliDrops)
	}
	for _, r := range rs {
		if len(r.errs) > 0 {
			fmt.Fprintf(w, "\n%d peers: %d errors, first: %s\n", r.n, len(r.errs), r.errs[0])
		}
	}
}

// udpDrops is the host's UDP RcvbufErrors counter (/proc/net/snmp; 0 elsewhere).
func udpDrops() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RcvbufErrors" && i < len(f) {
				v, _ := strconv.ParseInt(f[i], 10, 64)
				return v
			}
		}
	}
	return 0
}

func bufName(n int) string {
	if n <= 0 {
		return "OS default"
	}
	return fmt.Sprintf("%d bytes (-udp-buffer)", n)
}

// socketDrops reads the cumulative drop counters of the box's socket and the
// peers' sockets from /proc/net/udp (zeros elsewhere).
func socketDrops(boxAddr string, peers []*peer) (boxDrops, cliDrops int64) {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return 0, 0
	}
	port := func(addr string) string {
		i := strings.LastIndexByte(addr, ':')
		n, _ := strconv.Atoi(addr[i+1:])
		return fmt.Sprintf(":%04X", n)
	}
	mine := map[string]bool{}
	for _, p := range peers {
		mine[port(p.udp.LocalAddr().String())] = true
	}
	boxPort := port(boxAddr)
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 13 || !strings.HasPrefix(f[1], "0100007F:") {
			continue
		}
		d, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
		lp := f[1][len("0100007F"):]
		switch {
		case lp == boxPort:
			boxDrops += d
		case mine[lp]:
			cliDrops += d
		}
	}
	return boxDrops, cliDrops
}

// hostBusy is the host's non-idle CPU seconds so far, all processes (/proc/stat).
func hostBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 && i < 8 { // skip idle, iowait; guest is counted in user
			busy += n
		}
	}
	return float64(busy) / 100 // USER_HZ
}

func pinName(cpus string) string {
	if cpus == "" {
		return " on the same cores, so 'client CPU' competes with the box"
	}
	return fmt.Sprintf("; the box is pinned to CPU %s and the clients to the other CPUs", cpus)
}
