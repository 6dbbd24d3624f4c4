package sibling

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/discovery"
	"github.com/outpost-ecdn/outpost/appliance/edge"
)

// Peers is the sibling table (discovery.Service implements it).
type Peers interface {
	// Healthy are the healthy siblings, not this box.
	Healthy() []discovery.Peer
	// PeerByKey finds a verified sibling by its certified key.
	PeerByKey(pub ed25519.PublicKey) (discovery.Peer, bool)
	// ReportFailure marks a sibling unhealthy until it advertises again.
	ReportFailure(box string)
}

// Config configures a Node. Zero durations take the defaults noted.
type Config struct {
	Self  string             // this box's id
	Key   ed25519.PrivateKey // this box's key
	Peers Peers
	// Handler serves siblings' requests under /o/ (the edge); it is wrapped with
	// edge.FromSibling so they are filled from the origin, never forwarded again.
	Handler http.Handler
	// DialTimeout bounds connecting to an owner; 0 means 1s.
	DialTimeout time.Duration
	// HeaderTimeout bounds the owner's response headers; 0 means 10s.
	HeaderTimeout time.Duration
	// IdleRead ends a response whose bytes stop for this long; 0 means 5s.
	IdleRead time.Duration
	Logger   *slog.Logger
}

// Stats are a node's counters.
type Stats struct {
	Fetches     int64 `json:"fetches"`      // fills sent to an owner sibling
	FetchErrors int64 `json:"fetch_errors"` // of which failed (filled from the origin instead)
	SelfOwned   int64 `json:"self_owned"`   // fills this box owns
	Alone       int64 `json:"alone"`        // fills with no healthy sibling
	Served      int64 `json:"served"`       // sibling requests answered
	Rejected    int64 `json:"rejected"`     // TLS peers refused (not a verified sibling)
}

// Node routes fills to owners and serves this box's objects to siblings.
type Node struct {
	cfg  Config
	log  *slog.Logger
	cert tls.Certificate

	mu      sync.Mutex
	clients map[string]*peerClient
	srv     *http.Server
	closed  bool

	fetches, fetchErrors, selfOwned, alone, served, rejected atomic.Int64
}

var _ edge.Siblings = (*Node)(nil)

type peerClient struct {
	pub    ed25519.PublicKey
	addr   netip.AddrPort
	client *http.Client
	tr     *http.Transport
}

// New builds a node; it serves nothing until Serve.
func New(cfg Config) (*Node, error) {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = time.Second
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = 10 * time.Second
	}
	if cfg.IdleRead <= 0 {
		cfg.IdleRead = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Self == "" || len(cfg.Key) != ed25519.PrivateKeySize || cfg.Peers == nil || cfg.Handler == nil {
		return nil, errors.New("sibling: Self, Key, Peers and Handler are required")
	}
	cert, err := selfCert(cfg.Self, cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("sibling: %w", err)
	}
	return &Node{cfg: cfg, log: cfg.Logger, cert: cert, clients: map[string]*peerClient{}}, nil
}

// Owner is the box that owns key among the healthy siblings and this box.
func (n *Node) Owner(key string) string {
	_, id := n.owner(key, n.cfg.Peers.Healthy())
	return id
}

func (n *Node) owner(key string, peers []discovery.Peer) (*discovery.Peer, string) {
	best, bestW := n.cfg.Self, Weight(n.cfg.Self, key)
	var bestPeer *discovery.Peer
	for i := range peers {
		p := &peers[i]
		if p.BoxID == n.cfg.Self {
			continue
		}
		if w := Weight(p.BoxID, key); w > bestW || (w == bestW && p.BoxID < best) {
			best, bestW, bestPeer = p.BoxID, w, p
		}
	}
	return bestPeer, best
}

