package tracker_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/outpost-ecdn/outpost/appliance/tracker"
)

// FuzzParseRequest: any bytes either parse into a consistent Request or fail with
// a public reason; never a panic. Seeds: every frame of the npm capture.
func FuzzParseRequest(f *testing.F) {
	for _, ev := range loadCapture(f).Events {
		f.Add([]byte(ev.Msg))
	}
	f.Add([]byte(`{"action":"scrape"}`))
	f.Add([]byte(`{"action":"announce","info_hash":"\u0100aaaaaaaaaaaaaaaaaaa","peer_id":"bbbbbbbbbbbbbbbbbbbb"}`))
	f.Add([]byte(`{"action":"announce","info_hash":"aaaaaaaaaaaaaaaaaaaa","peer_id":"bbbbbbbbbbbbbbbbbbbb","left":"0","offers":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := tracker.ParseRequest(b)
		if err != nil {
			if !errors.Is(err, tracker.ErrBadMessage) || tracker.Reason(err) == "" {
				t.Fatalf("error %v is not a public failure", err)
			}
			return
		}
		switch r.Action {
		case tracker.ActionAnnounce:
			for _, o := range r.Offers {
				if !json.Valid(o.Offer) || o.Offer[0] != '{' {
					t.Fatalf("offer %q is not an object", o.Offer)
				}
			}
			if r.Answer != nil && !json.Valid(r.Answer) {
				t.Fatalf("answer %q invalid", r.Answer)
			}
		case tracker.ActionScrape:
			if r.AllHashes == (len(r.InfoHashes) > 0) && !r.AllHashes {
				t.Fatalf("scrape names nothing and not all: %+v", r)
			}
		default:
			t.Fatalf("action %d", r.Action)
		}
		// Re-encoding the ids must give the same bytes back.
		back, err := json.Marshal(r.InfoHash)
		if err != nil {
			t.Fatal(err)
		}
		var again tracker.ID
		if err := json.Unmarshal(back, &again); err != nil || again != r.InfoHash {
			t.Fatalf("info_hash round trip: %v", err)
		}
	})
}

// FuzzParseMessage covers the client side (what the super-peer reads).
func FuzzParseMessage(f *testing.F) {
	for _, ev := range loadCapture(f).Events {
		f.Add([]byte(ev.Msg))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := tracker.ParseMessage(b)
		if err == nil && m == nil {
			t.Fatal("nil message without error")
		}
	})
}
