package main

import (
	"os/exec"
	"strings"
	"testing"
)

// allowedDeps are the module paths outpostd may link (prefixes). A new heavy
// dependency must be added here on purpose (tailscale's depaware idea, in small).
var allowedDeps = []string{
	"github.com/outpost-ecdn/outpost/",
	"github.com/prometheus/",
	"github.com/beorn7/perks",
	"github.com/cespare/xxhash",
	"github.com/munnerz/goautoneg",
	"google.golang.org/protobuf",
	"go.yaml.in/yaml",
	"github.com/fsnotify/fsnotify",
	"golang.org/x/sys",
	"golang.org/x/time",
	"github.com/grafov/m3u8",
	"github.com/miekg/dns", // mDNS responder/browser (appliance/discovery)
	"golang.org/x/net",     // ipv4 multicast, dnsmessage
	"golang.org/x/crypto",
	"github.com/vishvananda/netlink", // kernel WAN shaping (appliance/shaper)
	"github.com/vishvananda/netns",
	"github.com/google/gopacket", // packet capture (appliance/capture)
	"github.com/coder/websocket", // tracker (appliance/tracker)
	"github.com/pion/",           // WebRTC super-peer (appliance/superpeer)
	"github.com/google/uuid",     // via pion
	"github.com/wlynxg/anet",     // via pion  // via miekg/dns
}

func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var n int
	for _, pkg := range strings.Fields(string(out)) {
		n++
		ok := false
		for _, a := range allowedDeps {
			ok = ok || strings.HasPrefix(pkg, a)
		}
		if !ok {
			t.Errorf("outpostd links %s, which is not in allowedDeps (deps_test.go): add it deliberately or drop it", pkg)
		}
	}
	if n == 0 {
		t.Fatal("go list returned no packages")
	}
}
