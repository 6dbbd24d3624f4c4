package superpeer

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/hls"
	"github.com/outpost-ecdn/outpost/appliance/tracker"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"
)

// Server is the box's super-peer.
type Server struct {
	cfg    Config
	api    *webrtc.API
	lc     *tracker.LocalConn
	client *tracker.Client
	total  *rate.Limiter // nil: unlimited

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	streams map[string]*stream // by swarm id
	swarms  map[tracker.ID]*swarm
	media   map[string]*media // by media playlist path
	peers   map[*peerConn]struct{}
	pending int // offers being answered
	closed  bool

	memo segmentMemo

	offers, answered, refused, uploads, uploadBytes atomic.Int64
	absent, cancels, failures, warms, active        atomic.Int64
}

// stream is one multivariant playlist as pages name it.
type stream struct {
	swarmID, path string
	swarms        []*swarm
	lastSeen      time.Time
	refreshed     time.Time
}

// swarm is one stream of one protocol line: an info hash the box has joined.
type swarm struct {
	st    *stream
	ss    SwarmStream
	m     *media
	peers map[*peerConn]struct{}
}

// media is one media playlist shared by the swarms (2.2 and 2.3) that use it.
type media struct {
	path     string
	live     bool
	window   map[int64]string // segment id -> box path
	order    []int64
	loaded   []int64
	loading  []int64
	nextPoll time.Time
	polling  bool
	warming  map[string]bool
}

// Stats are the super-peer's gauges and counters.
type Stats struct {
	// PeerID is the box's peer id in every swarm: p2p-media-loader's peer list
	// and tracker logs show it (e.g. "-OP0100-...").
	PeerID  string `json:"peer_id"`
	Streams int    `json:"streams"`
	Swarms  int    `json:"swarms"`
	Peers   int    `json:"peers"`
	// ActiveUploads are segments being sent right now (at most one per peer).
	ActiveUploads int64 `json:"active_uploads"`

	Offers      int64 `json:"offers"`
	Answered    int64 `json:"answered"`
	Refused     int64 `json:"refused"`
	Uploads     int64 `json:"uploads"`
	UploadBytes int64 `json:"upload_bytes"`
	Absent      int64 `json:"absent"`
	Cancels     int64 `json:"cancels"`
	Failures    int64 `json:"failures"`
	Warms       int64 `json:"warms"`
}

// New builds the super-peer and joins the tracker; Close ends it.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if cfg.Tracker == nil || cfg.Source == nil || cfg.UDP == nil {
		return nil, errors.New("superpeer: Tracker, Source and UDP are required")
	}
	if cfg.PeerID == (tracker.ID{}) {
		cfg.PeerID = randomPeerID()
	}
	se := webrtc.SettingEngine{LoggerFactory: pionLogs{cfg.Logger.With("component", "pion")}}
	keep := newAddrFilter(cfg.Prefixes, cfg.IncludeLoopback).keep
	se.SetICEUDPMux(filteredMux{UDPMux: webrtc.NewICEUDPMux(nil, cfg.UDP), keep: keep})
	se.SetIPFilter(keep)
	se.SetRemoteIPFilter(keep)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	if cfg.NoMDNS {
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	} else {
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeQueryOnly)
	}
	lc, err := cfg.Tracker.Connect(true)
	if err != nil {
		return nil, fmt.Errorf("superpeer: join tracker: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		api:     webrtc.NewAPI(webrtc.WithSettingEngine(se)),
		lc:      lc,
		client:  tracker.NewClient(lc, cfg.PeerID),
		streams: map[string]*stream{},
		swarms:  map[tracker.ID]*swarm{},
		media:   map[string]*media{},
		peers:   map[*peerConn]struct{}{},
		memo:    segmentMemo{max: 24},
	}
	if cfg.UploadBytesPerSecond > 0 {
		s.total = rate.NewLimiter(rate.Limit(cfg.UploadBytesPerSecond), max(int(cfg.UploadBytesPerSecond), 2*MaxMessageSize))
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(2)
	go s.trackerLoop()
	go s.pollLoop()
	return s, nil
}

func randomPeerID() tracker.ID {
	const symbols = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var id tracker.ID
	copy(id[:], "-OP0100-")
	var r [12]byte
	rand.Read(r[:])
	for i, b := range r {
		id[8+i] = symbols[int(b)%len(symbols)]
	}
	return id
}

// peerIDText shows a peer id as text when it is printable ASCII (as the box's
// own "-OP0100-..." is), else as hex.
func peerIDText(id tracker.ID) string {
	for _, b := range id {
		if b < 0x21 || b > 0x7e {
			return id.String()
		}
	}
	return string(id[:])
}

// PeerID is the box's peer id in every swarm.
func (s *Server) PeerID() tracker.ID { return s.cfg.PeerID }

// Close leaves every swarm and closes every peer connection.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	peers := make([]*peerConn, 0, len(s.peers))
	for p := range s.peers {
		peers = append(peers, p)
	}
	s.mu.Unlock()
	s.cancel()
	s.lc.Close()
	for _, p := range peers {
		p.close()
	}
	s.wg.Wait()
	return nil
}

