package demoorigin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/outpost-ecdn/outpost/tools/demoorigin"
)

// TestStatsCountBodyBytes does a mix of requests and checks that Stats
// equal what the client received, per kind and per path.
func TestStatsCountBodyBytes(t *testing.T) {
	leakGuard(t)
	srv, ts, clock := newOrigin(t, nil)
	clock.Set(testEpoch.Add(10 * testSegment))
	srv.ResetStats()

	requests := []struct {
		method, path string
		kind         demoorigin.Kind
	}{
		{"GET", "/live/master.m3u8", demoorigin.KindPlaylist},
		{"GET", "/live/lo/index.m3u8", demoorigin.KindPlaylist},
		{"GET", "/live/lo/seg-9.ts", demoorigin.KindSegment},
		{"GET", "/live/lo/seg-9.ts", demoorigin.KindSegment},
		{"HEAD", "/live/lo/seg-8.ts", demoorigin.KindSegment},
		{"GET", "/live/lo/seg-99.ts", demoorigin.KindSegment}, // 404 page
		{"GET", "/vod/big/seg-1.ts", demoorigin.KindSegment},
		{"GET", "/fault/503/x", demoorigin.KindFault},
		{"GET", "/fault/truncate/vod/lo/seg-2.ts", demoorigin.KindFault},
		{"GET", "/nothing-here", demoorigin.KindOther},
	}
	want := demoorigin.Stats{
		Kinds: map[demoorigin.Kind]demoorigin.Counter{},
		Paths: map[string]demoorigin.Counter{},
	}
	for _, rq := range requests {
		n := len(fetchPartial(t, rq.method, ts.URL+rq.path))
		add := func(c demoorigin.Counter) demoorigin.Counter {
			return demoorigin.Counter{Requests: c.Requests + 1, Bytes: c.Bytes + int64(n)}
		}
		want.Requests++
		want.Bytes += int64(n)
		want.Kinds[rq.kind] = add(want.Kinds[rq.kind])
		want.Paths[rq.path] = add(want.Paths[rq.path])
	}
	// The control plane is not counted, and reports the same figures.
	r := get(t, ts.URL+"/stats", 200)
	var viaHTTP demoorigin.Stats
	if err := json.Unmarshal(r.body, &viaHTTP); err != nil {
		t.Fatalf("decode /stats: %v\n%s", err, r.body)
	}
	ignoreSince := cmpopts.IgnoreFields(demoorigin.Stats{}, "Since")
	if diff := cmp.Diff(want, srv.Stats(), ignoreSince); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, viaHTTP, ignoreSince); diff != "" {
		t.Errorf("/stats (-want +got):\n%s", diff)
	}
	if viaHTTP.Since != testEpoch.Add(10*testSegment) {
		t.Errorf("Since %v, want the reset time on the server clock", viaHTTP.Since)
	}

	get(t, ts.URL+"/stats/reset", http.StatusMethodNotAllowed)
	resp, err := http.Post(ts.URL+"/stats/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /stats/reset: %d", resp.StatusCode)
	}
	if got := srv.Stats(); got.Requests != 0 || got.Bytes != 0 || len(got.Paths) != 0 || len(got.Kinds) != 0 {
		t.Errorf("after reset: %+v", got)
	}
}

// fetchPartial returns the body bytes received, tolerating a body cut
// short by a fault.
func fetchPartial(t *testing.T, method, url string) []byte {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var body []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		body = append(body, buf[:n]...)
		if err != nil {
			return body
		}
	}
}

func TestStatsPathsBounded(t *testing.T) {
	srv, _, _ := newOrigin(t, nil)
	const extra = 10
	for i := range demoorigin.MaxStatsPaths + extra {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("/missing/%d", i), nil))
	}
	long := "/" + strings.Repeat("a", 300)
	srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", long, nil))
	st := srv.Stats()
	if len(st.Paths) != demoorigin.MaxStatsPaths || st.OtherPaths.Requests != extra+1 ||
		st.Requests != demoorigin.MaxStatsPaths+extra+1 {
		t.Errorf("%d paths, %d other requests, %d requests; want %d, %d, %d",
			len(st.Paths), st.OtherPaths.Requests, st.Requests, demoorigin.MaxStatsPaths, extra+1, demoorigin.MaxStatsPaths+extra+1)
	}
	srv.ResetStats()
	srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", long, nil))
	for p := range srv.Stats().Paths {
		if len(p) >= len(long) || !strings.HasPrefix(long, strings.TrimSuffix(p, "...")) {
			t.Errorf("path key %q not a truncation of the %d-byte path", p, len(long))
		}
	}
}
