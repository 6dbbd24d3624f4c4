package origin_test

import (
	"errors"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/outpost-ecdn/outpost/appliance/origin"
)

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return u
}

func mustSet(t testing.TB, pairs ...string) *origin.Set {
	t.Helper()
	var os []origin.Origin
	for i := 0; i+1 < len(pairs); i += 2 {
		os = append(os, origin.Origin{Name: pairs[i], URL: mustURL(t, pairs[i+1])})
	}
	s, err := origin.NewSet(os)
	if err != nil {
		t.Fatalf("NewSet: %v", err)
	}
	return s
}

// testSet has a nested origin ("vod" lies inside "cdn") so that the longest base wins.
func testSet(t testing.TB) *origin.Set {
	return mustSet(t,
		"cdn", "https://cdn.corp.example/live",
		"vod", "https://CDN.corp.example:443/live/vod/",
		"plain", "http://10.1.2.3:8081",
		"enc", "https://media.corp.example/my%20streams/",
	)
}

func TestNewSet(t *testing.T) {
	tests := []struct {
		name, oname, url string
		wantURL          string // after normalization; empty: want ErrInvalidOrigin
	}{
		{"no path", "cdn", "https://cdn.corp.example", "https://cdn.corp.example/"},
		{"path without slash", "cdn", "https://cdn.corp.example/live", "https://cdn.corp.example/live/"},
		{"path with slash", "a_b-9", "http://127.0.0.1:8081/live/", "http://127.0.0.1:8081/live/"},
		{"encoded path", "x", "https://h.example/a%20b/", "https://h.example/a%20b/"},
		{"ipv6", "v6", "http://[::1]:8080/x", "http://[::1]:8080/x/"},
		{"upper-case name", "CDN", "https://h.example/", ""},
		{"name starts with dash", "-cdn", "https://h.example/", ""},
		{"empty name", "", "https://h.example/", ""},
		{"name too long", strings.Repeat("a", 64), "https://h.example/", ""},
		{"name with dot", "c.dn", "https://h.example/", ""},
		{"ftp", "cdn", "ftp://h.example/", ""},
		{"no host", "cdn", "https:///live/", ""},
		{"relative", "cdn", "/live/", ""},
		{"userinfo", "cdn", "https://user:pw@h.example/", ""},
		{"query", "cdn", "https://h.example/?a=b", ""},
		{"empty query", "cdn", "https://h.example/?", ""},
		{"fragment", "cdn", "https://h.example/#x", ""},
		{"dot-dot in base", "cdn", "https://h.example/a/../b/", ""},
		{"encoded slash in base", "cdn", "https://h.example/a%2fb/", ""},
		{"double slash in base", "cdn", "https://h.example/a//b/", ""},
		{"opaque", "cdn", "https:h.example", ""},
		{"double slash at end of base", "cdn", "https://h.example/a//", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := origin.NewSet([]origin.Origin{{Name: tt.oname, URL: mustURL(t, tt.url)}})
			if tt.wantURL == "" {
				if !errors.Is(err, origin.ErrInvalidOrigin) {
					t.Fatalf("NewSet(%q) = %v, want ErrInvalidOrigin", tt.url, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewSet(%q): %v", tt.url, err)
			}
			o, ok := s.Get(tt.oname)
			if !ok {
				t.Fatalf("Get(%q) not found", tt.oname)
			}
			if got := o.URL.String(); got != tt.wantURL {
				t.Errorf("URL = %q, want %q", got, tt.wantURL)
			}
		})
	}
}

func TestNewSetRejects(t *testing.T) {
	u := mustURL(t, "https://h.example/")
	for name, origins := range map[string][]origin.Origin{
		"duplicate": {{Name: "a", URL: u}, {Name: "a", URL: u}},
		"nil url":   {{Name: "a"}},
	} {
		if _, err := origin.NewSet(origins); !errors.Is(err, origin.ErrInvalidOrigin) {
			t.Errorf("%s: err = %v, want ErrInvalidOrigin", name, err)
		}
	}
}

func TestSetNamesGet(t *testing.T) {
	s := testSet(t)
	if diff := cmp.Diff([]string{"cdn", "enc", "plain", "vod"}, s.Names()); diff != "" {
		t.Errorf("Names() mismatch (-want +got):\n%s", diff)
	}
	o, _ := s.Get("cdn")
	o.URL.Host = "evil.example" // a copy: the Set stays as it was
	if u, err := s.Resolve("cdn", "a.ts", ""); err != nil || u.Host != "cdn.corp.example" {
		t.Errorf("Set changed through Get: %v %v", u, err)
	}
	if _, ok := s.Get("nope"); ok {
		t.Error("Get(nope) found")
	}
	var nilSet *origin.Set
	if nilSet.Names() != nil {
		t.Error("nil Set has names")
	}
	if _, err := nilSet.Resolve("cdn", "a", ""); !errors.Is(err, origin.ErrUnknownOrigin) {
		t.Errorf("nil Set Resolve: %v", err)
	}
}

type resolveCase struct {
	name        string
	origin      string
	path, query string
	want        string // upstream URL; empty when wantErr is set
	wantErr     error
}

var resolveCases = []resolveCase{
	{"playlist", "cdn", "index.m3u8", "", "https://cdn.corp.example/live/index.m3u8", nil},
	{"nested segment", "cdn", "hd/seg-00042.ts", "", "https://cdn.corp.example/live/hd/seg-00042.ts", nil},
	{"query kept", "cdn", "index.m3u8", "token=a%2Fb&exp=1", "https://cdn.corp.example/live/index.m3u8?token=a%2Fb&exp=1", nil},
	{"encoded space kept", "cdn", "my%20show/a.ts", "", "https://cdn.corp.example/live/my%20show/a.ts", nil},
	{"utf-8 file name", "cdn", "caf%C3%A9.ts", "", "https://cdn.corp.example/live/caf%C3%A9.ts", nil},
	{"dots inside names", "cdn", "a..b/..c/d../x.ts", "", "https://cdn.corp.example/live/a..b/..c/d../x.ts", nil},
	{"sub-delims", "cdn", "v=1;x,y/a(1).ts", "", "https://cdn.corp.example/live/v=1;x,y/a(1).ts", nil},
	{"trailing slash", "cdn", "dir/", "", "https://cdn.corp.example/live/dir/", nil},
	{"literal percent", "cdn", "100%25.ts", "", "https://cdn.corp.example/live/100%25.ts", nil},
	{"colon later", "cdn", "a/b:c.ts", "", "https://cdn.corp.example/live/a/b:c.ts", nil},
	{"http origin with port", "plain", "x.m3u8", "", "http://10.1.2.3:8081/x.m3u8", nil},
	{"encoded base", "enc", "a.ts", "", "https://media.corp.example/my%20streams/a.ts", nil},

	{"unknown origin", "nope", "a.ts", "", "", origin.ErrUnknownOrigin},
	{"empty origin name", "", "a.ts", "", "", origin.ErrUnknownOrigin},
	{"empty path", "cdn", "", "", "", origin.ErrBadPath},
	{"dot dot", "cdn", "../secret", "", "", origin.ErrBadPath},
	{"dot dot middle", "cdn", "a/../../secret", "", "", origin.ErrBadPath},
	{"dot dot end", "cdn", "a/..", "", "", origin.ErrBadPath},
	{"dot", "cdn", "./a.ts", "", "", origin.ErrBadPath},
	{"dot end", "cdn", "a/.", "", "", origin.ErrBadPath},
	{"three dots", "cdn", ".../a", "", "", origin.ErrBadPath},
	{"encoded dots", "cdn", "%2e%2e/secret", "", "", origin.ErrBadPath},
	{"encoded dots upper", "cdn", "%2E%2E/secret", "", "", origin.ErrBadPath},
	{"mixed case and half encoded", "cdn", "%2E./secret", "", "", origin.ErrBadPath},
	{"half encoded other side", "cdn", ".%2e/secret", "", "", origin.ErrBadPath},
	{"encoded dot", "cdn", "%2e/a.ts", "", "", origin.ErrBadPath},
	{"encoded slash", "cdn", "a%2fb", "", "", origin.ErrBadPath},
	{"encoded slash upper", "cdn", "..%2F..%2Fsecret", "", "", origin.ErrBadPath},
	{"encoded backslash", "cdn", "..%5csecret", "", "", origin.ErrBadPath},
	{"encoded backslash upper", "cdn", "a%5Cb", "", "", origin.ErrBadPath},
	{"double encoded dots", "cdn", "%252e%252e/secret", "", "", origin.ErrBadPath},
	{"double encoded slash", "cdn", "a%252fb", "", "", origin.ErrBadPath},
	{"double encoded percent digits", "cdn", "%25%32%65%25%32%65/x", "", "", origin.ErrBadPath},
	{"triple encoded dots", "cdn", "%25252e%25252e/x", "", "", origin.ErrBadPath},
	{"deep nesting", "cdn", "%2525252525252e/x", "", "", origin.ErrBadPath},
	{"iis %u encoding", "cdn", "%u002e%u002e/x", "", "", origin.ErrBadPath},
	{"bad escape", "cdn", "a%zz", "", "", origin.ErrBadPath},
	{"truncated escape", "cdn", "a%2", "", "", origin.ErrBadPath},
	{"overlong dot", "cdn", "%c0%ae%c0%ae/x", "", "", origin.ErrBadPath},
	{"overlong slash", "cdn", "a%c0%afb", "", "", origin.ErrBadPath},
	{"overlong 3-byte dot", "cdn", "%e0%80%ae%e0%80%ae/x", "", "", origin.ErrBadPath},
	{"fullwidth dots", "cdn", "%EF%BC%8E%EF%BC%8E/x", "", "", origin.ErrBadPath},
	{"two dot leader", "cdn", "%E2%80%A5/x", "", "", origin.ErrBadPath},
	{"one dot leaders", "cdn", "%E2%80%A4%E2%80%A4/x", "", "", origin.ErrBadPath},
	{"fullwidth solidus", "cdn", "a%EF%BC%8Fb", "", "", origin.ErrBadPath},
	{"fullwidth reverse solidus", "cdn", "a%EF%BC%BCb", "", "", origin.ErrBadPath},
	{"division slash", "cdn", "..%E2%88%95x", "", "", origin.ErrBadPath},
	{"raw utf-8", "cdn", "\uff0e\uff0e/x", "", "", origin.ErrBadPath},
	{"windows trailing space", "cdn", "..%20/x", "", "", origin.ErrBadPath},
	{"windows trailing dots", "cdn", "....", "", "", origin.ErrBadPath},
	{"backslash", "cdn", "a\\b", "", "", origin.ErrBadPath},
	{"backslash traversal", "cdn", "..\\..\\x", "", "", origin.ErrBadPath},
	{"nul", "cdn", "a\x00b", "", "", origin.ErrBadPath},
	{"encoded nul", "cdn", "a%00b", "", "", origin.ErrBadPath},
	{"encoded newline", "cdn", "a%0d%0aX-Evil:1", "", "", origin.ErrBadPath},
	{"c1 control", "cdn", "a%C2%85b", "", "", origin.ErrBadPath},
	{"tab", "cdn", "a\tb", "", "", origin.ErrBadPath},
	{"space", "cdn", "a b", "", "", origin.ErrBadPath},
	{"double slash", "cdn", "a//b", "", "", origin.ErrBadPath},
	{"leading slash", "cdn", "/a", "", "", origin.ErrBadPath},
	{"protocol relative", "cdn", "//evil.example/x", "", "", origin.ErrBadPath},
	{"absolute url", "cdn", "http://evil.example/x", "", "", origin.ErrBadPath},
	{"scheme only", "cdn", "javascript:alert(1)", "", "", origin.ErrBadPath},
	{"raw question mark", "cdn", "a?b", "", "", origin.ErrBadPath},
	{"raw hash", "cdn", "a#b", "", "", origin.ErrBadPath},
	{"query with space", "cdn", "a.ts", "a=b c", "", origin.ErrBadPath},
	{"query with newline", "cdn", "a.ts", "a=b\r\nHost: evil", "", origin.ErrBadPath},
	{"query with hash", "cdn", "a.ts", "a#b", "", origin.ErrBadPath},
	{"query non-ascii", "cdn", "a.ts", "a=\xc3\xa9", "", origin.ErrBadPath},
	{"too long", "cdn", strings.Repeat("a/", 3000), "", "", origin.ErrBadPath},
}

func TestResolve(t *testing.T) {
	s := testSet(t)
	for _, tt := range resolveCases {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.Resolve(tt.origin, tt.path, tt.query)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Resolve(%q, %q, %q) = %v, %v; want %v", tt.origin, tt.path, tt.query, u, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q, %q, %q): %v", tt.origin, tt.path, tt.query, err)
			}
			if got := u.String(); got != tt.want {
				t.Errorf("Resolve = %q, want %q", got, tt.want)
			}
			// What goes on the wire is the raw path, byte for byte.
			o, _ := s.Get(tt.origin)
			if got, want := u.RequestURI(), strings.TrimSuffix(o.URL.EscapedPath()+tt.path+"?"+tt.query, "?"); got != want {
				t.Errorf("RequestURI = %q, want %q", got, want)
			}
		})
	}
}

