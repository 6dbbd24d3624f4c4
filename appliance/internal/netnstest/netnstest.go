// Package netnstest makes throwaway network namespaces for tests that need real
// links and real kernel state (qdiscs, packet sockets).
//
// In: a test, a short tag and the addresses each side should carry. Out: two
// namespaces joined by a veth, both ends and both loopbacks up, deleted (with the
// veth and everything in them) by t.Cleanup. Names carry a random id, so runs never
// collide. Tests skip without root or iproute2, and fail instead under CI=1 (CI
// runs as root with iproute2).
package netnstest

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// RequireRoot skips t unless it runs as root with iproute2 installed (fails it
// under CI=1).
func RequireRoot(t testing.TB) {
	t.Helper()
	missing := t.Skip
	if os.Getenv("CI") != "" {
		missing = t.Fatal // CI installs everything and runs as root: a skip would hide a gap
	}
	if os.Geteuid() != 0 {
		missing("needs root to create network namespaces (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		missing("iproute2 (ip) not installed")
	}
}

// Run runs a command and fails t with its output when it fails.
func Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Pair is two namespaces joined by a veth.
type Pair struct {
	A, B         string // namespace names
	APath, BPath string // /run/netns/NAME
	IfA, IfB     string // the veth's ends in A and B
}

// NewPair makes namespaces "outpost-TAG-ID-aName" and "...-bName" joined by a veth
// (ends named TAG[:2]+ID+"a"/"b", within the kernel's 15 bytes), with aAddrs on A's
// end and bAddrs on B's end (each a /24).
func NewPair(t testing.TB, tag, aName, bName string, aAddrs, bAddrs []netip.Addr) *Pair {
	t.Helper()
	RequireRoot(t)
	var r [4]byte
	_, _ = rand.Read(r[:])
	id := hex.EncodeToString(r[:])
	short := tag
	if len(short) > 2 {
		short = short[:2]
	}
	p := &Pair{A: "outpost-" + tag + "-" + id + "-" + aName, B: "outpost-" + tag + "-" + id + "-" + bName,
		IfA: short + id + "a", IfB: short + id + "b"}
	p.APath, p.BPath = "/run/netns/"+p.A, "/run/netns/"+p.B
	for _, ns := range []string{p.A, p.B} {
		Run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	Run(t, "ip", "link", "add", p.IfA, "netns", p.A, "type", "veth", "peer", "name", p.IfB, "netns", p.B)
	for _, a := range aAddrs {
		Run(t, "ip", "-n", p.A, "addr", "add", a.String()+"/24", "dev", p.IfA)
	}
	for _, a := range bAddrs {
		Run(t, "ip", "-n", p.B, "addr", "add", a.String()+"/24", "dev", p.IfB)
	}
	for _, c := range [][2]string{{p.A, p.IfA}, {p.B, p.IfB}, {p.A, "lo"}, {p.B, "lo"}} {
		Run(t, "ip", "-n", c[0], "link", "set", c[1], "up")
	}
	return p
}
