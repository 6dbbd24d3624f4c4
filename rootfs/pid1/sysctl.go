package pid1

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procSys is where sysctls live; swapped by tests.
var procSys = "/proc/sys"

// Sysctls are the kernel settings the box raises at boot. Each is a floor: a
// value already higher (a board's kernel default) is kept.
//
// The WebRTC super-peer sends every browser's segments through one UDP socket
// and asks for 4 MiB buffers; Debian's kernel caps socket buffers at 208 KiB
// (net.core.[rw]mem_max), which dropped packets from 25 browsers on in
// tools/cmd/p2pbench (docs/BENCH.md).
var Sysctls = []struct {
	Key   string // dotted, as sysctl(8) names it
	Floor int64
}{
	{"net.core.rmem_max", 4 << 20},
	{"net.core.wmem_max", 4 << 20},
}

// RaiseSysctls applies Sysctls and returns one error per setting it could not
// apply (the box runs on without them).
func RaiseSysctls() []error {
	var errs []error
	for _, s := range Sysctls {
		p := filepath.Join(procSys, strings.ReplaceAll(s.Key, ".", "/"))
		raw, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("sysctl %s: %w", s.Key, err))
			continue
		}
		cur, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("sysctl %s: unreadable value %q", s.Key, strings.TrimSpace(string(raw))))
			continue
		}
		if cur >= s.Floor {
			continue
		}
		if err := os.WriteFile(p, []byte(strconv.FormatInt(s.Floor, 10)), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("sysctl %s=%d: %w", s.Key, s.Floor, err))
		}
	}
	return errs
}
