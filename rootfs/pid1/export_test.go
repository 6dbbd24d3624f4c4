package pid1

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeRoot points every path the package reads at a temporary directory tree
// and returns its root; t.Cleanup restores them.
func fakeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	vars := []*string{&procCmdline, &procUptime, &dmiSerial, &dmiUUID, &dtSerial, &sysNet, &efivarBootCountPath}
	old := make([]string, len(vars))
	for i, v := range vars {
		old[i] = *v
		*v = filepath.Join(root, *v)
	}
	t.Cleanup(func() {
		for i, v := range vars {
			*v = old[i]
		}
	})
	return root
}

func writeFile(t *testing.T, path string, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
