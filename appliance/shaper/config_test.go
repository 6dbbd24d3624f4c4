package shaper

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Interface: "wan0", LinkMbps: 100, VideoMbps: 50}
	cases := []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"minimal", func(c *Config) {}, ""},
		{"ingress", func(c *Config) { c.Ingress = true; c.IngressLinkMbps = 300 }, ""},
		{"no interface", func(c *Config) { c.Interface = "" }, "interface"},
		{"long interface", func(c *Config) { c.Interface = "a-very-long-ifname" }, "interface"},
		{"slash in interface", func(c *Config) { c.Interface = "wan/0" }, "interface"},
		{"no link rate", func(c *Config) { c.LinkMbps = 0 }, "link_mbps"},
		{"negative video", func(c *Config) { c.VideoMbps = -1 }, "video_mbps"},
		{"video equals link", func(c *Config) { c.VideoMbps = 100 }, "below link_mbps"},
		{"video above downlink", func(c *Config) { c.Ingress = true; c.IngressLinkMbps = 40 }, "below ingress_link_mbps"},
		{"absurd rate", func(c *Config) { c.LinkMbps = 1e9 }, "link_mbps"},
		{"ifb is wan", func(c *Config) { c.Ingress = true; c.IFB = "wan0" }, "ifb"},
		{"bad leaf", func(c *Config) { c.Leaf = "cake" }, "leaf"},
		{"pfifo leaf", func(c *Config) { c.Leaf = LeafPFIFO }, ""},
		{"origin without address", func(c *Config) { c.Origins = []Endpoint{{Port: 443}} }, "origins[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig mentioning %q", err, tc.want)
			}
			if _, err := New(c); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("New accepted it: %v", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	s, err := New(Config{Interface: "wan0", LinkMbps: 20, VideoMbps: 8,
		Origins: []Endpoint{{Prefix: netip.MustParsePrefix("10.1.2.3/8"), Port: 443}}})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Config()
	if c.Mark != DefaultMark || c.IFB != DefaultIFB || c.IngressLinkMbps != 20 || c.Logger == nil {
		t.Errorf("defaults not applied: %+v", c)
	}
	if c.Origins[0].Prefix.String() != "10.0.0.0/8" {
		t.Errorf("origin prefix not masked: %v", c.Origins[0].Prefix)
	}
	st := s.Status()
	if st.Installed || st.Interface != "wan0" || st.IFB != "" || st.Origins[0] != "10.0.0.0/8 port 443" {
		t.Errorf("Status = %+v", st)
	}
}

func TestOriginEndpoints(t *testing.T) {
	got, err := OriginEndpoints(context.Background(), nil, []string{
		"https://203.0.113.7/live/", "http://203.0.113.7:8080/", "http://[2001:db8::5]/", "https://203.0.113.7/vod/",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Endpoint{
		{netip.MustParsePrefix("203.0.113.7/32"), 443},
		{netip.MustParsePrefix("203.0.113.7/32"), 8080},
		{netip.MustParsePrefix("2001:db8::5/128"), 80},
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("endpoints (-want +got):\n%s", d)
	}
	for _, bad := range []string{"ftp://203.0.113.7/", "http://203.0.113.7:99999/", "http://%zz/"} {
		if _, err := OriginEndpoints(context.Background(), nil, []string{bad}); err == nil {
			t.Errorf("OriginEndpoints(%q) succeeded", bad)
		}
	}
}

func TestRateFrom(t *testing.T) {
	s := &Shaper{}
	t0 := time.Unix(100, 0)
	first := s.rateFrom(Stats{At: t0, Classes: []ClassStats{{Device: "wan0", Handle: "4f50:10", Bytes: 1000}}})
	if first.Classes[0].BitsPerSecond != 0 {
		t.Errorf("first sample has a rate: %v", first.Classes[0].BitsPerSecond)
	}
	second := s.rateFrom(Stats{At: t0.Add(2 * time.Second), Classes: []ClassStats{{Device: "wan0", Handle: "4f50:10", Bytes: 1_001_000}}})
	if got := second.Classes[0].BitsPerSecond; got != 4e6 {
		t.Errorf("rate %v, want 4e6", got)
	}
	if st := s.Status(); len(st.Classes) != 1 || st.StatsAt != t0.Add(2*time.Second) {
		t.Errorf("Status does not carry the last sample: %+v", st)
	}
}

func TestCollectorDescribes(t *testing.T) {
	s, err := New(Config{Interface: "nope0", LinkMbps: 20, VideoMbps: 8})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(s.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	// No such interface here: the collector still answers, with up = 0.
	if len(mfs) != 1 || mfs[0].GetName() != "outpost_shaper_up" || mfs[0].GetMetric()[0].GetGauge().GetValue() != 0 {
		t.Errorf("gathered %v", mfs)
	}
}
