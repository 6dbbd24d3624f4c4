package bench

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// wrkLocal is wrk 4.1.0's report of a local run (Debian 12), captured verbatim.
const wrkLocal = `Running 1s test @ http://127.0.0.1:18777/x
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.88ms    1.71ms  14.30ms   87.29%
    Req/Sec     1.19k   237.79     1.51k    70.00%
  Latency Distribution
     50%    1.24ms
     75%    2.13ms
     90%    3.99ms
     99%    9.24ms
  1186 requests in 1.00s, 236.27KB read
Requests/sec:   1184.86
Transfer/sec:    236.05KB
`

// wrkErrors has wrk's optional error lines.
const wrkErrors = `Running 10s test @ http://127.0.0.1:8080/o/demo/vod/1080p/seg-0.ts
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   850.12us  300.00us  20.00ms   90.00%
    Req/Sec     1.20k   100.00     1.50k    70.00%
  Latency Distribution
     50%  800.00us
     75%    1.00ms
     90%    1.20ms
     99%    2.50s
  24000 requests in 10.00s, 23.44GB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 5
Requests/sec:   2400.00
Transfer/sec:      2.34GB
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    WrkResult
		wantErr error
	}{
		{name: "local", in: wrkLocal, want: WrkResult{
			Requests: 1186, RequestsPerSec: 1184.86, BytesPerSec: 236.05 * 1024,
			LatencyP50: 1240 * time.Microsecond, LatencyP99: 9240 * time.Microsecond,
		}},
		{name: "errors", in: wrkErrors, want: WrkResult{
			Requests: 24000, RequestsPerSec: 2400, BytesPerSec: 2.34 * (1 << 30),
			LatencyP50: 800 * time.Microsecond, LatencyP99: 2500 * time.Millisecond, Errors: 15,
		}},
		{name: "empty", in: "", wantErr: ErrWrkOutput},
		{name: "no latency distribution", in: "  10 requests in 1.00s, 1.00KB read\nRequests/sec: 10.00\nTransfer/sec: 1.00KB\n", wantErr: ErrWrkOutput},
		{name: "bad number", in: "Requests/sec: lots\n", wantErr: ErrWrkOutput},
		{name: "bad unit", in: "     50%    1.24fortnights\n", wantErr: ErrWrkOutput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWrk([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseWrk: %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseWrk (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWrkArgs(t *testing.T) {
	tests := []struct {
		name string
		in   WrkOptions
		want []string
	}{
		{"defaults", WrkOptions{URL: "http://127.0.0.1:1/x"}, []string{"-t2", "-c64", "-d10s", "--latency", "http://127.0.0.1:1/x"}},
		{"set", WrkOptions{URL: "u", Threads: 1, Conns: 8, Duration: 2500 * time.Millisecond}, []string{"-t1", "-c8", "-d3s", "--latency", "u"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.in.Args()); diff != "" {
				t.Errorf("Args (-want +got):\n%s", diff)
			}
		})
	}
}
