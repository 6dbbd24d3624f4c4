package main

import (
	"os/exec"
	"strings"
	"testing"
)

// allowedDeps are the module paths the init may link (prefixes). PID 1 stays
// small: a new dependency is added here on purpose or not at all.
var allowedDeps = []string{
	"github.com/outpost-ecdn/outpost/rootfs/",
	"github.com/outpost-ecdn/outpost/appliance/config", // reads outpostd's listen address
	"github.com/beevik/ntp",
	"github.com/diskfs/go-diskfs/backend",
	"github.com/diskfs/go-diskfs/partition/",
	"github.com/google/uuid",
	// DHCP (rootfs/netup): nclient4 and what it links. uio pulls in lz4.
	"github.com/insomniacslk/dhcp/dhcpv4",
	"github.com/insomniacslk/dhcp/iana",
	"github.com/insomniacslk/dhcp/interfaces",
	"github.com/insomniacslk/dhcp/rfc1035label",
	"github.com/u-root/uio/",
	"github.com/pierrec/lz4/v4",
	"github.com/mdlayher/packet",
	"github.com/mdlayher/socket",
	"github.com/josharian/native",
	"golang.org/x/sync/errgroup",
	"github.com/vishvananda/netlink",
	"github.com/vishvananda/netns",
	"go.yaml.in/yaml/v3",
	"golang.org/x/net/",
	"golang.org/x/sys/unix",
}

func TestDependencies(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
	cmd.Env = append(cmd.Environ(), "GOOS=linux")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		ok := false
		for _, a := range allowedDeps {
			ok = ok || strings.HasPrefix(pkg, a)
		}
		if !ok {
			t.Errorf("the init links %s, which is not in allowedDeps (deps_test.go): add it deliberately or drop it", pkg)
		}
	}
}