type lookupCase struct {
	name     string
	url      string
	wantName string // empty: want ok=false
	wantPath string
}

var lookupCases = []lookupCase{
	{"under cdn", "https://cdn.corp.example/live/hd/a.ts", "cdn", "hd/a.ts"},
	{"query ignored", "https://cdn.corp.example/live/a.m3u8?t=1", "cdn", "a.m3u8"},
	{"host case-insensitive", "https://CDN.Corp.Example/live/a.ts", "cdn", "a.ts"},
	{"scheme case-insensitive", "HTTPS://cdn.corp.example/live/a.ts", "cdn", "a.ts"},
	{"explicit default port", "https://cdn.corp.example:443/live/a.ts", "cdn", "a.ts"},
	{"longest base wins", "https://cdn.corp.example/live/vod/m.mp4", "vod", "m.mp4"},
	{"shorter sibling of nested", "https://cdn.corp.example/live/vodka/m.mp4", "cdn", "vodka/m.mp4"},
	{"http origin", "http://10.1.2.3:8081/a/b.ts", "plain", "a/b.ts"},
	{"encoded base", "https://media.corp.example/my%20streams/a.ts", "enc", "a.ts"},
	{"encoded path kept", "https://cdn.corp.example/live/caf%C3%A9.ts", "cdn", "caf%C3%A9.ts"},
	{"other host", "https://evil.example/live/a.ts", "", ""},
	{"host suffix", "https://cdn.corp.example.evil.example/live/a.ts", "", ""},
	{"other scheme", "http://cdn.corp.example/live/a.ts", "", ""},
	{"other port", "https://cdn.corp.example:8443/live/a.ts", "", ""},
	{"outside base", "https://cdn.corp.example/other/a.ts", "", ""},
	{"base prefix only", "https://cdn.corp.example/lively/a.ts", "", ""},
	{"base itself", "https://cdn.corp.example/live/", "", ""},
	{"base without slash", "https://cdn.corp.example/live", "", ""},
	{"traversal out of base", "https://cdn.corp.example/live/../admin", "", ""},
	{"encoded traversal", "https://cdn.corp.example/live/%2e%2e/admin", "", ""},
	{"encoded slash", "https://cdn.corp.example/live%2fa.ts", "", ""},
	{"userinfo", "https://u:p@cdn.corp.example/live/a.ts", "", ""},
	{"relative", "/live/a.ts", "", ""},
	{"opaque", "https:cdn.corp.example/live/a.ts", "", ""},
}

