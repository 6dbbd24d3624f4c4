package pid1

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRaiseSysctls(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rmem, wmem string // "" : file absent
		wantR      string
		wantW      string
		errs       int
	}{
		{"debian defaults are raised", "212992\n", "212992\n", "4194304", "4194304", 0},
		{"higher values are kept", "8388608\n", "4194304\n", "8388608\n", "4194304\n", 0},
		{"missing and garbage are reported", "", "lots\n", "", "lots\n", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := procSys
			procSys = t.TempDir()
			defer func() { procSys = old }()
			r := filepath.Join(procSys, "net/core/rmem_max")
			w := filepath.Join(procSys, "net/core/wmem_max")
			for p, v := range map[string]string{r: tc.rmem, w: tc.wmem} {
				if v != "" {
					writeFile(t, p, v)
				}
			}
			errs := RaiseSysctls()
			if len(errs) != tc.errs {
				t.Fatalf("errors %v, want %d", errs, tc.errs)
			}
			for p, want := range map[string]string{r: tc.wantR, w: tc.wantW} {
				got, _ := os.ReadFile(p)
				if string(got) != want {
					t.Errorf("%s = %q, want %q", strings.TrimPrefix(p, procSys), got, want)
				}
			}
		})
	}
}
