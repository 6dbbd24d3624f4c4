package layout

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestManifestRoundTrip(t *testing.T) {
	m := &Manifest{Board: "pc-x86_64", Version: "v1", BuildTime: time.Unix(1700000000, 0).UTC(), Kernel: "6.1.0-56-amd64",
		Modules: []string{"/lib/modules/6.1.0-56-amd64/kernel/fs/ext4/ext4.ko"}, DataMinSize: 128 << 20, DataType: "0FC63DAF-8483-4772-8E79-3D69D8477DE4"}
	got, err := ParseManifest(m.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(m, got); d != "" {
		t.Fatalf("round trip (-want +got):\n%s", d)
	}
	for _, bad := range []string{"", "{}", `{"board":"x"}`, "not json"} {
		if _, err := ParseManifest([]byte(bad)); err == nil {
			t.Errorf("ParseManifest(%q) succeeded", bad)
		}
	}
}

func TestEntryName(t *testing.T) {
	cases := map[string]string{
		EntryName("a", 3):  "outpost-a+3.conf",
		EntryName("b", 0):  "outpost-b+0.conf",
		EntryName("a", -1): "outpost-a.conf",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
