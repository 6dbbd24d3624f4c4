package pid1

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
)

func TestSlotAndCmdline(t *testing.T) {
	cases := []struct {
		cmdline string
		slot    string
	}{
		{"console=tty0 console=ttyS0,115200 panic=10 loglevel=4 outpost.slot=b\n", "b"},
		{"console=ttyS0 outpost.slot=a", "a"},
		{"console=ttyS0", "a"},
		{"outpost.slot=c", "a"}, // unknown slots boot a
		{"", "a"},
	}
	for _, tc := range cases {
		t.Run(tc.cmdline, func(t *testing.T) {
			fakeRoot(t)
			writeFile(t, procCmdline, tc.cmdline)
			if got := Slot(); got != tc.slot {
				t.Fatalf("Slot() = %q, want %q", got, tc.slot)
			}
		})
	}
	fakeRoot(t)
	writeFile(t, procCmdline, "quiet panic=10 console=ttyS0,115200\n")
	if d := cmp.Diff(map[string]string{"quiet": "", "panic": "10", "console": "ttyS0,115200"}, Cmdline()); d != "" {
		t.Fatal(d)
	}
}

func TestUptime(t *testing.T) {
	fakeRoot(t)
	writeFile(t, procUptime, "12.34 40.00\n")
	if got := Uptime(); got != 12340*time.Millisecond {
		t.Fatalf("Uptime() = %v", got)
	}
	os.Remove(procUptime)
	if got := Uptime(); got != 0 {
		t.Fatalf("Uptime() without /proc = %v", got)
	}
}

func TestHostname(t *testing.T) {
	cases := []struct {
		name  string
		files map[*string]string
		macs  map[string]string
		want  string
	}{
		{"DMI serial", map[*string]string{&dmiSerial: "G1A2B3C4\n"}, nil, "outpost-g1a2b3c4"},
		{"placeholder skipped, DT serial", map[*string]string{&dmiSerial: "To Be Filled By O.E.M.\n", &dtSerial: "10000000abcdef12\x00"}, nil, "outpost-10000000abcdef12"},
		{"spaces and symbols", map[*string]string{&dmiSerial: " SN: 12 34/56 "}, nil, "outpost-sn-12-3456"},
		{"qemu: empty serial, UUID", map[*string]string{&dmiSerial: "", &dmiUUID: "5b1c0e2e-0000-4000-8000-000000000001\n"}, nil, "outpost-5b1c0e2e-0000-4000-8000-000000000001"},
		{"MAC fallback", nil, map[string]string{"lo": "00:00:00:00:00:00\n", "eth0": "52:54:00:12:34:56\n"}, "outpost-525400123456"},
		{"nothing", nil, map[string]string{"lo": "00:00:00:00:00:00\n"}, "outpost"},
		{"too long", map[*string]string{&dmiSerial: strings.Repeat("x", 80)}, nil, "outpost-" + strings.Repeat("x", 55)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fakeRoot(t)
			for p, v := range tc.files {
				writeFile(t, *p, v)
			}
			for dev, mac := range tc.macs {
				writeFile(t, filepath.Join(sysNet, dev, "address"), mac)
			}
			if got := Hostname(); got != tc.want {
				t.Fatalf("Hostname() = %q, want %q", got, tc.want)
			}
		})
	}
}

func efiString(s string) string {
	var b bytes.Buffer
	b.Write([]byte{7, 0, 0, 0}) // attributes
	for _, c := range utf16.Encode([]rune(s)) {
		b.WriteByte(byte(c))
		b.WriteByte(byte(c >> 8))
	}
	b.Write([]byte{0, 0})
	return b.String()
}

func TestBless(t *testing.T) {
	cases := []struct {
		name    string
		entries []string
		efivar  string // LoaderBootCountPath, "" for none
		slot    string
		want    string
		after   []string
		err     bool
	}{
		{"first boot of a fresh image", []string{"outpost-a+2-1.conf", "outpost-b.conf"}, `\loader\entries\outpost-a+2-1.conf`, "a",
			"outpost-a.conf", []string{"outpost-a.conf", "outpost-b.conf"}, false},
		{"no efivar: the slot's counted entry", []string{"outpost-a+0-3.conf", "outpost-b+1-2.conf"}, "", "b",
			"outpost-b.conf", []string{"outpost-a+0-3.conf", "outpost-b.conf"}, false},
		{"already good", []string{"outpost-a.conf", "outpost-b.conf"}, "", "a", "", []string{"outpost-a.conf", "outpost-b.conf"}, false},
		{"counter without done part", []string{"outpost-a+3.conf"}, "", "a", "outpost-a.conf", []string{"outpost-a.conf"}, false},
		{"ambiguous", []string{"outpost-a+3.conf", "outpost-a+1-2.conf"}, "", "a", "", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := fakeRoot(t)
			esp := filepath.Join(root, "esp")
			for _, e := range tc.entries {
				writeFile(t, filepath.Join(esp, "loader/entries", e), "title Outpost\n")
			}
			if tc.efivar != "" {
				writeFile(t, efivarBootCountPath, efiString(tc.efivar))
			}
			got, err := Bless(esp, tc.slot)
			if (err != nil) != tc.err {
				t.Fatalf("Bless err = %v, want error %v", err, tc.err)
			}
			if got != tc.want {
				t.Fatalf("Bless = %q, want %q", got, tc.want)
			}
			if tc.err {
				return
			}
			ents, _ := os.ReadDir(filepath.Join(esp, "loader/entries"))
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			sort.Strings(names)
			if d := cmp.Diff(tc.after, names); d != "" {
				t.Fatalf("entries after (-want +got):\n%s", d)
			}
		})
	}
}

