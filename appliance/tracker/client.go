package tracker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/coder/websocket"
)

// Transport carries tracker messages: a WebSocket (DialWebSocket) or a LocalConn.
type Transport interface {
	Send(ctx context.Context, msg []byte) error
	Recv(ctx context.Context) ([]byte, error)
	Close() error
}

var (
	_ Transport = (*LocalConn)(nil)
	_ Transport = (*wsTransport)(nil)
)

type wsTransport struct{ c *websocket.Conn }

// DialWebSocket opens a tracker WebSocket (ws:// or wss://); hc may be nil.
func DialWebSocket(ctx context.Context, url string, hc *http.Client) (Transport, error) {
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, fmt.Errorf("dial tracker %s: %w", url, err)
	}
	c.SetReadLimit(1 << 20)
	return &wsTransport{c}, nil
}

func (w *wsTransport) Send(ctx context.Context, msg []byte) error {
	return w.c.Write(ctx, websocket.MessageText, msg)
}

func (w *wsTransport) Recv(ctx context.Context) ([]byte, error) {
	_, b, err := w.c.Read(ctx)
	return b, err
}

func (w *wsTransport) Close() error { return w.c.Close(websocket.StatusNormalClosure, "") }

// Client speaks the client side of the protocol for one peer id, like the npm
// bittorrent-tracker client: the super-peer and tests use it.
type Client struct {
	tr     Transport
	peerID ID
}

// NewClient returns a client sending as peerID over tr.
func NewClient(tr Transport, peerID ID) *Client { return &Client{tr: tr, peerID: peerID} }

// PeerID is the client's peer id.
func (c *Client) PeerID() ID { return c.peerID }

// Close closes the transport.
func (c *Client) Close() error { return c.tr.Close() }

// Announce is one announce request.
type Announce struct {
	InfoHash ID
	// Event: "started", "stopped", "completed", "update" or "" (update).
	Event string
	// Complete sends left=0: the peer has every segment (a seeder).
	Complete bool
	Offers   []Offer
}

// Announce sends an announce.
func (c *Client) Announce(ctx context.Context, a Announce) error {
	m := map[string]any{"action": "announce", "info_hash": a.InfoHash, "peer_id": c.peerID,
		"numwant": len(a.Offers), "uploaded": 0, "downloaded": 0}
	if a.Event != "" {
		m["event"] = a.Event
	}
	if a.Complete {
		m["left"] = 0
	}
	if len(a.Offers) > 0 {
		m["offers"] = a.Offers
	}
	return c.send(ctx, m)
}

// Answer sends the answer to offerID of peer to.
func (c *Client) Answer(ctx context.Context, infoHash, to, offerID ID, answer any) error {
	return c.send(ctx, map[string]any{"action": "announce", "info_hash": infoHash, "peer_id": c.peerID,
		"to_peer_id": to, "answer": answer, "offer_id": offerID})
}

// Scrape asks for the counts of the given swarms (none: all).
func (c *Client) Scrape(ctx context.Context, hashes ...ID) error {
	m := map[string]any{"action": "scrape"}
	if len(hashes) > 0 {
		m["info_hash"] = hashes
	}
	return c.send(ctx, m)
}

func (c *Client) send(ctx context.Context, m map[string]any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("tracker client: encode: %w", err)
	}
	if err := c.tr.Send(ctx, b); err != nil {
		return fmt.Errorf("tracker client: send: %w", err)
	}
	return nil
}

// Message is one message from the tracker to a client.
type Message struct {
	Action   string
	InfoHash ID
	// PeerID is the sender of an offer or answer.
	PeerID  ID
	Offer   json.RawMessage
	Answer  json.RawMessage
	OfferID ID
	// Complete, Incomplete, Interval: an announce reply.
	Complete, Incomplete, Interval int
	// Failure is the "failure reason" text.
	Failure string
	// Files: a scrape reply.
	Files map[ID]ScrapeFile
}

// ScrapeFile is one swarm of a scrape reply.
type ScrapeFile struct {
	Complete   int `json:"complete"`
	Incomplete int `json:"incomplete"`
	Downloaded int `json:"downloaded"`
}

// IsOffer says whether m relays another peer's offer.
func (m *Message) IsOffer() bool { return len(m.Offer) > 0 }

// IsAnswer says whether m routes an answer to one of our offers.
func (m *Message) IsAnswer() bool { return len(m.Answer) > 0 }

// Recv returns the next message; a "failure reason" is a Message too (Failure set).
func (c *Client) Recv(ctx context.Context) (*Message, error) {
	b, err := c.tr.Recv(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracker client: recv: %w", err)
	}
	return ParseMessage(b)
}

// ParseMessage decodes a tracker-to-client message.
func ParseMessage(b []byte) (*Message, error) {
	var w struct {
		Action     string                `json:"action"`
		InfoHash   *ID                   `json:"info_hash"`
		PeerID     *ID                   `json:"peer_id"`
		Offer      json.RawMessage       `json:"offer"`
		Answer     json.RawMessage       `json:"answer"`
		OfferID    *ID                   `json:"offer_id"`
		Complete   int                   `json:"complete"`
		Incomplete int                   `json:"incomplete"`
		Interval   int                   `json:"interval"`
		Failure    string                `json:"failure reason"`
		Files      map[string]ScrapeFile `json:"files"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	m := &Message{Action: w.Action, Offer: w.Offer, Answer: w.Answer, Complete: w.Complete,
		Incomplete: w.Incomplete, Interval: w.Interval, Failure: w.Failure}
	for _, x := range []struct {
		src *ID
		dst *ID
	}{{w.InfoHash, &m.InfoHash}, {w.PeerID, &m.PeerID}, {w.OfferID, &m.OfferID}} {
		if x.src != nil {
			*x.dst = *x.src
		}
	}
	if w.Files != nil {
		m.Files = map[ID]ScrapeFile{}
		for k, f := range w.Files {
			id, ok := parseID(k)
			if !ok {
				return nil, fmt.Errorf("%w: scrape key is not a binary string", ErrBadMessage)
			}
			m.Files[id] = f
		}
	}
	return m, nil
}
