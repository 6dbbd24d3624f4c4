package shaper

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// iperfServer starts a one-off iperf3 server in the WAN namespace and waits until
// it listens (asked of ss, so no probe connection uses up the one test).
func iperfServer(t testing.TB, tp *topo, port int) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", tp.wan, "iperf3", "-s", "-1", "-B", wanIP.String(), "-p", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // our child (ip netns exec execs iperf3 in place)
		_ = cmd.Wait()
	})
	for range 500 {
		out, _ := exec.Command("ip", "netns", "exec", tp.wan, "ss", "-Hltn", fmt.Sprintf("sport = :%d", port)).Output()
		if strings.Contains(string(out), "LISTEN") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("iperf3 server on port %d did not start", port)
}

// iperfReport is the part of iperf3 -J output we read.
type iperfReport struct {
	End struct {
		SumReceived struct {
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_received"`
	} `json:"end"`
	Error string `json:"error"`
}

// flowsPerClass is the number of TCP connections that fill each class.
const flowsPerClass = 4

type shapingResult struct {
	window     time.Duration
	configured map[string]float64 // "egress/video" -> bits/s
	measured   map[string]float64 // from the class byte counters
	iperf      map[string]float64 // iperf3's receiver goodput (TCP payload)
	drops      map[string]uint64
}

func (r shapingResult) ratio(k string) float64 { return r.measured[k] / r.configured[k] }

// measureShaping measures both directions of a 20 Mbit/s link with an 8 Mbit/s
// video class, one direction at a time (see phase), and returns the class rates
// over window after warmup.
func measureShaping(t testing.TB, warmup, window time.Duration) shapingResult {
	tp := newTopo(t)
	if _, err := exec.LookPath("iperf3"); err != nil {
		t.Skip("skipped: iperf3 not installed (apt-get install iperf3)")
	}
	sh, err := New(testConfig(tp))
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Apply(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sh.Stop() })
	ln := listenTCP(t, tp.wanNS, netip.AddrPortFrom(wanIP, 9000))
	waitSink := sinkServer(ln)
	defer func() { ln.Close(); waitSink() }()
	streamServer(t, tp, netip.AddrPortFrom(originIP, originPort))
	res := shapingResult{configured: map[string]float64{}, measured: map[string]float64{},
		iperf: map[string]float64{}, drops: map[string]uint64{}}
	phase(t, tp, sh, "egress", 5201, warmup, window, res)
	phase(t, tp, sh, "ingress", 5202, warmup, window, res)
	res.window = window
	return res
}

