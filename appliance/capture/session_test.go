package capture

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// fakeSource replays frames, then blocks like an idle socket: until the read
// timeout passes (errIdle) or a frame is pushed on more.
type fakeSource struct {
	frames [][]byte
	more   chan []byte
	closed chan struct{}
	nDrops uint64
}

func newFakeSource(frames ...[]byte) *fakeSource {
	return &fakeSource{frames: frames, more: make(chan []byte), closed: make(chan struct{})}
}

func (s *fakeSource) read(timeout time.Duration) ([]byte, gopacket.CaptureInfo, error) {
	ci := func(b []byte) gopacket.CaptureInfo {
		return gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: len(b), Length: len(b) + 100}
	}
	if len(s.frames) > 0 {
		b := s.frames[0]
		s.frames = s.frames[1:]
		return b, ci(b), nil
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case b := <-s.more:
		return b, ci(b), nil
	case <-t.C:
		return nil, gopacket.CaptureInfo{}, errIdle
	}
}

func (s *fakeSource) drops() (uint64, error) { return s.nDrops, nil }

func (s *fakeSource) close() error {
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	return nil
}

// useFakeSource makes Open return src (or err) for the rest of the test.
func useFakeSource(t *testing.T, src *fakeSource, err error) *Options {
	var got Options
	old := openSource
	openSource = func(o Options, f *Filter) (source, error) {
		got = o
		if err != nil {
			return nil, err
		}
		return src, nil
	}
	t.Cleanup(func() { openSource = old })
	return &got
}

func frameN(t testing.TB, n int) [][]byte {
	var out [][]byte
	for i := range n {
		out = append(out, buildFrame(t, frameSpec{name: "udp", proto: "udp", src: "10.0.0.1", dst: "192.0.2.1",
			sport: 1000, dport: uint16(2000 + i)}))
	}
	return out
}

func readPcap(t *testing.T, b []byte) (*pcapgo.Reader, [][]byte) {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("pcap header: %v", err)
	}
	var pkts [][]byte
	for range 1_000_000 {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("pcap record %d: %v", len(pkts), err)
		}
		pkts = append(pkts, data)
	}
	return r, pkts
}

func TestWriteToBounds(t *testing.T) {
	frames := frameN(t, 10)
	rec := int64(pcapRecordHeaderLen + len(frames[0]))
	cases := []struct {
		name     string
		opts     Options
		cancel   bool
		wantStop StopReason
		wantPkts int
	}{
		{"packets", Options{MaxPackets: 3}, false, StopPackets, 3},
		{"bytes", Options{MaxBytes: pcapHeaderLen + 2*rec + rec/2}, false, StopBytes, 2},
		{"bytes exact", Options{MaxBytes: pcapHeaderLen + 4*rec}, false, StopBytes, 4},
		{"duration", Options{Duration: 50 * time.Millisecond}, false, StopDuration, 10},
		{"canceled", Options{}, true, StopCanceled, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			useFakeSource(t, newFakeSource(frames...), nil)
			tc.opts.Interface = "wan0"
			tc.opts.Snaplen = 1500
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			var out bytes.Buffer
			res, err := Capture(ctx, &out, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Stop != tc.wantStop || res.Packets != tc.wantPkts {
				t.Errorf("stop %q after %d packets, want %q after %d", res.Stop, res.Packets, tc.wantStop, tc.wantPkts)
			}
			if res.Bytes != int64(out.Len()) {
				t.Errorf("Result.Bytes %d, wrote %d", res.Bytes, out.Len())
			}
			if tc.opts.MaxBytes > 0 && int64(out.Len()) > tc.opts.MaxBytes {
				t.Errorf("wrote %d bytes, bound %d", out.Len(), tc.opts.MaxBytes)
			}
			r, pkts := readPcap(t, out.Bytes())
			if len(pkts) != tc.wantPkts {
				t.Errorf("pcap holds %d packets, want %d", len(pkts), tc.wantPkts)
			}
			if r.Snaplen() != 1500 || r.LinkType() != layers.LinkTypeEthernet {
				t.Errorf("pcap header snaplen %d link %v", r.Snaplen(), r.LinkType())
			}
			if want := int64(tc.wantPkts * (len(frames[0]) + 100)); res.WireBytes != want {
				t.Errorf("WireBytes %d, want %d", res.WireBytes, want)
			}
		})
	}
}

func TestOptionsBounds(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		want error
	}{
		{"defaults", Options{Interface: "x"}, nil},
		{"no interface", Options{}, ErrNoInterface},
		{"duration max", Options{Interface: "x", Duration: MaxDuration}, nil},
		{"duration over", Options{Interface: "x", Duration: MaxDuration + time.Second}, ErrBounds},
		{"duration negative", Options{Interface: "x", Duration: -1}, ErrBounds},
		{"packets over", Options{Interface: "x", MaxPackets: MaxPackets + 1}, ErrBounds},
		{"bytes over", Options{Interface: "x", MaxBytes: MaxBytes + 1}, ErrBounds},
		{"bytes below header", Options{Interface: "x", MaxBytes: 10}, ErrBounds},
		{"snaplen small", Options{Interface: "x", Snaplen: 10}, ErrBounds},
		{"snaplen over", Options{Interface: "x", Snaplen: MaxSnaplen + 1}, ErrBounds},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := tc.o.withDefaults()
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("withDefaults = %v, want %v", err, tc.want)
			}
			if err == nil && (o.Duration == 0 || o.MaxPackets == 0 || o.MaxBytes == 0 || o.Snaplen == 0) {
				t.Errorf("defaults not applied: %+v", o)
			}
		})
	}
}

func TestOpenBadFilterBeforeSocket(t *testing.T) {
	opened := false
	old := openSource
	openSource = func(Options, *Filter) (source, error) { opened = true; return newFakeSource(), nil }
	t.Cleanup(func() { openSource = old })
	_, err := Open(Options{Interface: "wan0", Filter: "tcp and and udp"})
	var se *SyntaxError
	if !errors.As(err, &se) || se.Pos != 8 {
		t.Fatalf("Open = %v, want a SyntaxError at offset 8", err)
	}
	if opened {
		t.Error("a socket was opened for a filter that does not parse")
	}
}
