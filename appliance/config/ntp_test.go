package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestNTPServers(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
		key        string // non-empty: a KeyError for this key
	}{
		{"none", "", nil, ""},
		{"names and addresses", "ntp: {servers: [ntp1.corp.example, '10.1.0.5', '10.1.0.6:1123', '[fd00::1]:123', 'fd00::2']}",
			[]string{"ntp1.corp.example", "10.1.0.5", "10.1.0.6:1123", "[fd00::1]:123", "fd00::2"}, ""},
		{"trailing dot", "ntp: {servers: [time.corp.example.]}", []string{"time.corp.example."}, ""},
		{"url is not a host", "ntp: {servers: ['ntp://time.example']}", nil, "ntp.servers[0]"},
		{"space", "ntp: {servers: [ok.example, 'a b']}", nil, "ntp.servers[1]"},
		{"bad port", "ntp: {servers: ['time.example:0']}", nil, "ntp.servers[0]"},
		{"too many", "ntp: {servers: [a, b, c, d, e, f, g, h, i]}", nil, "ntp.servers"},
		{"unknown key", "ntp: {server: [a]}", nil, "ntp.server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(siblingsBase + tc.yaml + "\n"))
			if tc.key != "" {
				var ke *KeyError
				if !errors.As(err, &ke) || !strings.HasPrefix(ke.Key, tc.key) {
					t.Fatalf("err = %v, want a KeyError for %s", err, tc.key)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cfg.NTP.Servers, tc.want) {
				t.Fatalf("servers = %q, want %q", cfg.NTP.Servers, tc.want)
			}
		})
	}
}