func TestLookup(t *testing.T) {
	s := testSet(t)
	for _, tt := range lookupCases {
		t.Run(tt.name, func(t *testing.T) {
			name, p, ok := s.Lookup(mustURL(t, tt.url))
			if tt.wantName == "" {
				if ok {
					t.Fatalf("Lookup(%q) = %q, %q; want not found", tt.url, name, p)
				}
				return
			}
			if !ok || name != tt.wantName || p != tt.wantPath {
				t.Fatalf("Lookup(%q) = %q, %q, %v; want %q, %q", tt.url, name, p, ok, tt.wantName, tt.wantPath)
			}
		})
	}
	var nilSet *origin.Set
	if _, _, ok := nilSet.Lookup(mustURL(t, "https://cdn.corp.example/live/a.ts")); ok {
		t.Error("nil Set found a URL")
	}
	if _, _, ok := s.Lookup(nil); ok {
		t.Error("Lookup(nil) found")
	}
}

// checkResolved asserts the safety properties of a URL returned by Resolve.
func checkResolved(t *testing.T, s *origin.Set, name, p, q string, u *url.URL) {
	t.Helper()
	o, _ := s.Get(name)
	base := o.URL
	if u.Scheme != base.Scheme || u.Host != base.Host || u.User != nil || u.Fragment != "" {
		t.Fatalf("Resolve(%q, %q) = %q: not on the origin's host", name, p, u)
	}
	for _, got := range []struct{ path, base string }{
		{u.EscapedPath(), base.EscapedPath()},
		{u.Path, base.Path},
		{path.Clean(u.Path) + "/", base.Path},
	} {
		if !strings.HasPrefix(got.path, got.base) {
			t.Fatalf("Resolve(%q, %q) = %q: %q not under %q", name, p, u, got.path, got.base)
		}
	}
	for _, bad := range []string{"/../", "/./", "\\", "//"} {
		if strings.Contains(u.Path, bad) || strings.Contains(u.EscapedPath(), bad) {
			t.Fatalf("Resolve(%q, %q) = %q: contains %q", name, p, u, bad)
		}
	}
	if strings.HasSuffix(u.Path, "/..") || strings.HasSuffix(u.Path, "/.") {
		t.Fatalf("Resolve(%q, %q) = %q: ends in a dot segment", name, p, u)
	}
	// The URL, as sent and parsed again, maps back to the same origin and path.
	again, err := url.Parse(u.String())
	if err != nil {
		t.Fatalf("Resolve(%q, %q) = %q: does not parse: %v", name, p, u, err)
	}
	gotName, gotPath, ok := s.Lookup(again)
	if !ok || gotName != name || gotPath != p {
		t.Fatalf("Lookup(Resolve(%q, %q)) = %q, %q, %v", name, p, gotName, gotPath, ok)
	}
	if again.RawQuery != q {
		t.Fatalf("Resolve(%q, %q, %q): query became %q", name, p, q, again.RawQuery)
	}
}

