package capture

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/internal/netnstest"
	"golang.org/x/sys/unix"
)

// loopbackNS makes a namespace with only lo (up) for the benchmark.
func loopbackNS(b *testing.B) (name, path string) {
	requireRoot(b)
	if _, err := exec.LookPath("iperf3"); err != nil {
		b.Skip("skipped: iperf3 not installed (apt-get install iperf3)")
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	name = "outpost-capb-" + hex.EncodeToString(r[:])
	netnstest.Run(b, "ip", "netns", "add", name)
	b.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	netnstest.Run(b, "ip", "-n", name, "link", "set", "lo", "up")
	return name, "/run/netns/" + name
}

func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCaptureLoopback captures iperf3's 64-byte UDP datagrams on a
// namespace's loopback at several offered rates (iperf3 runs in its own
// processes, so this process's CPU time is the capture's), writing the pcap to
// io.Discard. It reports the captured packet rate, the packets iperf3 sent that
// the capture missed, the kernel's socket drops, and CPU per packet.
// Use -benchtime 1x; each run sends for 3 s.
func BenchmarkCaptureLoopback(b *testing.B) {
	for _, pps := range []int{20_000, 100_000, 0} {
		name := "max"
		if pps > 0 {
			name = fmt.Sprintf("%dkpps", pps/1000)
		}
		b.Run(name, func(b *testing.B) {
			ns, nsPath := loopbackNS(b)
			for b.Loop() {
				benchOnce(b, ns, nsPath, pps)
			}
		})
	}
}

func benchOnce(b *testing.B, ns, nsPath string, pps int) {
	const payload = 64
	srv := exec.Command("ip", "netns", "exec", ns, "iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", "5201")
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	for i := 0; ; i++ {
		out, _ := exec.Command("ip", "netns", "exec", ns, "ss", "-Hltn", "sport = :5201").Output()
		if len(out) > 0 {
			break
		}
		if i > 500 {
			b.Fatal("iperf3 server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s, err := Open(Options{Interface: "lo", NetNS: nsPath, Filter: "udp port 5201", Duration: 5 * time.Second,
		MaxPackets: MaxPackets, MaxBytes: MaxBytes, Snaplen: 128})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type out struct {
		res Result
		cpu time.Duration
		err error
	}
	done := make(chan out, 1)
	go func() {
		c0 := cpuTime()
		res, err := s.WriteTo(ctx, io.Discard)
		done <- out{res, cpuTime() - c0, err}
	}()
	rate := "0" // unlimited
	if pps > 0 {
		rate = strconv.Itoa(pps * payload * 8)
	}
	cli, err := exec.Command("ip", "netns", "exec", ns, "iperf3", "-u", "-c", "127.0.0.1", "-p", "5201",
		"-l", strconv.Itoa(payload), "-b", rate, "-t", "3", "-J").Output()
	if err != nil {
		b.Fatalf("iperf3 client: %v", err)
	}
	var rep struct {
		End struct {
			Sum struct {
				Packets int64 `json:"packets"`
				Seconds float64
			} `json:"sum"`
		} `json:"end"`
	}
	if err := json.Unmarshal(cli, &rep); err != nil {
		b.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the last datagrams reach the socket
	cancel()
	o := <-done
	if o.err != nil {
		b.Fatal(o.err)
	}
	sent := rep.End.Sum.Packets
	secs := 3.0
	b.ReportMetric(float64(sent)/secs, "sent_pkts/s")
	b.ReportMetric(float64(o.res.Packets)/secs, "captured_pkts/s")
	// iperf3 sends two datagrams (start, end) beyond the ones it counts.
	b.ReportMetric(float64(max(0, sent+2-int64(o.res.Packets))), "missed_pkts")
	b.ReportMetric(float64(o.res.KernelDrops), "kernel_drops")
	if o.res.Packets > 0 {
		b.ReportMetric(float64(o.cpu.Nanoseconds())/float64(o.res.Packets), "cpu_ns/pkt")
	}
	b.ReportMetric(100*o.cpu.Seconds()/o.res.Duration.Seconds(), "cpu_%")
	b.Logf("offered %d pps: iperf3 sent %d, captured %d (stop %s), kernel drops %d, cpu %v",
		pps, sent, o.res.Packets, o.res.Stop, o.res.KernelDrops, o.cpu)
}
