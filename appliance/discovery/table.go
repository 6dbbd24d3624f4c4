package discovery

import (
	"crypto/ed25519"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Peer is one sibling box as the table knows it.
type Peer struct {
	BoxID     string            `json:"box_id"`
	Version   string            `json:"version"`
	Role      string            `json:"role"`
	Addr      netip.Addr        `json:"addr"` // source address of its last accepted record
	Port      int               `json:"port"` // sibling TLS port
	Load      int               `json:"load"`
	PublicKey ed25519.PublicKey `json:"-"` // from its verified certificate
	FirstSeen time.Time         `json:"first_seen"`
	LastSeen  time.Time         `json:"last_seen"`
	// Healthy: heard within the expiry and no failure reported since its last record.
	Healthy bool `json:"healthy"`

	stamp   time.Time // timestamp of the last accepted record
	nonce   string
	failed  time.Time // last ReportFailure
	certEnd time.Time
}

// AddrPort is where its sibling listener is.
func (p Peer) AddrPort() netip.AddrPort { return netip.AddrPortFrom(p.Addr, uint16(p.Port)) }

// EventKind says what happened to a peer.
type EventKind int

const (
	Join   EventKind = iota + 1 // a box was accepted for the first time (or again after leaving)
	Leave                       // a box expired or said goodbye
	Update                      // address, port, load or health changed
)

func (k EventKind) String() string {
	switch k {
	case Join:
		return "join"
	case Leave:
		return "leave"
	case Update:
		return "update"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one change of the table.
type Event struct {
	Kind EventKind
	Peer Peer
}

// table is the sibling table; its methods take now so tests drive the clock.
type table struct {
	expire time.Duration

	mu      sync.Mutex
	peers   map[string]*Peer
	subs    map[int]chan Event
	nextSub int
	healthy atomic.Pointer[[]Peer]

	accepted, duplicates, dropped atomic.Int64
	ignoredMu                     sync.Mutex
	ignored                       map[string]int64
}

func newTable(expire time.Duration) *table {
	t := &table{expire: expire, peers: map[string]*Peer{}, subs: map[int]chan Event{}, ignored: map[string]int64{}}
	t.healthy.Store(new([]Peer))
	return t
}

func (t *table) ignore(err error) {
	t.ignoredMu.Lock()
	t.ignored[reason(err)]++
	t.ignoredMu.Unlock()
}

// observe takes a verified record seen from addr at now. A record not newer than
// the last one from that box is a replay (an exact repeat, e.g. the same answer
// heard on two interfaces, is a harmless duplicate and only counted as such).
func (t *table) observe(r *Record, addr netip.Addr, now time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, known := t.peers[r.Box]
	if known {
		if r.Time.Equal(p.stamp) && r.Nonce == p.nonce {
			t.duplicates.Add(1)
			return nil
		}
		if !r.Time.After(p.stamp) {
			err := fmt.Errorf("box %q: timestamp %d not after %d: %w", r.Box, r.Time.UnixMilli(), p.stamp.UnixMilli(), ErrReplayed)
			t.ignore(err)
			return err
		}
	}
	t.accepted.Add(1)
	next := Peer{BoxID: r.Box, Version: r.Version, Role: r.Role, Addr: addr.Unmap(), Port: r.Port, Load: r.Load,
		PublicKey: r.Cert.BoxKey, FirstSeen: now, LastSeen: now, stamp: r.Time, nonce: r.Nonce, certEnd: r.Cert.NotAfter}
	if known {
		next.FirstSeen = p.FirstSeen
		next.failed = p.failed
	}
	next.Healthy = next.failed.IsZero() || r.Time.After(next.failed)
	if next.Healthy {
		next.failed = time.Time{}
	}
	t.peers[r.Box] = &next
	switch {
	case !known:
		t.emit(Event{Join, next})
	case p.Addr != next.Addr || p.Port != next.Port || p.Load != next.Load || p.Healthy != next.Healthy ||
		!p.PublicKey.Equal(next.PublicKey) || p.Version != next.Version || p.Role != next.Role:
		t.emit(Event{Update, next})
	}
	t.publish()
	return nil
}

// goodbye removes box when the goodbye came from the address the box uses (mDNS
// goodbyes are unsigned; this keeps a stranger from evicting a box from afar).
func (t *table) goodbye(box string, from netip.Addr) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.peers[box]
	if !ok || p.Addr != from.Unmap() {
		return false
	}
	delete(t.peers, box)
	p.Healthy = false
	t.emit(Event{Leave, *p})
	t.publish()
	return true
}

// reportFailure marks box unhealthy until a record signed after now arrives.
func (t *table) reportFailure(box string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.peers[box]
	if !ok || !p.Healthy {
		return
	}
	p.Healthy = false
	p.failed = now
	t.emit(Event{Update, *p})
	t.publish()
}

// expireAt removes boxes silent for longer than the expiry or whose certificate
// ended.
func (t *table) expireAt(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	changed := false
	for id, p := range t.peers {
		if now.Sub(p.LastSeen) > t.expire || !now.Before(p.certEnd) {
			delete(t.peers, id)
			p.Healthy = false
			t.emit(Event{Leave, *p})
			changed = true
		}
	}
	if changed {
		t.publish()
	}
}

// publish rebuilds the healthy snapshot; t.mu held.
func (t *table) publish() {
	var h []Peer
	for _, p := range t.peers {
		if p.Healthy {
			h = append(h, *p)
		}
	}
	slices.SortFunc(h, func(a, b Peer) int { return cmpString(a.BoxID, b.BoxID) })
	t.healthy.Store(&h)
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// emit sends ev to every subscriber without blocking; t.mu held.
func (t *table) emit(ev Event) {
	for _, ch := range t.subs {
		select {
		case ch <- ev:
		default:
			t.dropped.Add(1)
		}
	}
}

func (t *table) subscribe(buf int) (<-chan Event, func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ch := make(chan Event, max(buf, 1))
	id := t.nextSub
	t.nextSub++
	t.subs[id] = ch
	return ch, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if _, ok := t.subs[id]; ok {
			delete(t.subs, id)
			close(ch)
		}
	}
}

// closeSubs ends every subscription.
func (t *table) closeSubs() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, ch := range t.subs {
		delete(t.subs, id)
		close(ch)
	}
}

func (t *table) all() []Peer {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Peer, 0, len(t.peers))
	for _, p := range t.peers {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Peer) int { return cmpString(a.BoxID, b.BoxID) })
	return out
}

func (t *table) byKey(pub ed25519.PublicKey) (Peer, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.peers {
		if p.PublicKey.Equal(pub) {
			return *p, true
		}
	}
	return Peer{}, false
}

func (t *table) ignoredCopy() map[string]int64 {
	t.ignoredMu.Lock()
	defer t.ignoredMu.Unlock()
	return maps.Clone(t.ignored)
}
