package p2pweb_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/outpost-ecdn/outpost/appliance/p2pweb"
)

func TestHandler(t *testing.T) {
	h := &p2pweb.Handler{Player: fstest.MapFS{"p2pml23.js": {Data: []byte("window.Hls=1")}}}
	for _, c := range []struct {
		path     string
		code     int
		contains string
	}{
		{"/sdk/outpost-p2p.js", 200, "validateP2PSegment"},
		{"/sdk/test.html", 200, "outpostTest"},
		{"/sdk/player/p2pml23.js", 200, "window.Hls"},
		{"/sdk/player/p2pml22.js", 404, ""},
		{"/sdk/player/../outpost-p2p.js", 404, ""},
		{"/sdk/static/outpost-p2p.js", 404, ""},
		{"/sdk/", 404, ""},
		{"/sdk/missing.js", 404, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != c.code || !strings.Contains(string(body), c.contains) {
			t.Errorf("GET %s: %d (want %d), body has %q: %v", c.path, rec.Code, c.code, c.contains, strings.Contains(string(body), c.contains))
		}
	}
	rec := httptest.NewRecorder()
	(&p2pweb.Handler{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sdk/player/p2pml23.js", nil))
	if rec.Code != 404 {
		t.Errorf("no Player: %d, want 404", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sdk/outpost-p2p.js", nil))
	if ct := rec.Header().Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("Content-Type %q", ct)
	}
}