// Stats returns a snapshot.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	st := Stats{PeerID: peerIDText(s.cfg.PeerID), Streams: len(s.streams), Swarms: len(s.swarms), Peers: len(s.peers)}
	s.mu.Unlock()
	st.ActiveUploads = s.active.Load()
	st.Offers = s.offers.Load()
	st.Answered = s.answered.Load()
	st.Refused = s.refused.Load()
	st.Uploads = s.uploads.Load()
	st.UploadBytes = s.uploadBytes.Load()
	st.Absent = s.absent.Load()
	st.Cancels = s.cancels.Load()
	st.Failures = s.failures.Load()
	st.Warms = s.warms.Load()
	return st
}

// AddStream registers the multivariant playlist at box path path, named by pages
// as swarmID (usually SwarmIDFromURL of the URL they loaded), and joins the swarm
// of each of its streams for both protocol lines. Calling it again for a known
// stream only marks it as watched (and re-reads the playlist once a minute).
func (s *Server) AddStream(ctx context.Context, swarmID, path string) error {
	now := time.Now()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	st := s.streams[swarmID]
	if st != nil {
		st.lastSeen = now
		fresh := now.Sub(st.refreshed) < time.Minute
		s.mu.Unlock()
		if fresh {
			return nil
		}
	} else {
		s.mu.Unlock()
	}
	body, err := s.cfg.Source.Fetch(ctx, path)
	if err != nil {
		return fmt.Errorf("superpeer: fetch %s: %w", path, err)
	}
	mv, err := hls.ParseMultivariant(body)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrNotPlaylist, path, err)
	}
	streams, err := StreamsFor(boxURL(path), swarmID, mv)
	if err != nil {
		return fmt.Errorf("superpeer: %s: %w", path, err)
	}
	var joins []tracker.ID
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	st = s.streams[swarmID]
	if st == nil {
		st = &stream{swarmID: swarmID, path: path}
		s.streams[swarmID] = st
	}
	st.lastSeen, st.refreshed = now, now
	for _, ss := range streams {
		if ss.URL == "" || s.swarms[ss.InfoHash] != nil {
			continue
		}
		u, err := url.Parse(ss.URL)
		if err != nil {
			continue
		}
		mp := u.RequestURI()
		m := s.media[mp]
		if m == nil {
			m = &media{path: mp, window: map[int64]string{}, warming: map[string]bool{}}
			s.media[mp] = m
		}
		sw := &swarm{st: st, ss: ss, m: m, peers: map[*peerConn]struct{}{}}
		s.swarms[ss.InfoHash] = sw
		st.swarms = append(st.swarms, sw)
		joins = append(joins, ss.InfoHash)
	}
	s.mu.Unlock()
	for _, ih := range joins {
		if err := s.client.Announce(ctx, tracker.Announce{InfoHash: ih, Event: "started", Complete: true}); err != nil {
			return fmt.Errorf("superpeer: announce: %w", err)
		}
	}
	if len(joins) > 0 {
		s.cfg.Logger.Info("super-peer joined stream", "swarm_id", swarmID, "path", path, "swarms", len(joins))
	}
	return nil
}

// Streams lists the registered streams' swarms, for status pages.
func (s *Server) Streams() []SwarmStream {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SwarmStream
	for _, st := range s.streams {
		for _, sw := range st.swarms {
			out = append(out, sw.ss)
		}
	}
	slices.SortFunc(out, func(a, b SwarmStream) int {
		if a.SwarmID != b.SwarmID {
			if a.SwarmID < b.SwarmID {
				return -1
			}
			return 1
		}
		return 0
	})
	return out
}

// boxURL makes a box path absolute for URL resolution; only its path matters.
func boxURL(path string) string { return "http://box.invalid" + path }

