package config

import (
	"errors"
	"testing"
)

func TestP2PConfig(t *testing.T) {
	const base = "site: s\norigins: [{name: demo, url: 'http://127.0.0.1:8081/'}]\n"
	ok, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if ok.Tracker.Mode != "star" || ok.Tracker.IntervalSeconds != 120 || ok.SuperPeer.UDPListen != ":8478" || ok.SuperPeer.MaxPeers != 200 {
		t.Errorf("defaults: %+v %+v", ok.Tracker, ok.SuperPeer)
	}
	full := base + `lan:
  prefixes: [10.1.0.0/16, "fd00::/8"]
  groups: [{name: kiosks, prefixes: [10.1.9.0/24], p2p: download_only}]
tracker: {enabled: true, mode: mesh, max_message_bytes: 32KiB}
superpeer:
  enabled: true
  udp_listen: 10.1.0.2:3478
  streams: [{url: "https://portal.corp.example/live/master.m3u8", path: /o/demo/live/master.m3u8}]
`
	cfg, err := Parse([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LAN.Groups[0].P2P != "download_only" || cfg.Tracker.Mode != "mesh" || len(cfg.SuperPeer.Streams) != 1 {
		t.Errorf("parsed %+v %+v %+v", cfg.LAN, cfg.Tracker, cfg.SuperPeer)
	}
	for _, tc := range []struct {
		name, doc, key string
	}{
		{"bad prefix", "lan: {prefixes: [10.1.0.0]}", "lan.prefixes[0]"},
		{"bad group mode", "lan: {groups: [{name: g, prefixes: [10.0.0.0/8], p2p: maybe}]}", "lan.groups[0].p2p"},
		{"group without prefixes", "lan: {groups: [{name: g}]}", "lan.groups[0].prefixes"},
		{"bad mode", "tracker: {mode: ring}", "tracker.mode"},
		{"interval", "tracker: {interval_seconds: 1}", "tracker.interval_seconds"},
		{"super-peer needs the tracker", "superpeer: {enabled: true}", "superpeer.enabled"},
		{"udp address", "superpeer: {udp_listen: nowhere}", "superpeer.udp_listen"},
		{"stream path", "superpeer: {streams: [{url: 'https://a/b.m3u8', path: /b.m3u8}]}", "superpeer.streams[0].path"},
		{"unknown key", "tracker: {modes: star}", "tracker.modes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(base + tc.doc + "\n"))
			var ke *KeyError
			if !errors.As(err, &ke) || ke.Key != tc.key {
				t.Fatalf("err = %v, want one naming %s", err, tc.key)
			}
		})
	}
}
