package clock

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

func TestFloor(t *testing.T) {
	cases := []struct {
		name    string
		floor   time.Time
		setErr  error
		stepped bool
		err     bool
	}{
		{"clock after build", time.Now().Add(-time.Hour), nil, false, false},
		{"clock before build (no RTC)", time.Now().Add(time.Hour), nil, true, false},
		{"cannot set", time.Now().Add(time.Hour), errors.New("EPERM"), false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var set time.Time
			stepped, err := Floor(tc.floor, func(t time.Time) error { set = t; return tc.setErr })
			if stepped != tc.stepped || (err != nil) != tc.err {
				t.Fatalf("Floor = %v, %v; want %v, error %v", stepped, err, tc.stepped, tc.err)
			}
			if stepped && !set.Equal(tc.floor) {
				t.Fatalf("set %v, want %v", set, tc.floor)
			}
		})
	}
}

func TestOnce(t *testing.T) {
	floor := time.Now().Add(-24 * time.Hour)
	cases := []struct {
		name      string
		servers   []string
		answers   map[string]time.Duration // missing: error
		wantSync  bool
		wantSrv   string
		wantSet   bool
		wantProbl string
	}{
		{"first answers, big offset", []string{"a", "b"}, map[string]time.Duration{"a": time.Hour}, true, "a", true, ""},
		{"small offset is not stepped", []string{"a"}, map[string]time.Duration{"a": time.Millisecond}, true, "a", false, ""},
		{"first silent, second answers", []string{"a", "b"}, map[string]time.Duration{"b": -time.Minute}, true, "b", true, ""},
		{"answer before build time refused", []string{"evil", "good"}, map[string]time.Duration{"evil": -48 * time.Hour, "good": time.Second}, true, "good", true, ""},
		{"only a hostile answer", []string{"evil"}, map[string]time.Duration{"evil": -48 * time.Hour}, false, "", false, "before the image's build time"},
		{"no servers", nil, nil, false, "", false, "no NTP servers known"},
		{"all silent", []string{"a", "b"}, nil, false, "", false, "no NTP server answered: a: timeout; b: timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var set bool
			s := &Syncer{
				Floor:   floor,
				Servers: func() ([]string, string) { return tc.servers, "dhcp" },
				Query: func(_ context.Context, srv string) (time.Duration, error) {
					if off, ok := tc.answers[srv]; ok {
						return off, nil
					}
					return 0, errors.New("timeout")
				},
				Set: func(time.Time) error { set = true; return nil },
				Log: slog.New(slog.DiscardHandler),
			}
			s.Step = 100 * time.Millisecond
			st := s.Once(context.Background())
			if st.Synced != tc.wantSync || st.Server != tc.wantSrv || set != tc.wantSet {
				t.Fatalf("status %+v set %v; want synced %v server %q set %v", st, set, tc.wantSync, tc.wantSrv, tc.wantSet)
			}
			if st.ServersFrom != "dhcp" {
				t.Fatalf("servers_from %q, want what Servers said", st.ServersFrom)
			}
			if !strings.Contains(st.Problem, tc.wantProbl) {
				t.Fatalf("problem %q, want it to mention %q", st.Problem, tc.wantProbl)
			}
			if s.Status() != st {
				t.Fatal("Status() differs from Once's result")
			}
		})
	}
}

func TestServerAddr(t *testing.T) {
	cases := []struct{ in, want, err string }{
		{"0.pool.ntp.org", "0.pool.ntp.org:123", ""},
		{"ntp.corp.example:1123", "ntp.corp.example:1123", ""},
		{"10.1.0.5", "10.1.0.5:123", ""},
		{"10.1.0.5:123", "10.1.0.5:123", ""},
		{"2001:db8::123", "[2001:db8::123]:123", ""},
		{"[2001:db8::123]", "[2001:db8::123]:123", ""},
		{"[2001:db8::123]:4123", "[2001:db8::123]:4123", ""},
		{"", "", "empty"},
		{"host:", "", "bad port"},
		{"host:0", "", "bad port"},
		{"host:65536", "", "bad port"},
		{"host:ntp", "", "bad port"},
		{":123", "", "bad port or host"},
		{"[host", "", "not a host"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ServerAddr(tc.in)
			if got != tc.want || tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("ServerAddr(%q) = %q, %v; want %q, error %q", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

// ntpServer answers NTP requests on 127.0.0.1 with its clock set ahead by
// skew, the way a stratum-1 server would. It returns "127.0.0.1:port".
func ntpServer(t *testing.T, skew time.Duration) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	ntpTime := func(tm time.Time) []byte {
		const unixToNTP = 2208988800
		b := make([]byte, 8)
		binary.BigEndian.PutUint32(b, uint32(tm.Unix()+unixToNTP))
		binary.BigEndian.PutUint32(b[4:], uint32(uint64(tm.Nanosecond())<<32/1e9))
		return b
	}
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 48 {
				continue
			}
			now := time.Now().Add(skew)
			resp := make([]byte, 48)
			resp[0] = 0<<6 | 4<<3 | 4 // no leap warning, version 4, mode server
			resp[1] = 1               // stratum 1
			resp[2] = 6               // poll
			resp[3] = 0xec            // precision -20
			copy(resp[12:16], "TEST")
			copy(resp[16:24], ntpTime(now.Add(-time.Second))) // reference time
			copy(resp[24:32], buf[40:48])                     // origin = the client's transmit time
			copy(resp[32:40], ntpTime(now))                   // receive
			copy(resp[40:48], ntpTime(now))                   // transmit
			pc.WriteTo(resp, from)
		}
	}()
	return pc.LocalAddr().String()
}

func TestNTPQuery(t *testing.T) {
	const skew = time.Hour
	addr := ntpServer(t, skew)
	_, port, _ := net.SplitHostPort(addr)
	silent, err := net.ListenPacket("udp4", "127.0.0.1:0") // takes the request, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	cases := []struct {
		name   string
		server string
		err    bool
	}{
		{"address and port", addr, false},
		{"host name and port", "localhost:" + port, false},
		{"silent server", silent.LocalAddr().String(), true},
		{"bad port", "127.0.0.1:99999", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			off, err := NTPQuery(ctx, tc.server)
			if tc.err {
				if err == nil {
					t.Fatalf("NTPQuery(%q) answered %v, want an error", tc.server, off)
				}
				return
			}
			if err != nil {
				t.Fatalf("NTPQuery(%q): %v", tc.server, err)
			}
			if off < skew-time.Second || off > skew+time.Second {
				t.Fatalf("offset %v, want about %v", off, skew)
			}
		})
	}
}