// trackerLoop answers offers relayed by the tracker.
func (s *Server) trackerLoop() {
	defer s.wg.Done()
	for i := 0; ; i++ {
		m, err := s.client.Recv(s.ctx)
		if err != nil {
			return
		}
		switch {
		case m.Failure != "":
			s.cfg.Logger.Warn("tracker refused the super-peer", "reason", m.Failure)
		case m.IsOffer():
			s.offers.Add(1)
			s.takeOffer(m)
		}
	}
}

// takeOffer starts answering an offer unless the box cannot or need not.
func (s *Server) takeOffer(m *tracker.Message) {
	s.mu.Lock()
	sw := s.swarms[m.InfoHash]
	reason := ""
	switch {
	case s.closed:
		reason = "closed"
	case sw == nil:
		reason = "unknown swarm"
	case len(s.peers)+s.pending >= s.cfg.MaxPeers:
		reason = "peer limit"
	default:
		for p := range sw.peers {
			if p.remote == m.PeerID {
				reason = "already connected"
			}
		}
	}
	if reason != "" {
		s.mu.Unlock()
		s.refused.Add(1)
		s.cfg.Logger.Debug("offer not answered", "reason", reason, "peer", m.PeerID)
		return
	}
	s.pending++
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := s.answer(sw, m)
		s.mu.Lock()
		s.pending--
		s.mu.Unlock()
		if err != nil {
			s.failures.Add(1)
			s.cfg.Logger.Debug("answer failed", "peer", m.PeerID, "err", err)
		}
	}()
}

// answer creates a peer connection for the offer and sends the full answer.
func (s *Server) answer(sw *swarm, m *tracker.Message) error {
	var offer webrtc.SessionDescription
	if err := json.Unmarshal(m.Offer, &offer); err != nil || offer.Type != webrtc.SDPTypeOffer {
		return fmt.Errorf("%w: bad offer", ErrProtocol)
	}
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return fmt.Errorf("new peer connection: %w", err)
	}
	p := newPeerConn(s, sw, m.PeerID, pc)
	ok := false
	defer func() {
		if !ok {
			p.close()
		}
	}()
	if err := pc.SetRemoteDescription(offer); err != nil {
		return fmt.Errorf("set offer: %w", err)
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return fmt.Errorf("set answer: %w", err)
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	select {
	case <-gathered:
	case <-ctx.Done():
		return fmt.Errorf("gather candidates: %w", ctx.Err())
	}
	if !s.addPeer(p) {
		return ErrClosed
	}
	ok = true
	if err := s.client.Answer(ctx, m.InfoHash, m.PeerID, m.OfferID, pc.LocalDescription()); err != nil {
		p.close()
		return fmt.Errorf("send answer: %w", err)
	}
	s.answered.Add(1)
	p.armTimeout(s.cfg.ConnectTimeout)
	return nil
}

func (s *Server) addPeer(p *peerConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.peers[p] = struct{}{}
	p.sw.peers[p] = struct{}{}
	p.sw.st.lastSeen = time.Now()
	return true
}

func (s *Server) removePeer(p *peerConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.peers, p)
	delete(p.sw.peers, p)
}

// announcement is the swarm's current announcement (segment ids).
func (s *Server) announcement(sw *swarm) Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Command{Type: CmdAnnouncement, Loaded: slices.Clone(sw.m.loaded), Loading: slices.Clone(sw.m.loading)}
}

// segmentPath maps a requested segment id to its box path.
func (s *Server) segmentPath(sw *swarm, id int64) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := sw.m.window[id]
	return p, ok
}

// segment returns a segment's bytes: recent ones from memory, others through
// the cache.
func (s *Server) segment(ctx context.Context, path string) ([]byte, error) {
	if b, ok := s.memo.get(path); ok {
		return b, nil
	}
	b, err := s.cfg.Source.Fetch(ctx, path)
	if err != nil {
		return nil, err
	}
	s.memo.put(path, b)
	return b, nil
}

// segmentMemo keeps the last few segments served: every peer asks for the
// same live-edge segments.
type segmentMemo struct {
	mu    sync.Mutex
	max   int
	order []string
	m     map[string][]byte
}

func (c *segmentMemo) get(k string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[k]
	return b, ok
}

func (c *segmentMemo) put(k string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	if _, ok := c.m[k]; ok {
		return
	}
	c.m[k] = b
	c.order = append(c.order, k)
	for len(c.order) > c.max {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
}