// phase saturates both classes of one direction for warmup+window and records
// their rates from the byte counters read at the start and end of the window:
//
//	egress  default: iperf3 client in the branch -> server in the WAN
//	egress  video:   the box's marked TCP uploads (MarkDialer) -> sink in the WAN
//	ingress default: iperf3 -R (the WAN server sends)
//	ingress video:   HTTP downloads from the origin address and port
//
// Directions run one after the other: with both at once, the pure ACKs of one
// direction's flows queue behind the other direction's bulk in a FIFO leaf (this
// kernel has no fq_codel), which starves the senders rather than testing the
// shaper.
func phase(t testing.TB, tp *topo, sh *Shaper, dir string, iperfPort int, warmup, window time.Duration, res shapingResult) {
	iperfServer(t, tp, iperfPort)
	secs := int(math.Ceil((warmup + window + 500*time.Millisecond).Seconds()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+10)*time.Second)
	defer cancel()
	flowCtx, stopFlows := context.WithCancel(ctx)
	defer stopFlows()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	// Several connections per class keep each class backlogged even when the
	// shared machine deschedules a sender for a while.
	wg.Add(1 + flowsPerClass)
	go func() {
		defer wg.Done()
		args := []string{"netns", "exec", tp.branch, "iperf3", "-J", "-c", wanIP.String(), "-p", strconv.Itoa(iperfPort),
			"-t", strconv.Itoa(secs), "-P", strconv.Itoa(flowsPerClass)}
		if dir == "ingress" {
			args = append(args, "-R")
		}
		out, err := exec.CommandContext(ctx, "ip", args...).Output()
		var rep iperfReport
		if jerr := json.Unmarshal(out, &rep); err != nil || jerr != nil || rep.Error != "" {
			fail(fmt.Errorf("iperf3 %s: %v %v %s", dir, err, jerr, rep.Error))
			return
		}
		mu.Lock()
		res.iperf[dir+"/"+ClassDefault] = rep.End.SumReceived.BitsPerSecond
		mu.Unlock()
	}()
	for range flowsPerClass {
		go func() {
			defer wg.Done()
			var err error
			if dir == "egress" {
				_, err = upload(flowCtx, tp.branchNS, sh.Config().Mark, netip.AddrPortFrom(wanIP, 9000), 0)
			} else {
				_, err = download(flowCtx, tp.branchNS, fmt.Sprintf("http://%s:%d/stream", originIP, originPort))
			}
			if err != nil {
				fail(fmt.Errorf("%s video flow: %w", dir, err))
			}
		}()
	}
	time.Sleep(warmup)
	s0, err := sh.Stats()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(window)
	s1, err := sh.Stats()
	if err != nil {
		t.Fatal(err)
	}
	stopFlows()
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	before := map[string]ClassStats{}
	for _, c := range s0.Classes {
		before[c.Direction+"/"+c.Class] = c
	}
	secsWindow := s1.At.Sub(s0.At).Seconds()
	for _, c := range s1.Classes {
		if c.Direction != dir {
			continue
		}
		k := c.Direction + "/" + c.Class
		res.configured[k] = float64(c.RateBits) // default: link - video, all it gets beside a saturated video class
		res.measured[k] = float64(c.Bytes-before[k].Bytes) * 8 / secsWindow
		res.drops[k] = c.Drops - before[k].Drops
	}
}

func (r shapingResult) log(t testing.TB) {
	keys := make([]string, 0, len(r.measured))
	for k := range r.measured {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		line := fmt.Sprintf("%-16s configured %6.2f Mbit/s  measured %6.3f Mbit/s  ratio %.4f  drops %d",
			k, r.configured[k]/1e6, r.measured[k]/1e6, r.ratio(k), r.drops[k])
		if v, ok := r.iperf[k]; ok {
			line += fmt.Sprintf("  (iperf3 goodput %.3f Mbit/s over the whole run)", v/1e6)
		}
		t.Log(line)
	}
	t.Logf("window %v", r.window)
}

// TestShapingAccuracy: with both classes of a direction saturated, each class's
// throughput, measured from the kernel's byte counters over a 3 s window, stays
// within 5% of its configured rate (video: its cap; default: link minus video).
func TestShapingAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: runs 4.5 s of traffic")
	}
	r := measureShaping(t, 1500*time.Millisecond, 3*time.Second)
	r.log(t)
	for _, k := range []string{"egress/video", "egress/default", "ingress/video", "ingress/default", "egress/link", "ingress/link"} {
		if ratio := r.ratio(k); math.Abs(ratio-1) > 0.05 {
			t.Errorf("%s: measured %.3f Mbit/s, configured %.3f: ratio %.3f is off by more than 5%%",
				k, r.measured[k]/1e6, r.configured[k]/1e6, ratio)
		}
	}
}

// BenchmarkShapingAccuracy reports achieved/configured per class (one 9 s run per
// iteration; use -benchtime 1x).
func BenchmarkShapingAccuracy(b *testing.B) {
	for b.Loop() {
		r := measureShaping(b, 1500*time.Millisecond, 3*time.Second)
		r.log(b)
		for k := range r.measured {
			b.ReportMetric(r.ratio(k), strings.ReplaceAll(k, "/", "_")+"_ratio")
		}
	}
}
