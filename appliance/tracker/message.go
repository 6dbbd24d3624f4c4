package tracker

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Action is what a request asks for.
type Action int

const (
	ActionAnnounce Action = iota + 1
	ActionScrape
)

// Request is one parsed client message.
type Request struct {
	Action Action
	// InfoHash and PeerID: the swarm and the sender (announce).
	InfoHash ID
	PeerID   ID
	// Event is "", "started", "stopped", "completed", "update", "paused" or
	// "empty" (checked by the tracker, not the parser, as the npm server does).
	Event string
	// Complete: the peer has everything (left == 0); the super-peer says so.
	Complete bool
	// Offers to relay, at most one per receiving peer.
	Offers []Offer
	// Answer (an SDP object, relayed as is) goes to ToPeerID for OfferID.
	Answer   json.RawMessage
	ToPeerID ID
	OfferID  ID
	// InfoHashes for scrape; AllHashes when the scrape named none.
	InfoHashes []ID
	AllHashes  bool
}

// Offer is one WebRTC offer of an announce, relayed as is.
type Offer struct {
	Offer   json.RawMessage `json:"offer"`
	OfferID ID              `json:"offer_id"`
}

// wireRequest holds a message's fields before validation.
type wireRequest struct {
	Action   json.RawMessage `json:"action"`
	InfoHash json.RawMessage `json:"info_hash"`
	PeerID   json.RawMessage `json:"peer_id"`
	Event    json.RawMessage `json:"event"`
	Left     json.RawMessage `json:"left"`
	Offers   json.RawMessage `json:"offers"`
	Answer   json.RawMessage `json:"answer"`
	ToPeerID json.RawMessage `json:"to_peer_id"`
	OfferID  json.RawMessage `json:"offer_id"`
}

// failure is a rejection whose text goes to the client as "failure reason"; the
// texts of the npm server are kept where it has one.
type failure struct{ reason string }

func (f *failure) Error() string { return f.reason }
func (f *failure) Unwrap() error { return ErrBadMessage }

func fail(reason string) error { return &failure{reason} }

// Reason is the public text of a parser or tracker rejection ("" if err is not one).
func Reason(err error) string {
	if f, ok := err.(*failure); ok {
		return f.reason
	}
	return ""
}

// maxScrapeHashes bounds one scrape request.
const maxScrapeHashes = 100

// ParseRequest parses one client message the way the npm server's
// parse-websocket.js does, and rejects what it would choke on later.
func ParseRequest(b []byte) (*Request, error) {
	var w wireRequest
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&w); err != nil {
		return nil, fail("invalid JSON")
	}
	if d.More() {
		return nil, fail("invalid JSON")
	}
	var action string
	if json.Unmarshal(w.Action, &action) != nil {
		action = ""
	}
	switch action {
	case "announce":
		return parseAnnounce(&w)
	case "scrape":
		return parseScrape(&w)
	}
	shown := "undefined"
	switch {
	case action != "":
		shown = action
	case len(w.Action) > 0:
		shown = strings.Trim(string(w.Action), `"`)
	}
	if len(shown) > 64 {
		shown = shown[:64]
	}
	return nil, fail("invalid action in WS request: " + shown)
}

func parseAnnounce(w *wireRequest) (*Request, error) {
	r := &Request{Action: ActionAnnounce}
	var ok bool
	if r.InfoHash, ok = rawID(w.InfoHash); !ok {
		return nil, fail("invalid info_hash")
	}
	if r.PeerID, ok = rawID(w.PeerID); !ok {
		return nil, fail("invalid peer_id")
	}
	if len(w.Event) > 0 && string(w.Event) != "null" {
		if json.Unmarshal(w.Event, &r.Event) != nil {
			r.Event = "invalid"
		}
	}
	r.Complete = leftIsZero(w.Left)
	if truthy(w.Answer) {
		if r.ToPeerID, ok = rawID(w.ToPeerID); !ok {
			return nil, fail("invalid `to_peer_id` (required with `answer`)")
		}
		if r.OfferID, ok = rawID(w.OfferID); !ok {
			return nil, fail("invalid offer_id")
		}
		if !isObject(w.Answer) {
			return nil, fail("invalid answer")
		}
		r.Answer = w.Answer
	}
	if len(w.Offers) > 0 && string(w.Offers) != "null" {
		var raw []json.RawMessage
		if json.Unmarshal(w.Offers, &raw) != nil {
			return nil, fail("invalid offers")
		}
		for _, o := range raw {
			var off struct {
				Offer   json.RawMessage `json:"offer"`
				OfferID json.RawMessage `json:"offer_id"`
			}
			if json.Unmarshal(o, &off) != nil || !isObject(off.Offer) {
				return nil, fail("invalid offers")
			}
			id, ok := rawID(off.OfferID)
			if !ok {
				return nil, fail("invalid offer_id")
			}
			r.Offers = append(r.Offers, Offer{Offer: off.Offer, OfferID: id})
		}
	}
	return r, nil
}

func parseScrape(w *wireRequest) (*Request, error) {
	r := &Request{Action: ActionScrape}
	raw := w.InfoHash
	switch {
	case len(raw) == 0 || string(raw) == "null":
		r.AllHashes = true
	case raw[0] == '"':
		id, ok := rawID(raw)
		if !ok {
			return nil, fail("invalid info_hash")
		}
		r.InfoHashes = []ID{id}
	case raw[0] == '[':
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			return nil, fail("invalid info_hash")
		}
		if len(list) > maxScrapeHashes {
			return nil, fail("too many info_hash")
		}
		for _, x := range list {
			id, ok := rawID(x)
			if !ok {
				return nil, fail("invalid info_hash")
			}
			r.InfoHashes = append(r.InfoHashes, id)
		}
	default:
		// The npm server lets other types through and answers with every swarm; a
		// number or object here is a client bug, so treat it as "all" too.
		r.AllHashes = true
	}
	return r, nil
}

// rawID decodes a JSON value that must be a binary string of 20 code points.
func rawID(raw json.RawMessage) (ID, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil || jsLength(s) != 20 {
		return ID{}, false
	}
	return parseID(s)
}

func truthy(raw json.RawMessage) bool {
	switch s := string(raw); s {
	case "", "null", "false", "0", `""`:
		return false
	}
	return true
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 1 && raw[0] == '{'
}

// leftIsZero mirrors Number(params.left) === 0 of the npm server.
func leftIsZero(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return false // undefined -> NaN -> Infinity
	}
	if s == "null" {
		return true
	}
	if s[0] == '"' {
		var v string
		if json.Unmarshal(raw, &v) != nil {
			return false
		}
		v = strings.TrimSpace(v)
		if v == "" {
			return true
		}
		s = v
	}
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && f == 0
}
