package origin

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Origin is one configured upstream.
type Origin struct {
	// Name is the origin's name in LAN paths /o/{name}/...: [a-z0-9][a-z0-9_-]{0,62}.
	Name string
	// URL is the http(s) base every fetch of this origin lies under, e.g.
	// https://cdn.corp.example/live/. NewSet normalizes its path to end with "/".
	URL *url.URL
}

// Set is the immutable allowlist of configured origins. A nil *Set is empty.
// Swap a whole Set on config reload; never modify one.
type Set struct {
	byName  map[string]*entry
	names   []string // sorted
	longest []*entry // by base path length, longest first
}

type entry struct {
	name    string
	scheme  string
	host    string // as configured, for upstream URLs
	hostKey string // lower-case host name and explicit port, for Lookup
	base    string // escaped base path, starts and ends with "/"
	decoded string // base with percent-escapes decoded
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// NewSet validates origins and returns them as a Set. Names must match
// [a-z0-9][a-z0-9_-]{0,62} and be unique; URLs must be http or https with a host
// and no userinfo, query or fragment; base paths may not hold dot segments,
// encoded separators or control bytes. Errors match ErrInvalidOrigin.
func NewSet(origins []Origin) (*Set, error) {
	s := &Set{byName: make(map[string]*entry, len(origins))}
	for i, o := range origins {
		e, err := newEntry(o)
		if err != nil {
			return nil, fmt.Errorf("origins[%d]: %w", i, err)
		}
		if _, dup := s.byName[e.name]; dup {
			return nil, fmt.Errorf("origins[%d]: duplicate name %q: %w", i, e.name, ErrInvalidOrigin)
		}
		s.byName[e.name] = e
		s.names = append(s.names, e.name)
		s.longest = append(s.longest, e)
	}
	slices.Sort(s.names)
	slices.SortStableFunc(s.longest, func(a, b *entry) int {
		if c := cmp.Compare(len(b.base), len(a.base)); c != 0 {
			return c
		}
		return cmp.Compare(a.name, b.name)
	})
	return s, nil
}

func newEntry(o Origin) (*entry, error) {
	bad := func(msg string) error {
		return fmt.Errorf("origin %q: %s: %w", o.Name, msg, ErrInvalidOrigin)
	}
	if !nameRE.MatchString(o.Name) {
		return nil, bad("name must be 1-63 of a-z, 0-9, '_' or '-', starting with a letter or digit")
	}
	u := o.URL
	switch {
	case u == nil:
		return nil, bad("url missing")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, bad("url scheme must be http or https")
	case u.Opaque != "" || u.Hostname() == "":
		return nil, bad("url needs a host")
	case u.User != nil:
		return nil, bad("url may not carry userinfo")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, bad("url may not carry a query")
	case u.Fragment != "" || u.RawFragment != "":
		return nil, bad("url may not carry a fragment")
	}
	if p := u.Port(); p != "" && !isDigits(p) {
		return nil, bad("url port must be numeric")
	}
	base := u.EscapedPath()
	if !strings.HasPrefix(base, "/") {
		base = "/" + base
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	if strings.Contains(base, "//") {
		return nil, bad("url path: empty segment")
	}
	if inner := strings.TrimSuffix(base[1:], "/"); inner != "" {
		if err := checkPath(inner); err != nil {
			return nil, bad("url path: " + err.Error())
		}
	}
	decoded, err := url.PathUnescape(base)
	if err != nil {
		return nil, bad("url path: bad percent-encoding")
	}
	return &entry{
		name:    o.Name,
		scheme:  u.Scheme,
		host:    u.Host,
		hostKey: hostKey(u),
		base:    base,
		decoded: decoded,
	}, nil
}

func (e *entry) origin() Origin {
	return Origin{Name: e.name, URL: &url.URL{Scheme: e.scheme, Host: e.host, Path: e.decoded, RawPath: e.base}}
}

// hostKey is the host name in lower case with the port made explicit.
func hostKey(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Hostname()) + "|" + port
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Names returns the origin names, sorted.
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	return slices.Clone(s.names)
}

// Get returns the origin called name. The URL is a copy; its path ends with "/".
func (s *Set) Get(name string) (Origin, bool) {
	if s == nil {
		return Origin{}, false
	}
	e, ok := s.byName[name]
	if !ok {
		return Origin{}, false
	}
	return e.origin(), true
}

// Resolve maps a LAN request /o/{name}/{path}?{rawQuery} to the upstream URL.
// path is the raw (still percent-encoded) path after "/o/{name}/"; it is kept
// byte for byte in the upstream request. Errors match ErrUnknownOrigin or
// ErrBadPath (dot segments, encoded or double-encoded traversal and separators,
// backslashes, control bytes, non-ASCII bytes, empty segments, absolute URLs).
func (s *Set) Resolve(name, path, rawQuery string) (*url.URL, error) {
	var e *entry
	if s != nil {
		e = s.byName[name]
	}
	if e == nil {
		return nil, fmt.Errorf("resolve %q: %w", name, ErrUnknownOrigin)
	}
	if err := checkPath(path); err != nil {
		return nil, fmt.Errorf("resolve %s path: %w", name, err)
	}
	if err := checkQuery(rawQuery); err != nil {
		return nil, fmt.Errorf("resolve %s query: %w", name, err)
	}
	raw := e.base + path
	decoded, err := url.PathUnescape(raw)
	if err != nil { // checkPath already rejects bad escapes
		return nil, fmt.Errorf("resolve %s path: %w", name, ErrBadPath)
	}
	return &url.URL{
		Scheme:   e.scheme,
		Host:     e.host,
		Path:     decoded,
		RawPath:  raw,
		RawQuery: rawQuery,
	}, nil
}

// Lookup is the reverse of Resolve: it maps an absolute upstream URL (found in a
// playlist) to the origin it lies under and the raw path below that origin's base.
// The longest matching base wins. ok is false for URLs under no origin, with
// userinfo, or with a path Resolve would refuse.
func (s *Set) Lookup(u *url.URL) (name, path string, ok bool) {
	if s == nil || u == nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", "", false
	}
	scheme := strings.ToLower(u.Scheme)
	key := hostKey(u)
	p := u.EscapedPath()
	for _, e := range s.longest {
		if e.scheme != scheme || e.hostKey != key || !strings.HasPrefix(p, e.base) {
			continue
		}
		rest := p[len(e.base):]
		if checkPath(rest) != nil {
			return "", "", false
		}
		return e.name, rest, true
	}
	return "", "", false
}
