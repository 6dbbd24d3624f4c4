package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const siblingsBase = "site: b\norigins: [{name: demo, url: 'http://127.0.0.1:8081'}]\n"

func TestSiblingsDefaults(t *testing.T) {
	cfg, err := Parse([]byte(siblingsBase))
	if err != nil {
		t.Fatal(err)
	}
	want := Siblings{Port: 8444, ExpireAfter: 6 * time.Second, Role: "edge"}
	if d := cmp.Diff(want, cfg.Siblings); d != "" {
		t.Fatalf("defaults (-want +got):\n%s", d)
	}
	cfg, err = Parse([]byte(siblingsBase + "siblings:\n  enabled: true\n  site_public_key: AAAA\n  expire_after: 9s\n  interfaces: [lan0, lan1]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Siblings.ExpireAfter != 9*time.Second || len(cfg.Siblings.Interfaces) != 2 {
		t.Fatalf("parsed %+v", cfg.Siblings)
	}
}

func TestSiblingsValidate(t *testing.T) {
	for _, tc := range []struct{ name, yaml, key string }{
		{"enabled without site key", "siblings: {enabled: true}", "siblings.site_public_key"},
		{"port too big", "siblings: {port: 70000}", "siblings.port"},
		{"expire too short", "siblings: {expire_after: 100ms}", "siblings.expire_after"},
		{"bad interface", "siblings: {interfaces: ['eth0; rm']}", "siblings.interfaces[0]"},
		{"bad role", "siblings: {role: 'a b'}", "siblings.role"},
		{"unknown key", "siblings: {prot: 1}", "siblings.prot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(siblingsBase + tc.yaml + "\n"))
			var ke *KeyError
			if !errors.As(err, &ke) || !strings.HasPrefix(ke.Key, tc.key) {
				t.Fatalf("err = %v, want a KeyError for %s", err, tc.key)
			}
		})
	}
}