func TestResolveProperties(t *testing.T) {
	s := mustSet(t, "cdn", "https://cdn.corp.example/live/")
	for _, tt := range resolveCases {
		if tt.origin != "cdn" {
			continue
		}
		if u, err := s.Resolve("cdn", tt.path, tt.query); err == nil {
			checkResolved(t, s, "cdn", tt.path, tt.query, u)
		}
	}
}

func FuzzResolve(f *testing.F) {
	for _, tt := range resolveCases {
		f.Add(tt.path, tt.query)
	}
	s := mustSet(f, "cdn", "https://cdn.corp.example/live/", "root", "http://127.0.0.1:8081/")
	f.Fuzz(func(t *testing.T, p, q string) {
		for _, name := range []string{"cdn", "root"} {
			u, err := s.Resolve(name, p, q)
			if err != nil {
				if !errors.Is(err, origin.ErrBadPath) {
					t.Fatalf("Resolve(%q, %q, %q): error %v is not ErrBadPath", name, p, q, err)
				}
				continue
			}
			checkResolved(t, s, name, p, q, u)
		}
	})
}

func FuzzLookup(f *testing.F) {
	for _, tt := range lookupCases {
		f.Add(tt.url)
	}
	s := mustSet(f, "cdn", "https://cdn.corp.example/live/", "vod", "https://cdn.corp.example/live/vod/")
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		name, p, ok := s.Lookup(u)
		if !ok {
			return
		}
		back, err := s.Resolve(name, p, u.RawQuery)
		if err != nil {
			t.Fatalf("Lookup(%q) = %q, %q but Resolve fails: %v", raw, name, p, err)
		}
		if back.EscapedPath() != u.EscapedPath() {
			t.Fatalf("Lookup(%q) = %q, %q resolves to path %q", raw, name, p, back.EscapedPath())
		}
		if !strings.EqualFold(back.Hostname(), u.Hostname()) {
			t.Fatalf("Lookup(%q) = %q resolves to host %q", raw, name, back.Host)
		}
	})
}