// Fetch implements edge.Siblings: the object from its owner, or ok=false when this
// box owns key or has no healthy sibling.
func (n *Node) Fetch(ctx context.Context, key, originName, pathQuery string) (*http.Response, bool, error) {
	peers := n.cfg.Peers.Healthy()
	if len(peers) == 0 {
		n.alone.Add(1)
		return nil, false, nil
	}
	p, _ := n.owner(key, peers)
	if p == nil {
		n.selfOwned.Add(1)
		return nil, false, nil
	}
	n.fetches.Add(1)
	resp, err := n.get(ctx, *p, "/o/"+originName+"/"+pathQuery)
	if err != nil {
		n.fetchErrors.Add(1)
		if ctx.Err() == nil {
			n.cfg.Peers.ReportFailure(p.BoxID)
		}
		return nil, true, fmt.Errorf("fetch %s from sibling %s: %w", key, p.BoxID, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		n.fetchErrors.Add(1)
		return nil, true, fmt.Errorf("fetch %s from sibling %s: %d: %w", key, p.BoxID, resp.StatusCode, ErrOwnerStatus)
	}
	return resp, true, nil
}

func (n *Node) get(ctx context.Context, p discovery.Peer, path string) (*http.Response, error) {
	c, err := n.client(p)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+p.AddrPort().String()+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "outpost-sibling/"+n.cfg.Self)
	return c.Do(req)
}

// client is the pinned HTTPS client for p, rebuilt when its key or address changes.
func (n *Node) client(p discovery.Peer) (*http.Client, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, net.ErrClosed
	}
	if c, ok := n.clients[p.BoxID]; ok {
		if c.pub.Equal(p.PublicKey) && c.addr == p.AddrPort() {
			return c.client, nil
		}
		c.tr.CloseIdleConnections()
	}
	want := p.PublicKey
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: n.cfg.DialTimeout}
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &idleConn{Conn: conn, idle: n.cfg.IdleRead}, nil
		},
		TLSClientConfig: &tls.Config{
			MinVersion:         tls.VersionTLS13,
			Certificates:       []tls.Certificate{n.cert},
			InsecureSkipVerify: true, // no CA: the next function pins the owner's certified key
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				pub, err := peerKey(raw)
				if err != nil {
					return err
				}
				if !pub.Equal(want) {
					return fmt.Errorf("owner %s presented another key: %w", p.BoxID, ErrUnknownPeer)
				}
				return nil
			},
		},
		TLSHandshakeTimeout:   n.cfg.DialTimeout + time.Second,
		ResponseHeaderTimeout: n.cfg.HeaderTimeout,
		DisableCompression:    true, // the edge streams bytes and lengths as they are
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       time.Minute,
	}
	c := &peerClient{pub: want, addr: p.AddrPort(), tr: tr, client: &http.Client{Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	n.clients[p.BoxID] = c
	return c.client, nil
}

// idleConn ends reads that wait longer than idle, so a vanished owner cannot
// hold a fill until its overall timeout.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(b []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(b)
}

// Serve answers siblings on ln (plain TCP; the node adds TLS) until Close.
func (n *Node) Serve(ln net.Listener) error {
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{n.cert},
		ClientAuth:   tls.RequireAnyClientCert, // no CA: the next function pins sibling keys
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			pub, err := peerKey(raw)
			if err == nil {
				if _, ok := n.cfg.Peers.PeerByKey(pub); !ok {
					err = fmt.Errorf("client key: %w", ErrUnknownPeer)
				}
			}
			if err != nil {
				n.rejected.Add(1)
				n.log.Warn("sibling connection refused", "err", err)
			}
			return err
		},
	}
	srv := &http.Server{
		Handler:           n.handler(),
		TLSConfig:         cfg,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return net.ErrClosed
	}
	n.srv = srv
	n.mu.Unlock()
	err := srv.Serve(tls.NewListener(ln, cfg))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (n *Node) handler() http.Handler {
	inner := edge.FromSibling(n.cfg.Handler)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/o/") || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.Error(w, "siblings may only GET /o/", http.StatusNotFound)
			return
		}
		n.served.Add(1)
		inner.ServeHTTP(w, r)
	})
}

// Close stops serving and drops connections to owners.
func (n *Node) Close() error {
	n.mu.Lock()
	n.closed = true
	srv := n.srv
	for id, c := range n.clients {
		c.tr.CloseIdleConnections()
		delete(n.clients, id)
	}
	n.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
	}
	return nil
}

// Stats returns the counters.
func (n *Node) Stats() Stats {
	return Stats{Fetches: n.fetches.Load(), FetchErrors: n.fetchErrors.Load(), SelfOwned: n.selfOwned.Load(),
		Alone: n.alone.Load(), Served: n.served.Load(), Rejected: n.rejected.Load()}
}
