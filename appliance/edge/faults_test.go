package edge

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/origin"
)

func TestOriginTimeoutIs504(t *testing.T) {
	b := newTestBox(t)
	release := make(chan struct{})
	defer close(release)
	b.origin.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // never answers within the box's header timeout
		case <-release:
		case <-r.Context().Done():
		}
	})
	b.edge.Client.HeaderTimeout = 200 * time.Millisecond
	resp, body := b.get(t, "/o/demo/slow.ts")
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("origin timeout: %d %q, want 504", resp.StatusCode, body)
	}
}

// TestTruncatedOriginBody: an origin that drops the connection mid-body gives the
// viewer a broken transfer (never a short body that looks complete) and leaves
// nothing in the cache.
func TestTruncatedOriginBody(t *testing.T) {
	b := newTestBox(t)
	var calls int
	b.origin.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Length", "100000")
		w.Write(make([]byte, 50000))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	for i := range 2 {
		resp, err := http.Get(b.srv.URL + "/o/demo/cut.ts")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == 200 {
				t.Fatalf("request %d: truncated origin body served as complete", i)
			}
		}
	}
	if calls != 2 {
		t.Errorf("origin calls = %d, want 2 (the truncated object must not be cached)", calls)
	}
	if st := b.cache.Stats(); st.Objects != 0 {
		t.Errorf("cache holds %d objects", st.Objects)
	}
}

func TestSplitPath(t *testing.T) {
	for _, tc := range []struct {
		in, name, rest string
		ok             bool
	}{
		{"/o/demo/live/a.ts", "demo", "live/a.ts", true},
		{"/o/demo/", "demo", "", true},
		{"/o/demo", "", "", false},
		{"/o//x", "", "", false},
		{"/x/demo/a", "", "", false},
	} {
		name, rest, ok := splitPath(tc.in)
		if ok != tc.ok || (ok && (name != tc.name || rest != tc.rest)) {
			t.Errorf("splitPath(%q) = %q %q %v", tc.in, name, rest, ok)
		}
	}
}

// FuzzRequestMapping: whatever a viewer asks for, the upstream URL the edge would
// fetch stays under the origin's base, and a rewritten playlist URI maps back into
// /o/{origin}/.
func FuzzRequestMapping(f *testing.F) {
	for _, s := range []string{"/o/demo/live/a.ts", "/o/demo/../x", "/o/demo/%2e%2e/x", "/o/demo/a?b=c",
		"/o/demo//etc", "/o/other/x", "/o/demo/a%2fb", "/o/demo/\\..\\x"} {
		f.Add(s, "https://cdn.example/base/seg.ts")
	}
	base, _ := url.Parse("http://origin.test/media/")
	set, err := origin.NewSet([]origin.Origin{{Name: "demo", URL: base}})
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{Origins: func() *origin.Set { return set }}
	f.Fuzz(func(t *testing.T, reqPath, uri string) {
		u, err := url.Parse("http://box" + reqPath)
		if err != nil {
			return
		}
		name, rest, ok := splitPath(u.EscapedPath())
		if ok {
			up, err := set.Resolve(name, rest, u.RawQuery)
			if err == nil && (up.Host != base.Host || !strings.HasPrefix(up.EscapedPath(), base.Path) || strings.Contains(up.Path, "/../")) {
				t.Fatalf("%q resolved outside the origin: %s", reqPath, up)
			}
		}
		pl, _ := url.Parse("http://origin.test/media/live/index.m3u8")
		if out, ok := s.rewriter(pl)(uri); ok && !strings.HasPrefix(out, "/o/demo/") {
			t.Fatalf("rewrite(%q) = %q", uri, out)
		}
	})
}
