package tracker

import (
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"

	"golang.org/x/time/rate"
)

// Tracker is the WebTorrent tracker. It is an http.Handler for /announce.
type Tracker struct {
	cfg Config

	mu     sync.Mutex
	swarms map[ID]*swarm
	conns  map[*conn]struct{}
	peers  int // (swarm, peer) entries
	supers int
	closed bool

	announces, scrapes, offers, answers atomic.Int64
	badMessages, refused, rateLimited   atomic.Int64
	slowDropped, limitRejects, unrouted atomic.Int64
}

type swarm struct {
	peers                map[ID]*peer
	complete, incomplete int
}

type peer struct {
	id       ID
	c        *conn
	complete bool
}

// Stats are the tracker's gauges and counters.
type Stats struct {
	Mode       string `json:"mode"`
	Conns      int    `json:"conns"`
	SuperPeers int    `json:"super_peers"`
	Swarms     int    `json:"swarms"`
	Peers      int    `json:"peers"`

	Announces      int64 `json:"announces"`
	Scrapes        int64 `json:"scrapes"`
	OffersRelayed  int64 `json:"offers_relayed"`
	AnswersRelayed int64 `json:"answers_relayed"`
	// AnswersUnrouted: answers to an offer the tracker never relayed to the
	// sender, or whose offerer is gone.
	AnswersUnrouted int64 `json:"answers_unrouted"`
	BadMessages     int64 `json:"bad_messages"`
	// Refused: connections from outside the site or from a group that is off.
	Refused      int64 `json:"refused"`
	RateLimited  int64 `json:"rate_limited"`
	SlowDropped  int64 `json:"slow_dropped"`
	LimitRejects int64 `json:"limit_rejects"`
}

// New returns a tracker; it holds no goroutines until connections arrive.
func New(cfg Config) *Tracker {
	return &Tracker{cfg: cfg.withDefaults(), swarms: map[ID]*swarm{}, conns: map[*conn]struct{}{}}
}

// Stats returns a snapshot.
func (t *Tracker) Stats() Stats {
	t.mu.Lock()
	s := Stats{Mode: t.cfg.Mode.String(), Conns: len(t.conns), SuperPeers: t.supers, Swarms: len(t.swarms), Peers: t.peers}
	t.mu.Unlock()
	s.Announces = t.announces.Load()
	s.Scrapes = t.scrapes.Load()
	s.OffersRelayed = t.offers.Load()
	s.AnswersRelayed = t.answers.Load()
	s.AnswersUnrouted = t.unrouted.Load()
	s.BadMessages = t.badMessages.Load()
	s.Refused = t.refused.Load()
	s.RateLimited = t.rateLimited.Load()
	s.SlowDropped = t.slowDropped.Load()
	s.LimitRejects = t.limitRejects.Load()
	return s
}

// Close disconnects every peer; later connections are refused.
func (t *Tracker) Close() error {
	t.mu.Lock()
	t.closed = true
	conns := make([]*conn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		c.kill(ErrClosed)
		t.drop(c)
	}
	return nil
}

// conn is one client connection: a WebSocket or an in-process super-peer.
type conn struct {
	super   bool
	addr    netip.Addr
	group   int
	access  Access
	limiter *rate.Limiter // nil: unlimited (super-peers)

	out      chan []byte
	done     chan struct{}
	killOnce sync.Once
	cause    error

	// guarded by Tracker.mu
	joined  map[ID][]ID // info_hash -> this connection's peer ids in it
	pending []pendingOffer
	gone    bool
}

type pendingOffer struct {
	infoHash, from, offerID ID
}

func (t *Tracker) newConn(super bool, addr netip.Addr, group int, access Access) *conn {
	c := &conn{super: super, addr: addr, group: group, access: access,
		out: make(chan []byte, t.cfg.QueueLength), done: make(chan struct{}), joined: map[ID][]ID{}}
	if !super {
		c.limiter = rate.NewLimiter(rate.Limit(t.cfg.MessagesPerSecond), t.cfg.MessageBurst)
	}
	return c
}

// register adds c, or reports why it may not join.
func (t *Tracker) register(c *conn) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if len(t.conns) >= t.cfg.MaxConns && !c.super {
		t.limitRejects.Add(1)
		return fail("tracker full")
	}
	t.conns[c] = struct{}{}
	if c.super {
		t.supers++
	}
	return nil
}

// kill ends c; its reader sees done and the tracker drops it.
func (c *conn) kill(cause error) {
	c.killOnce.Do(func() {
		c.cause = cause
		close(c.done)
	})
}

// send queues b for c without blocking; a WebSocket peer that does not keep up
// is dropped, a super-peer only loses the message. Called with Tracker.mu held.
func (t *Tracker) send(c *conn, b []byte) {
	if c.gone {
		return
	}
	select {
	case c.out <- b:
	default:
		t.slowDropped.Add(1)
		if !c.super {
			c.kill(ErrSlowConsumer)
			t.dropLocked(c)
		}
	}
}

