package image

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/outpost-ecdn/outpost/board"
)

// hostDebArch is Debian's name for the machine the builder runs on.
func hostDebArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "amd64"
	case "arm64":
		return "arm64"
	}
	return runtime.GOARCH
}

// aptOpts returns apt-get options that fetch packages of arch. The host's own
// architecture uses the system's package lists; another one gets private
// lists under the cache (apt-get update with them runs once per cache).
func (b *builder) aptOpts(ctx context.Context, arch string) ([]string, error) {
	if arch == hostDebArch() || arch == "all" {
		return nil, nil
	}
	lists := filepath.Join(b.cfg.CacheDir, "apt-"+arch, "lists")
	opts := []string{
		"-o", "APT::Architecture=" + arch,
		"-o", "APT::Architectures=" + arch,
		"-o", "Dir::State::Lists=" + lists,
	}
	if _, err := os.Stat(filepath.Join(lists, "lock")); err == nil {
		return opts, nil
	}
	if err := os.MkdirAll(filepath.Join(lists, "partial"), 0o755); err != nil {
		return nil, err
	}
	b.logf("apt-get update for %s (once per cache)", arch)
	if err := b.run(ctx, "", nil, "apt-get", append(opts, "-q", "update")...); err != nil {
		return nil, fmt.Errorf("apt-get update for %s: %w", arch, err)
	}
	return opts, nil
}

// fetch downloads a pinned package into the cache (once) and unpacks it; it
// returns the directory holding the unpacked tree.
func (b *builder) fetch(ctx context.Context, p board.Package, arch string) (string, error) {
	dir := filepath.Join(b.cfg.CacheDir, "debs")
	tree := filepath.Join(b.cfg.CacheDir, "trees", fmt.Sprintf("%s_%s_%s", p.Name, strings.ReplaceAll(p.Version, ":", "%3a"), arch))
	if _, err := os.Stat(filepath.Join(tree, ".complete")); err == nil {
		return tree, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	deb, err := b.findDeb(dir, p, arch)
	if err != nil {
		opts, err := b.aptOpts(ctx, arch)
		if err != nil {
			return "", err
		}
		b.logf("downloading %s (%s)", p, arch)
		name := p.String()
		if arch != "all" && arch != hostDebArch() {
			name = p.Name + ":" + arch + "=" + p.Version
		}
		if err := b.run(ctx, dir, nil, "apt-get", append(opts, "-q", "download", name)...); err != nil {
			return "", fmt.Errorf("download %s: %w (is the version still in the archive? bump it in board/)", p, err)
		}
		if deb, err = b.findDeb(dir, p, arch); err != nil {
			return "", err
		}
	}
	os.RemoveAll(tree)
	if err := os.MkdirAll(tree, 0o755); err != nil {
		return "", err
	}
	if err := b.run(ctx, "", nil, "dpkg-deb", "-x", deb, tree); err != nil {
		return "", fmt.Errorf("unpack %s: %w", filepath.Base(deb), err)
	}
	if err := os.WriteFile(filepath.Join(tree, ".complete"), nil, 0o644); err != nil {
		return "", err
	}
	return tree, nil
}

func (b *builder) findDeb(dir string, p board.Package, arch string) (string, error) {
	// apt writes an epoch's colon as %3a.
	v := strings.ReplaceAll(p.Version, ":", "%3a")
	name := filepath.Join(dir, fmt.Sprintf("%s_%s_%s.deb", p.Name, v, arch))
	if _, err := os.Stat(name); err != nil {
		return "", fmt.Errorf("%s not in the cache", filepath.Base(name))
	}
	return name, nil
}

// run runs a command, returning its output with any error. env entries
// replace the process's variables of the same name; a bare "NAME" unsets one.
func (b *builder) run(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = mergeEnv(os.Environ(), env)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func mergeEnv(base, over []string) []string {
	drop := map[string]bool{}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		drop[k] = true
	}
	var out []string
	for _, kv := range base {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			out = append(out, kv)
		}
	}
	for _, kv := range over {
		if strings.Contains(kv, "=") {
			out = append(out, kv)
		}
	}
	return out
}
