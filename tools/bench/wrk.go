package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// WrkResult is what the comparison takes from a wrk run.
type WrkResult struct {
	Requests       int64
	RequestsPerSec float64
	// BytesPerSec is wrk's Transfer/sec (wrk's KB, MB, GB are powers of 1024).
	BytesPerSec float64
	LatencyP50  time.Duration
	LatencyP99  time.Duration
	// Errors sums socket errors and non-2xx/3xx responses.
	Errors int64
}

// WrkOptions is one wrk invocation. Zero values mean wrk's -t2 -c64 -d10s.
type WrkOptions struct {
	Bin      string // empty means "wrk" on PATH
	URL      string
	Threads  int
	Conns    int
	Duration time.Duration
}

// Args returns wrk's command line arguments (without the binary).
func (o WrkOptions) Args() []string {
	threads, conns, d := o.Threads, o.Conns, o.Duration
	if threads <= 0 {
		threads = 2
	}
	if conns <= 0 {
		conns = 64
	}
	if d <= 0 {
		d = 10 * time.Second
	}
	return []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns),
		"-d" + strconv.Itoa(int(d.Round(time.Second)/time.Second)) + "s", "--latency", o.URL}
}

// RunWrk runs wrk and parses its report.
func RunWrk(ctx context.Context, o WrkOptions) (WrkResult, string, error) {
	bin := o.Bin
	if bin == "" {
		bin = "wrk"
	}
	out, err := exec.CommandContext(ctx, bin, o.Args()...).CombinedOutput()
	if err != nil {
		return WrkResult{}, string(out), fmt.Errorf("run wrk: %w: %s", err, bytes.TrimSpace(out))
	}
	r, err := ParseWrk(out)
	return r, string(out), err
}

// ParseWrk reads the report wrk --latency prints.
func ParseWrk(out []byte) (WrkResult, error) {
	var (
		r                               WrkResult
		haveRPS, haveTransfer, haveReqs bool
	)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var err error
		switch {
		case f[0] == "Requests/sec:" && len(f) == 2:
			r.RequestsPerSec, err = strconv.ParseFloat(f[1], 64)
			haveRPS = err == nil
		case f[0] == "Transfer/sec:" && len(f) == 2:
			r.BytesPerSec, err = parseWrkBytes(f[1])
			haveTransfer = err == nil
		case f[0] == "50%" && len(f) == 2:
			r.LatencyP50, err = parseWrkDuration(f[1])
		case f[0] == "99%" && len(f) == 2:
			r.LatencyP99, err = parseWrkDuration(f[1])
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			r.Requests, err = strconv.ParseInt(f[0], 10, 64)
			haveReqs = err == nil
		case f[0] == "Socket" && len(f) >= 3 && f[1] == "errors:":
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 2; i+1 < len(f); i += 2 {
				n, perr := strconv.ParseInt(strings.TrimSuffix(f[i+1], ","), 10, 64)
				if perr != nil {
					err = perr
					break
				}
				r.Errors += n
			}
		case strings.HasPrefix(sc.Text(), "  Non-2xx or 3xx responses:"):
			var n int64
			n, err = strconv.ParseInt(f[len(f)-1], 10, 64)
			r.Errors += n
		}
		if err != nil {
			return r, fmt.Errorf("%w: %q: %v", ErrWrkOutput, sc.Text(), err)
		}
	}
	if !haveRPS || !haveTransfer || !haveReqs || r.LatencyP50 == 0 {
		return r, fmt.Errorf("%w: missing requests, Requests/sec, Transfer/sec or latency distribution (run with --latency)", ErrWrkOutput)
	}
	return r, nil
}

// parseWrkDuration reads wrk's "1.23ms", "456.00us", "2.00s", "1.00m".
func parseWrkDuration(s string) (time.Duration, error) {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				return 0, fmt.Errorf("duration %q", s)
			}
			return time.Duration(f * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("duration %q", s)
}

// parseWrkBytes reads wrk's "236.05KB", "1.10GB", "512.00B".
func parseWrkBytes(s string) (float64, error) {
	for _, u := range []struct {
		suffix string
		unit   float64
	}{{"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"TB", 1 << 40}, {"B", 1}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				return 0, fmt.Errorf("size %q", s)
			}
			return f * u.unit, nil
		}
	}
	return 0, fmt.Errorf("size %q", s)
}
