package board

import (
	"strings"
	"testing"
)

func TestBoardsValidate(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			b, err := Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Validate(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.Kernel.Image, b.Kernel.Release) {
				t.Errorf("kernel image %q does not name release %q", b.Kernel.Image, b.Kernel.Release)
			}
		})
	}
}

func TestLookupReturnsCopy(t *testing.T) {
	a, _ := Lookup("pc-x86_64")
	a.Modules[0] = "changed"
	a.ESPSize = 1
	b, _ := Lookup("pc-x86_64")
	if b.Modules[0] == "changed" || b.ESPSize == 1 {
		t.Fatal("Lookup returned shared state")
	}
}

func TestLookupUnknown(t *testing.T) {
	_, err := Lookup("pc-x86-64")
	if err == nil || !strings.Contains(err.Error(), "pc-x86_64") {
		t.Fatalf("error %v should list the known boards", err)
	}
}

func TestValidate(t *testing.T) {
	good, _ := Lookup("pc-x86_64")
	cases := []struct {
		name   string
		mutate func(*Board)
		want   string
	}{
		{"ok", func(*Board) {}, ""},
		{"no kernel version", func(b *Board) { b.Kernel.Package.Version = "" }, "kernel package"},
		{"odd root size", func(b *Board) { b.RootSize = MiB + 1 }, "root size"},
		{"no console", func(b *Board) { b.Console = nil }, "console"},
		{"no data size", func(b *Board) { b.DataMinSize = 0 }, "data size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := *good
			tc.mutate(&b)
			err := b.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestKernelCmdline(t *testing.T) {
	b, _ := Lookup("pc-x86_64")
	got := b.KernelCmdline("b")
	want := "console=tty0 console=ttyS0,115200 panic=10 loglevel=4 outpost.slot=b"
	if got != want {
		t.Fatalf("KernelCmdline(b) = %q, want %q", got, want)
	}
}

func TestQEMUCommand(t *testing.T) {
	b, _ := Lookup("pc-x86_64")
	bin, args := b.QEMUCommand(VM{Disk: "d.img", Vars: "v.fd", Serial: "s.log", QMP: "q.sock", HostPort: 18080})
	got := bin + " " + strings.Join(args, " ")
	want := "qemu-system-x86_64 -machine q35,accel=tcg -cpu max -m 1024 -smp 2 -display none -monitor none -no-reboot" +
		" -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd" +
		" -drive if=pflash,format=raw,unit=1,file=v.fd -drive if=none,id=disk0,format=raw,cache=unsafe,file=d.img" +
		" -device virtio-blk-pci,drive=disk0 -netdev user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:18080-:80" +
		" -device virtio-net-pci,netdev=net0 -serial file:s.log -qmp unix:q.sock,server=on,wait=off" +
		" -device i6300esb -device virtio-rng-pci"
	if got != want {
		t.Fatalf("QEMUCommand:\n got %s\nwant %s", got, want)
	}
	for _, name := range []string{"pc-x86_64", "arm64-efi"} {
		b, _ := Lookup(name)
		_, args = b.QEMUCommand(VM{Disk: "d.img", Vars: "v.fd", Serial: "s.log", QMP: "q.sock", HostPort: 18080, NoWatchdog: true})
		if joined := strings.Join(args, " "); strings.Contains(joined, "i6300esb") || !strings.HasSuffix(joined, "-device virtio-rng-pci") {
			t.Errorf("%s with NoWatchdog: %s", name, joined)
		}
	}
}
