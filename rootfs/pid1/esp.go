package pid1

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf16"

	"github.com/outpost-ecdn/outpost/rootfs/layout"
)

// efivarBootCountPath is systemd-boot's LoaderBootCountPath variable: the ESP
// path of the entry it booted after decrementing its counter.
var efivarBootCountPath = "/sys/firmware/efi/efivars/LoaderBootCountPath-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"

// readEFIString decodes an efivarfs file holding a UTF-16LE string: four
// bytes of attributes, then the string, NUL-terminated.
func readEFIString(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if len(b) < 4 || len(b)%2 != 0 {
		return "", fmt.Errorf("efivar %s: %d bytes", filepath.Base(path), len(b))
	}
	b = b[4:]
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := uint16(b[i]) | uint16(b[i+1])<<8
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u)), nil
}

// counted matches a boot-counting entry: name+LEFT[-DONE].conf.
var counted = regexp.MustCompile(`^(.+)\+\d+(-\d+)?\.conf$`)

// Bless marks the booted entry of slot good, as systemd-bless-boot does: it
// renames loader/entries/outpost-a+2-1.conf to outpost-a.conf on the ESP
// mounted at esp. It finds the entry from LoaderBootCountPath, or else the one
// counted entry of the slot. It returns the new name, or "" when the entry
// carries no counter (already good).
func Bless(esp, slot string) (string, error) {
	dir := filepath.Join(esp, layout.EntriesDir)
	var name string
	if p, err := readEFIString(efivarBootCountPath); err == nil {
		p = strings.ReplaceAll(p, `\`, "/")
		if strings.HasPrefix(strings.ToLower(strings.TrimPrefix(p, "/")), layout.EntriesDir+"/") {
			name = filepath.Base(p)
		}
	}
	if name == "" {
		matches, err := filepath.Glob(filepath.Join(dir, "outpost-"+slot+"+*.conf"))
		if err != nil {
			return "", err
		}
		switch len(matches) {
		case 0:
			return "", nil
		case 1:
			name = filepath.Base(matches[0])
		default:
			return "", fmt.Errorf("bless: %d counted entries for slot %s: %v", len(matches), slot, matches)
		}
	}
	m := counted.FindStringSubmatch(name)
	if m == nil {
		return "", nil
	}
	good := m[1] + ".conf"
	if err := os.Rename(filepath.Join(dir, name), filepath.Join(dir, good)); err != nil {
		return "", fmt.Errorf("bless %s: %w", name, err)
	}
	return good, nil
}

// espMarker keeps datapart's first-boot record on the ESP. remount makes the
// ESP writable for the duration of a write.
type espMarker struct {
	esp     string
	remount func(rw bool) error
}

func (m *espMarker) Created() (string, error) {
	b, err := os.ReadFile(filepath.Join(m.esp, layout.DataCreated))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return strings.TrimSpace(string(b)), err
}

func (m *espMarker) Record(desc string) error {
	return m.write(func() error {
		p := filepath.Join(m.esp, layout.DataCreated)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return writeSync(p, []byte(desc+"\n"))
	})
}

func (m *espMarker) write(f func() error) error {
	if m.remount != nil {
		if err := m.remount(true); err != nil {
			return fmt.Errorf("remount ESP read-write: %w", err)
		}
		defer m.remount(false)
	}
	return f()
}

// writeSync writes a file through a temporary name, fsyncs and renames it.
func writeSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