func TestESPMarker(t *testing.T) {
	esp := t.TempDir()
	var remounts []bool
	m := &espMarker{esp: esp, remount: func(rw bool) error { remounts = append(remounts, rw); return nil }}
	if got, err := m.Created(); got != "" || err != nil {
		t.Fatalf("fresh ESP: Created() = %q, %v", got, err)
	}
	if err := m.Record("2026-11-25T12:00:00Z on /dev/vda4"); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Created(); got != "2026-11-25T12:00:00Z on /dev/vda4" {
		t.Fatalf("Created() = %q", got)
	}
	if d := cmp.Diff([]bool{true, false}, remounts); d != "" {
		t.Fatalf("remounts (-want +got):\n%s", d)
	}
}

func TestReport(t *testing.T) {
	p := filepath.Join(t.TempDir(), "run/outpost/boot.json")
	r := &Report{path: p, Problems: []string{}}
	r.Update(func(r *Report) { r.Board, r.Slot = "pc-x86_64", "a" })
	r.Problem("data: recreated")
	r.Problem("data: recreated")
	r.Problem(problemNoNTP)
	r.Resolve(problemNoNTP)
	r.Resolve("never there")
	var got map[string]any
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["board"] != "pc-x86_64" || len(got["problems"].([]any)) != 1 || got["problems"].([]any)[0] != "data: recreated" {
		t.Fatalf("report %s", b)
	}
}

func TestConsoleWriter(t *testing.T) {
	fakeRoot(t)
	writeFile(t, procUptime, "3.5 1\n")
	var out bytes.Buffer
	log, _ := NewLogger(&out)
	log.Info("data partition", "state", "created")
	want := "[    3.500] level=INFO msg=\"data partition\" init=outpost state=created\n"
	if out.String() != want {
		t.Fatalf("console %q, want %q", out.String(), want)
	}
}

// TestInitLog: the init's own lines reach the file set by persist, those from
// before it first, with the wall clock; services' mirrored lines stay on the
// console only.
func TestInitLog(t *testing.T) {
	fakeRoot(t)
	writeFile(t, procUptime, "3.5 1\n")
	var out, file bytes.Buffer
	log, console := NewLogger(&out)
	cw := console.(*consoleWriter)
	log.Info("before the data partition")
	fmt.Fprintln(console, "outpostd: a service line")
	cw.persist(&file)
	log.Warn("after", "n", 2)
	cw.persist(nil)
	log.Info("after the unmount")
	re := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[    3\.500\] level=INFO msg="before the data partition" init=outpost\n` +
		`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[    3\.500\] level=WARN msg=after init=outpost n=2\n$`)
	if !re.MatchString(file.String()) {
		t.Fatalf("init.log:\n%s", file.String())
	}
	if n := strings.Count(out.String(), "\n"); n != 4 || !strings.Contains(out.String(), "[    3.500] outpostd: a service line\n") {
		t.Fatalf("console:\n%s", out.String())
	}
}

// TestInitLogEarlyBound: lines logged before init.log exists are kept up to a
// bound, and the file says how many did not fit.
func TestInitLogEarlyBound(t *testing.T) {
	fakeRoot(t)
	log, console := NewLogger(io.Discard)
	for range 2000 {
		log.Info("early", "pad", strings.Repeat("x", 100))
	}
	var file bytes.Buffer
	console.(*consoleWriter).persist(&file)
	if file.Len() > maxEarly+200 || !regexp.MustCompile(`--- \d+ earlier init log lines did not fit in memory ---\n$`).MatchString(file.String()) {
		t.Fatalf("init.log holds %d bytes, ends %q", file.Len(), file.String()[max(0, file.Len()-100):])
	}
}

func TestNTPServers(t *testing.T) {
	site := "site: s\norigins:\n  - name: o\n    url: http://origin.example/\n"
	cases := []struct {
		name   string
		config string // "" : no file
		dhcp   []string
		want   []string
		from   string
	}{
		{"nothing: the pool", "", nil, DefaultNTP, NTPFromDefault},
		{"config without ntp, no DHCP", site, nil, DefaultNTP, NTPFromDefault},
		{"DHCP only", site, []string{"10.0.2.2"}, []string{"10.0.2.2"}, NTPFromDHCP},
		{"config only", site + "ntp:\n  servers: [ntp1.corp.example, \"10.1.0.5:1123\"]\n", nil,
			[]string{"ntp1.corp.example", "10.1.0.5:1123"}, NTPFromConfig},
		{"config first, then DHCP, no duplicates", site + "ntp:\n  servers: [10.1.0.5, ntp1.corp.example]\n", []string{"10.0.2.2", "10.1.0.5"},
			[]string{"10.1.0.5", "ntp1.corp.example", "10.0.2.2"}, NTPFromConfigDHCP},
		{"invalid config counts as none", "site: s\nntp:\n  servers: [\"bad host!\"]\n", []string{"10.0.2.2"}, []string{"10.0.2.2"}, NTPFromDHCP},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "outpostd.yaml")
			if tc.config != "" {
				writeFile(t, p, tc.config)
			}
			got, from := NTPServers(p, tc.dhcp)
			if d := cmp.Diff(tc.want, got); d != "" || from != tc.from {
				t.Fatalf("NTPServers = %q from %q, want %q from %q", got, from, tc.want, tc.from)
			}
		})
	}
}
