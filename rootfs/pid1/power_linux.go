package pid1

import (
	"context"
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

var sysInput = "/sys/class/input"

const (
	evKey    = 1
	keyPower = 116
)

// watchPowerButton signals power when any input device named like a power
// button reports KEY_POWER pressed (the ACPI button driver on PCs; qemu's
// system_powerdown presses it).
func watchPowerButton(ctx context.Context, log *slog.Logger, power chan<- struct{}) {
	matches, _ := filepath.Glob(filepath.Join(sysInput, "event*"))
	for _, m := range matches {
		name, _ := os.ReadFile(filepath.Join(m, "device", "name"))
		if !strings.Contains(strings.ToLower(string(name)), "power") {
			continue
		}
		f, err := os.Open("/dev/input/" + filepath.Base(m))
		if err != nil {
			log.Warn("power button", "err", err)
			continue
		}
		log.Info("power button: watching", "device", strings.TrimSpace(string(name)))
		go func() {
			<-ctx.Done()
			f.Close()
		}()
		go func() {
			// struct input_event on 64-bit: timeval (16), type u16, code u16, value s32.
			buf := make([]byte, 24)
			for {
				if _, err := f.Read(buf); err != nil {
					return
				}
				typ := binary.LittleEndian.Uint16(buf[16:])
				code := binary.LittleEndian.Uint16(buf[18:])
				val := int32(binary.LittleEndian.Uint32(buf[20:]))
				if typ == evKey && code == keyPower && val == 1 {
					select {
					case power <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
}