// drop removes c and everything it announced: a closed socket is "stopped" for
// all its swarms.
func (t *Tracker) drop(c *conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropLocked(c)
}

func (t *Tracker) dropLocked(c *conn) {
	if c.gone {
		return
	}
	for ih, ids := range c.joined {
		s := t.swarms[ih]
		for _, id := range ids {
			if s != nil {
				t.removePeer(ih, s, id)
			}
		}
	}
	c.joined = map[ID][]ID{}
	c.pending = nil
	c.gone = true
	delete(t.conns, c)
	if c.super {
		t.supers--
	}
}

func (t *Tracker) removePeer(ih ID, s *swarm, id ID) {
	p, ok := s.peers[id]
	if !ok {
		return
	}
	if p.complete {
		s.complete--
	} else {
		s.incomplete--
	}
	delete(s.peers, id)
	t.peers--
	if len(s.peers) == 0 {
		delete(t.swarms, ih)
	}
	if ids := p.c.joined[ih]; ids != nil {
		for i, x := range ids {
			if x == id {
				ids = append(ids[:i], ids[i+1:]...)
				break
			}
		}
		if len(ids) == 0 {
			delete(p.c.joined, ih)
		} else {
			p.c.joined[ih] = ids
		}
	}
}

// handle processes one message from c.
func (t *Tracker) handle(c *conn, msg []byte) {
	if c.limiter != nil && !c.limiter.Allow() {
		t.rateLimited.Add(1)
		t.mu.Lock()
		t.send(c, failureMsg("too many requests", nil))
		t.mu.Unlock()
		return
	}
	req, err := ParseRequest(msg)
	if err != nil {
		t.badMessages.Add(1)
		t.mu.Lock()
		t.send(c, failureMsg(Reason(err), nil))
		t.mu.Unlock()
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.gone {
		return
	}
	switch req.Action {
	case ActionAnnounce:
		t.announces.Add(1)
		t.announce(c, req)
	case ActionScrape:
		t.scrapes.Add(1)
		t.scrape(c, req)
	}
}

type announceReply struct {
	Complete   int    `json:"complete"`
	Incomplete int    `json:"incomplete"`
	Action     string `json:"action"`
	Interval   int    `json:"interval"`
	InfoHash   ID     `json:"info_hash"`
}

type offerMsg struct {
	Action   string          `json:"action"`
	Offer    json.RawMessage `json:"offer"`
	OfferID  ID              `json:"offer_id"`
	PeerID   ID              `json:"peer_id"`
	InfoHash ID              `json:"info_hash"`
}

type answerMsg struct {
	Action   string          `json:"action"`
	Answer   json.RawMessage `json:"answer"`
	OfferID  ID              `json:"offer_id"`
	PeerID   ID              `json:"peer_id"`
	InfoHash ID              `json:"info_hash"`
}

func failureMsg(reason string, infoHash *ID) []byte {
	m := map[string]any{"failure reason": reason}
	if infoHash != nil {
		m["action"] = "announce"
		m["info_hash"] = *infoHash
	}
	b, _ := json.Marshal(m)
	return b
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("tracker: marshal: " + err.Error())
	}
	return b
}

// announce runs with t.mu held.
func (t *Tracker) announce(c *conn, req *Request) {
	ih := req.InfoHash
	reject := func(reason string) {
		t.limitRejects.Add(1)
		t.send(c, failureMsg(reason, &ih))
	}
	switch req.Event {
	case "", "empty", "started", "stopped", "completed", "update", "paused":
	default:
		t.badMessages.Add(1)
		t.send(c, failureMsg("invalid event", &ih))
		return
	}
	s := t.swarms[ih]
	p := (*peer)(nil)
	if s != nil {
		p = s.peers[req.PeerID]
	}
	if p != nil && p.c != c {
		// The same peer id from another socket: a page that reconnected before
		// its old socket was noticed dead may take over; anyone else may not.
		if p.c.addr != c.addr || p.c.super != c.super {
			reject("peer_id in use")
			return
		}
		t.removePeer(ih, s, req.PeerID)
		s = t.swarms[ih]
		p = nil
	}
	if req.Event == "stopped" {
		if p != nil {
			t.removePeer(ih, s, req.PeerID)
		}
		complete, incomplete := 0, 0
		if s = t.swarms[ih]; s != nil {
			complete, incomplete = s.complete, s.incomplete
		}
		t.send(c, mustJSON(announceReply{Complete: complete, Incomplete: incomplete, Action: "announce",
			Interval: t.interval(), InfoHash: ih}))
		return
	}
	if p == nil {
		switch {
		case s == nil && len(t.swarms) >= t.cfg.MaxSwarms:
			reject("tracker full: too many swarms")
			return
		case t.peers >= t.cfg.MaxPeers:
			reject("tracker full: too many peers")
			return
		case !c.super && len(c.joined[ih]) == 0 && len(c.joined) >= t.cfg.MaxSwarmsPerConn:
			reject("too many swarms on this connection")
			return
		}
		if s == nil {
			s = &swarm{peers: map[ID]*peer{}}
			t.swarms[ih] = s
		}
		p = &peer{id: req.PeerID, c: c, complete: req.Complete || req.Event == "completed"}
		s.peers[p.id] = p
		t.peers++
		if p.complete {
			s.complete++
		} else {
			s.incomplete++
		}
		c.joined[ih] = append(c.joined[ih], p.id)
	} else if !p.complete && (req.Complete || req.Event == "completed") {
		p.complete = true
		s.complete++
		s.incomplete--
	}

	if req.Answer != nil {
		t.routeAnswer(c, req)
		return // the npm server sends no reply to an answer
	}
	t.send(c, mustJSON(announceReply{Complete: s.complete, Incomplete: s.incomplete, Action: "announce",
		Interval: t.interval(), InfoHash: ih}))
	if len(req.Offers) > 0 {
		t.relayOffers(c, s, p, req)
	}
}

