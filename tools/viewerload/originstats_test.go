package viewerload

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/outpost-ecdn/outpost/tools/demoorigin"
)

// TestOriginStatsMatchesDemoOrigin decodes the demo origin's own Stats type, so a
// renamed JSON field there breaks this test rather than silently zeroing WAN figures.
func TestOriginStatsMatchesDemoOrigin(t *testing.T) {
	src := demoorigin.Stats{
		Since:    time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Requests: 7,
		Bytes:    5000,
		Kinds: map[demoorigin.Kind]demoorigin.Counter{
			demoorigin.KindSegment:  {Requests: 3, Bytes: 4500},
			demoorigin.KindPlaylist: {Requests: 4, Bytes: 500},
		},
		Paths: map[string]demoorigin.Counter{"/live/360p/seg-9.ts": {Requests: 1, Bytes: 1500}},
	}
	b, err := json.Marshal(src)
	if err != nil {
		t.Fatal(err)
	}
	var got OriginStats
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := OriginStats{
		Requests: 7,
		Bytes:    5000,
		Kinds:    map[string]OriginCounter{"segment": {3, 4500}, "playlist": {4, 500}},
		Paths:    map[string]OriginCounter{"/live/360p/seg-9.ts": {1, 1500}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded stats (-want +got):\n%s", diff)
	}
	if got.Segments() != (OriginCounter{3, 4500}) {
		t.Errorf("Segments() = %+v", got.Segments())
	}
}

func TestOriginStatsErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/broken":
			w.Write([]byte("{not json"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := srv.Client()
	if err := ResetOriginStats(t.Context(), c, srv.URL+"/missing"); !errors.Is(err, ErrStatus) {
		t.Errorf("reset of a missing endpoint: %v, want ErrStatus", err)
	}
	if _, err := ReadOriginStats(t.Context(), c, srv.URL+"/missing"); !errors.Is(err, ErrStatus) {
		t.Errorf("read of a missing endpoint: %v, want ErrStatus", err)
	}
	var syn *json.SyntaxError
	if _, err := ReadOriginStats(t.Context(), c, srv.URL+"/broken"); !errors.As(err, &syn) {
		t.Errorf("read of broken JSON: %v, want a *json.SyntaxError", err)
	}
}
