// Package kmod resolves and loads Linux kernel modules without modprobe.
//
// In: a kernel's module tree (lib/modules/<release> from a Debian kernel package,
// which ships no modules.dep because depmod runs at install time) and module
// names. Out: the .ko files to load, dependencies first, read from each module's
// own .modinfo section ("depends=", "softdep=pre:/post:"); and, on Linux, Load,
// which hands one file to finit_module(2).
//
// The image builder resolves at build time and writes the ordered list into the
// initramfs; the init only loads that list, so a missing module fails the build,
// not the boot.
//
// # Usage
//
//	mods, err := kmod.Resolve(os.DirFS("x/lib/modules/6.1.0-56-amd64"), []string{"virtio_net", "ext4"})
//	// mods[i].Path: "kernel/drivers/virtio/virtio.ko", ... "kernel/fs/ext4/ext4.ko"
package kmod

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// ErrNotFound means a module is neither a file in the tree nor built in.
var ErrNotFound = errors.New("kmod: module not found")

// Info is what a module's .modinfo section says about it.
type Info struct {
	Name     string   // "virtio_net"
	Depends  []string // hard dependencies, loaded first
	SoftPre  []string // softdep pre: loaded first when present in the tree
	SoftPost []string // softdep post: loaded after when present in the tree
}

// Module is one module to load.
type Module struct {
	Name string
	Path string // relative to the release directory, e.g. "kernel/fs/ext4/ext4.ko"
}

// Normalize returns the canonical module name: dashes are underscores, as the
// kernel itself treats them.
func Normalize(name string) string {
	name = strings.TrimSuffix(path.Base(name), ".ko")
	return strings.ReplaceAll(name, "-", "_")
}

// ParseInfo reads the .modinfo section of one module file's bytes.
func ParseInfo(r io.ReaderAt) (Info, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return Info{}, fmt.Errorf("kmod: parse ELF: %w", err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return Info{}, fmt.Errorf("kmod: no .modinfo section")
	}
	data, err := sec.Data()
	if err != nil {
		return Info{}, fmt.Errorf("kmod: read .modinfo: %w", err)
	}
	return parseModinfo(data), nil
}

// parseModinfo splits NUL-separated key=value pairs.
func parseModinfo(data []byte) Info {
	var info Info
	for _, kv := range bytes.Split(data, []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		if !ok {
			continue
		}
		switch k {
		case "name":
			info.Name = Normalize(v)
		case "depends":
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d != "" {
					info.Depends = append(info.Depends, Normalize(d))
				}
			}
		case "softdep":
			// "pre: a b post: c"
			var list *[]string
			for _, w := range strings.Fields(v) {
				switch w {
				case "pre:":
					list = &info.SoftPre
				case "post:":
					list = &info.SoftPost
				default:
					if list != nil {
						*list = append(*list, Normalize(w))
					}
				}
			}
		}
	}
	return info
}

// Tree indexes one kernel release directory.
type Tree struct {
	fsys    fs.FS
	paths   map[string]string // name -> relative path
	builtin map[string]bool
	infos   map[string]Info
}

// Open indexes the .ko files under fsys (a lib/modules/<release> directory) and
// its modules.builtin list.
func Open(fsys fs.FS) (*Tree, error) {
	t := &Tree{fsys: fsys, paths: map[string]string{}, builtin: map[string]bool{}, infos: map[string]Info{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ko") {
			t.paths[Normalize(p)] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kmod: index modules: %w", err)
	}
	if f, err := fsys.Open("modules.builtin"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if line := strings.TrimSpace(s.Text()); line != "" {
				t.builtin[Normalize(line)] = true
			}
		}
		f.Close()
		if err := s.Err(); err != nil {
			return nil, fmt.Errorf("kmod: read modules.builtin: %w", err)
		}
	}
	return t, nil
}

// Builtin reports whether name is compiled into the kernel.
func (t *Tree) Builtin(name string) bool { return t.builtin[Normalize(name)] }

func (t *Tree) info(name string) (Info, error) {
	if info, ok := t.infos[name]; ok {
		return info, nil
	}
	p := t.paths[name]
	b, err := fs.ReadFile(t.fsys, p)
	if err != nil {
		return Info{}, fmt.Errorf("kmod: read %s: %w", p, err)
	}
	info, err := ParseInfo(bytes.NewReader(b))
	if err != nil {
		return Info{}, fmt.Errorf("%s: %w", p, err)
	}
	t.infos[name] = info
	return info, nil
}

// Resolve returns the modules to load for names, each after its dependencies,
// each once. Built-in modules are skipped; a name that is neither a file nor
// built in is an error wrapping ErrNotFound. Soft dependencies are followed when
// the tree has them and ignored otherwise (they are often aliases such as
// "crypto-crc32c" that only modprobe resolves).
func (t *Tree) Resolve(names []string) ([]Module, error) {
	var out []Module
	done := map[string]bool{}
	visiting := map[string]bool{}
	var visit func(name string, soft bool, chain []string) error
	visit = func(name string, soft bool, chain []string) error {
		name = Normalize(name)
		if done[name] || visiting[name] || t.builtin[name] {
			return nil
		}
		if _, ok := t.paths[name]; !ok {
			if soft {
				return nil
			}
			return fmt.Errorf("%w: %s (wanted by %s)", ErrNotFound, name, strings.Join(append(slices.Clone(chain), "board"), " <- "))
		}
		visiting[name] = true
		info, err := t.info(name)
		if err != nil {
			return err
		}
		chain = append([]string{name}, chain...)
		for _, d := range info.SoftPre {
			if err := visit(d, true, chain); err != nil {
				return err
			}
		}
		for _, d := range info.Depends {
			if err := visit(d, false, chain); err != nil {
				return err
			}
		}
		delete(visiting, name)
		done[name] = true
		out = append(out, Module{Name: name, Path: t.paths[name]})
		for _, d := range info.SoftPost {
			if err := visit(d, true, chain); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range names {
		if err := visit(n, false, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}