func (t *Tracker) interval() int { return int((t.cfg.Interval + 999_999_999) / 1e9) }

// relayOffers hands each offer to a different peer chosen by the mode.
func (t *Tracker) relayOffers(c *conn, s *swarm, from *peer, req *Request) {
	offers := req.Offers
	if len(offers) > t.cfg.MaxOffers {
		offers = offers[:t.cfg.MaxOffers]
	}
	var supers, others []*peer
	for _, q := range s.peers {
		if q.c == c || q.id == from.id {
			continue
		}
		switch {
		case q.c.super:
			supers = append(supers, q)
		case c.super:
			// super-peers make no offers today; if one does, any site peer may take it
			others = append(others, q)
		case t.cfg.Mode == ModeMesh && c.access == AccessOn && q.c.access == AccessOn && q.c.group == c.group:
			others = append(others, q)
		}
	}
	rand.Shuffle(len(supers), func(i, j int) { supers[i], supers[j] = supers[j], supers[i] })
	rand.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	targets := append(supers, others...)
	for i, o := range offers {
		if i >= len(targets) {
			break
		}
		q := targets[i]
		q.c.pending = append(q.c.pending, pendingOffer{infoHash: req.InfoHash, from: from.id, offerID: o.OfferID})
		if n := len(q.c.pending) - t.cfg.MaxPendingOffers; n > 0 {
			q.c.pending = append(q.c.pending[:0], q.c.pending[n:]...)
		}
		t.offers.Add(1)
		t.send(q.c, mustJSON(offerMsg{Action: "announce", Offer: o.Offer, OfferID: o.OfferID,
			PeerID: from.id, InfoHash: req.InfoHash}))
	}
}

// routeAnswer delivers an answer to the peer whose offer the tracker relayed to c.
func (t *Tracker) routeAnswer(c *conn, req *Request) {
	want := pendingOffer{infoHash: req.InfoHash, from: req.ToPeerID, offerID: req.OfferID}
	found := -1
	for i, po := range c.pending {
		if po == want {
			found = i
			break
		}
	}
	s := t.swarms[req.InfoHash]
	var to *peer
	if s != nil {
		to = s.peers[req.ToPeerID]
	}
	if found < 0 || to == nil {
		t.unrouted.Add(1)
		return
	}
	c.pending = append(c.pending[:found], c.pending[found+1:]...)
	t.answers.Add(1)
	t.send(to.c, mustJSON(answerMsg{Action: "announce", Answer: req.Answer, OfferID: req.OfferID,
		PeerID: req.PeerID, InfoHash: req.InfoHash}))
}

type scrapeFile struct {
	Complete   int `json:"complete"`
	Incomplete int `json:"incomplete"`
	Downloaded int `json:"downloaded"`
}

// scrape runs with t.mu held.
func (t *Tracker) scrape(c *conn, req *Request) {
	files := map[string]scrapeFile{}
	add := func(ih ID) {
		f := scrapeFile{}
		if s := t.swarms[ih]; s != nil {
			f = scrapeFile{Complete: s.complete, Incomplete: s.incomplete, Downloaded: s.complete}
		}
		files[ih.Binary()] = f
	}
	if req.AllHashes {
		for ih := range t.swarms {
			if len(files) == maxScrapeHashes {
				break
			}
			add(ih)
		}
	}
	for _, ih := range req.InfoHashes {
		add(ih)
	}
	t.send(c, mustJSON(map[string]any{
		"action": "scrape",
		"files":  files,
		"flags":  map[string]int{"min_request_interval": 5 * t.interval()},
	}))
}
