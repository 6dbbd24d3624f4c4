package tracker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/outpost-ecdn/outpost/appliance/tracker"
	"go.uber.org/goleak"
)

// capture is testdata/bittorrent-tracker-11.json, written by
// tools/browsertest/capture/capture.mjs from the real npm client and server.
type capture struct {
	Source string `json:"source"`
	Events []struct {
		Conn string `json:"conn"`
		Dir  string `json:"dir"`
		Msg  string `json:"msg"`
	} `json:"events"`
}

func loadCapture(t testing.TB) capture {
	t.Helper()
	b, err := os.ReadFile("testdata/bittorrent-tracker-11.json")
	if err != nil {
		t.Fatal(err)
	}
	var c capture
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Events) == 0 {
		t.Fatal("no events in capture")
	}
	return c
}

// jsonValue decodes a message for a comparison that ignores key order.
func jsonValue(t *testing.T, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

// hangGuard bounds a test that waits on the network: a deadlock fails the test
// instead of hanging CI. It is not a timed assertion.
func hangGuard(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestGoldenNPMClient replays what the npm bittorrent-tracker 11 client sent to the
// npm server and expects, frame by frame, what that server answered.
func TestGoldenNPMClient(t *testing.T) {
	defer goleak.VerifyNone(t)
	capt := loadCapture(t)
	tr := tracker.New(tracker.Config{Mode: tracker.ModeMesh})
	srv := httptest.NewServer(tr)
	defer srv.Close()
	defer tr.Close()
	ctx := hangGuard(t)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/announce"

	conns := map[string]tracker.Transport{}
	for i, ev := range capt.Events {
		c, ok := conns[ev.Conn]
		if !ok {
			var err error
			if c, err = tracker.DialWebSocket(ctx, url, nil); err != nil {
				t.Fatal(err)
			}
			conns[ev.Conn] = c
		}
		switch ev.Dir {
		case "close":
			c.Close()
			delete(conns, ev.Conn)
			waitFor(ctx, t, func() bool { return tr.Stats().Conns == len(conns) })
		case "in":
			if err := c.Send(ctx, []byte(ev.Msg)); err != nil {
				t.Fatalf("event %d: send: %v", i, err)
			}
		case "out":
			got, err := c.Recv(ctx)
			if err != nil {
				t.Fatalf("event %d (%s): recv: %v", i, ev.Conn, err)
			}
			if d := cmp.Diff(jsonValue(t, ev.Msg), jsonValue(t, string(got))); d != "" {
				t.Errorf("event %d (%s): reply differs from the npm server (-npm +ours):\n%s", i, ev.Conn, d)
			}
		}
	}
	for _, c := range conns {
		c.Close()
	}
	st := tr.Stats()
	if st.OffersRelayed != 1 || st.AnswersRelayed != 1 || st.BadMessages != 5 {
		t.Errorf("stats = %+v, want 1 offer, 1 answer, 5 bad messages", st)
	}
}

// waitFor polls cond until it holds; the hang guard in ctx bounds it.
func waitFor(ctx context.Context, t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition never held")
		case <-time.After(time.Millisecond):
		}
	}
}

// TestBinaryStringsRoundTrip checks every byte value survives JSON both ways, as
// the npm client encodes them.
func TestBinaryStringsRoundTrip(t *testing.T) {
	var id tracker.ID
	for i := range id {
		id[i] = byte(i * 13)
	}
	for _, tc := range []struct {
		name string
		id   tracker.ID
	}{{"mixed", id}, {"zeros", tracker.ID{}}, {"ff", func() (x tracker.ID) {
		for i := range x {
			x[i] = 0xff
		}
		return
	}()}} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.id)
			if err != nil {
				t.Fatal(err)
			}
			var back tracker.ID
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back != tc.id {
				t.Errorf("round trip %x -> %s -> %x", tc.id, b, back)
			}
			if bytes.ContainsAny(b, "\x00\x1f") {
				t.Errorf("control bytes not escaped: %q", b)
			}
		})
	}
	var x tracker.ID
	for _, bad := range []string{`"short"`, `"ĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀĀ"`, `12`, `"aaaaaaaaaaaaaaaaaaaaa"`} {
		if err := json.Unmarshal([]byte(bad), &x); err == nil {
			t.Errorf("Unmarshal(%s) accepted", bad)
		}
	}
}
