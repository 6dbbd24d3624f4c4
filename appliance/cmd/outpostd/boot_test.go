package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestBootStatus(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, body string
		want       bool
	}{
		{"report", `{"problems":["data partition recreated"]}`, true},
		{"not json", `{"problems":`, false},
	} {
		p := filepath.Join(dir, tc.name+".json")
		os.WriteFile(p, []byte(tc.body), 0o600)
		t.Setenv("OUTPOST_BOOT_STATUS", p)
		got := bootStatus()
		if (got != nil) != tc.want || (tc.want && !json.Valid(got)) {
			t.Errorf("%s: bootStatus() = %q", tc.name, got)
		}
	}
	t.Setenv("OUTPOST_BOOT_STATUS", filepath.Join(dir, "missing.json"))
	if bootStatus() != nil {
		t.Error("missing file gave a report")
	}
}
