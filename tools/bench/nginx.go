package bench

import (
	"bytes"
	_ "embed"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

//go:embed nginx.conf.tmpl
var nginxTemplate string

var nginxTmpl = template.Must(template.New("nginx.conf").Parse(nginxTemplate))

// NginxConfig parameterizes the nginx edge cache. Field comments say what the zero value
// means.
type NginxConfig struct {
	// Prefix is the absolute directory that holds nginx.conf, the pid file, the error
	// log, temp files and the cache (required).
	Prefix string
	// Listen is the loopback address nginx serves on, such as 127.0.0.1:8090 (required).
	Listen string
	// Origin is the origin's host:port (required); requests go to it over HTTP/1.1
	// keep-alive connections.
	Origin string
	// OriginName is the {origin} path element viewers use; empty means "demo".
	OriginName string
	// Workers is worker_processes; empty means "auto" (one per core).
	Workers string
	// WorkerConnections is worker_connections; 0 means 8192.
	WorkerConnections int
	// NoFile is worker_rlimit_nofile; 0 means 16384.
	NoFile int
	// CacheMaxSize is the cache's max_size; empty means "1g".
	CacheMaxSize string
	// SegmentValid is how long a segment stays fresh; empty means "10m".
	SegmentValid string
	// PlaylistValid is how long a playlist stays fresh; empty means "1s".
	PlaylistValid string
	// LockTimeout is proxy_cache_lock_timeout and proxy_cache_lock_age; empty means "5s".
	LockTimeout string
}

var (
	nginxName  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	nginxToken = regexp.MustCompile(`^[0-9]+[a-z]{0,2}$`) // 10m, 1s, 1g, 5000ms
	nginxPath  = regexp.MustCompile(`^/[A-Za-z0-9._/+-]*$`)
)

// withDefaults validates c and fills in the zero values.
func (c NginxConfig) withDefaults() (NginxConfig, error) {
	if !filepath.IsAbs(c.Prefix) || !nginxPath.MatchString(c.Prefix) {
		return c, fmt.Errorf("%w: prefix %q must be an absolute path of plain characters", ErrConfig, c.Prefix)
	}
	c.Prefix = filepath.Clean(c.Prefix)
	if err := CheckLoopback(c.Listen); err != nil {
		return c, fmt.Errorf("nginx listen: %w", err)
	}
	if _, err := netip.ParseAddrPort(c.Origin); err != nil {
		return c, fmt.Errorf("%w: origin %q must be ip:port: %v", ErrConfig, c.Origin, err)
	}
	if c.OriginName == "" {
		c.OriginName = "demo"
	}
	if !nginxName.MatchString(c.OriginName) {
		return c, fmt.Errorf("%w: origin name %q", ErrConfig, c.OriginName)
	}
	if c.Workers == "" {
		c.Workers = "auto"
	}
	if c.Workers != "auto" && !nginxToken.MatchString(c.Workers) {
		return c, fmt.Errorf("%w: workers %q", ErrConfig, c.Workers)
	}
	if c.WorkerConnections <= 0 {
		c.WorkerConnections = 8192
	}
	if c.NoFile <= 0 {
		c.NoFile = 16384
	}
	for _, f := range []struct {
		v   *string
		def string
	}{{&c.CacheMaxSize, "1g"}, {&c.SegmentValid, "10m"}, {&c.PlaylistValid, "1s"}, {&c.LockTimeout, "5s"}} {
		if *f.v == "" {
			*f.v = f.def
		}
		if !nginxToken.MatchString(*f.v) {
			return c, fmt.Errorf("%w: size or time %q", ErrConfig, *f.v)
		}
	}
	return c, nil
}

// RenderNginx returns nginx.conf for c.
func RenderNginx(c NginxConfig) ([]byte, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := nginxTmpl.Execute(&b, c); err != nil {
		return nil, fmt.Errorf("render nginx.conf: %w", err)
	}
	return b.Bytes(), nil
}

// CheckLoopback returns an error wrapping ErrNotLoopback unless addr is ip:port with a
// loopback IP (127.0.0.1 or ::1).
func CheckLoopback(addr string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrNotLoopback, addr, err)
	}
	if !ap.Addr().IsLoopback() {
		return fmt.Errorf("%w: %s", ErrNotLoopback, addr)
	}
	return nil
}

// StartNginx writes conf to prefix/nginx.conf, creates the directories it names and
// starts nginx in the foreground (daemon off). Started as root, nginx runs its workers
// as nobody: the prefix is made world-traversable and its parents must be already (a
// directory straight under os.TempDir() is); nginx itself creates the cache and temp
// directories below the prefix and hands them to the worker user.
func StartNginx(bin, prefix string, conf []byte) (*Process, error) {
	if os.Geteuid() == 0 {
		if err := checkTraversable(filepath.Dir(prefix)); err != nil {
			return nil, fmt.Errorf("start nginx: %w", err)
		}
	}
	for _, d := range []string{prefix, filepath.Join(prefix, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("start nginx: %w", err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return nil, fmt.Errorf("start nginx: %w", err)
		}
	}
	path := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(path, conf, 0o644); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	return StartProcess("nginx", bin, []string{"-p", prefix + "/", "-c", path, "-e", filepath.Join(prefix, "error.log")},
		filepath.Join(prefix, "nginx.out"))
}

// FreeLoopbackAddr returns 127.0.0.1:port for a port that was free a moment ago.
func FreeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// quoteArgs renders a command line for humans, quoting arguments that need it.
func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// checkTraversable returns an error wrapping ErrConfig unless others may search dir and
// each of its parents.
func checkTraversable(dir string) error {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("check %s: %w", d, err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%w: nginx workers cannot reach %s (mode %v): put the prefix under a world-searchable directory", ErrConfig, d, fi.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}
