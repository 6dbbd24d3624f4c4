package sibling

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outpost-ecdn/outpost/appliance/discovery"
)

func TestRendezvousMovesOnlyTheChangedBoxShare(t *testing.T) {
	const keys = 30000
	key := func(i int) string { return fmt.Sprintf("o/demo/live/360p/seg-%d.ts", i) }
	three := []string{"box-a", "box-b", "box-c"}
	four := append(append([]string(nil), three...), "box-d")
	counts := map[string]int{}
	moved := 0
	for i := range keys {
		before, after := Owner(key(i), three), Owner(key(i), four)
		counts[before]++
		if before != after {
			moved++
			if after != "box-d" {
				t.Fatalf("key %d moved from %s to %s, not to the added box", i, before, after)
			}
		}
		// removing box-b moves only box-b's keys
		if without := Owner(key(i), []string{"box-a", "box-c"}); before != "box-b" && without != before {
			t.Fatalf("key %d moved from %s to %s when box-b left", i, before, without)
		}
	}
	share := float64(moved) / keys
	t.Logf("adding a 4th box moved %.3f of %d keys (ideal 0.250); shares with 3 boxes: %v", share, keys, counts)
	if share < 0.22 || share > 0.28 {
		t.Errorf("moved share %.3f, want about 1/4", share)
	}
	for b, n := range counts {
		if f := float64(n) / keys; f < 0.30 || f > 0.37 {
			t.Errorf("%s owns %.3f of keys, want about 1/3", b, f)
		}
	}
}

// fakePeers is a sibling table the test writes.
type fakePeers struct {
	mu       sync.Mutex
	peers    []discovery.Peer
	failures []string
}

func (f *fakePeers) Healthy() []discovery.Peer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]discovery.Peer(nil), f.peers...)
}

func (f *fakePeers) PeerByKey(pub ed25519.PublicKey) (discovery.Peer, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.peers {
		if p.PublicKey.Equal(pub) {
			return p, true
		}
	}
	return discovery.Peer{}, false
}

func (f *fakePeers) ReportFailure(box string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, box)
}

type testBox struct {
	id    string
	key   ed25519.PrivateKey
	peers *fakePeers
	node  *Node
	addr  netip.AddrPort
	hits  atomic.Int64
}

func startBox(t *testing.T, id string) *testBox {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	b := &testBox{id: id, key: key, peers: &fakePeers{}}
	var err error
	b.node, err = New(Config{Self: id, Key: key, Peers: b.peers, DialTimeout: 2 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.hits.Add(1)
			fmt.Fprintf(w, "%s from %s", r.URL.Path, id)
		})})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().(*net.TCPAddr).AddrPort()
	done := make(chan error, 1)
	go func() { done <- b.node.Serve(ln) }()
	t.Cleanup(func() {
		b.node.Close()
		if err := <-done; err != nil {
			t.Errorf("serve %s: %v", id, err)
		}
	})
	return b
}

func (b *testBox) asPeer() discovery.Peer {
	return discovery.Peer{BoxID: b.id, Addr: b.addr.Addr(), Port: int(b.addr.Port()),
		PublicKey: b.key.Public().(ed25519.PublicKey), Healthy: true}
}

func (b *testBox) know(peers ...discovery.Peer) {
	b.peers.mu.Lock()
	b.peers.peers = peers
	b.peers.mu.Unlock()
}

// keyOwnedBy finds a cache key whose owner among boxes is want.
func keyOwnedBy(want string, boxes ...string) string {
	for i := 0; ; i++ {
		k := fmt.Sprintf("seg-%d.ts", i)
		if Owner("o/demo/"+k, boxes) == want {
			return k
		}
	}
}

func fetch(n *Node, path string) (string, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, ok, err := n.Fetch(ctx, "o/demo/"+path, "demo", path)
	if !ok || err != nil {
		return "", ok, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), true, err
}

func TestFetchFromOwnerOverPinnedTLS(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	a, b := startBox(t, "box-a"), startBox(t, "box-b")
	a.know(b.asPeer())
	b.know(a.asPeer())

	if _, ok, _ := fetch(a.node, keyOwnedBy("box-a", "box-a", "box-b")); ok {
		t.Fatal("a key this box owns went to a sibling")
	}
	k := keyOwnedBy("box-b", "box-a", "box-b")
	body, ok, err := fetch(a.node, k)
	if !ok || err != nil {
		t.Fatalf("fetch from owner: ok=%v err=%v", ok, err)
	}
	if want := "/o/demo/" + k + " from box-b"; body != want {
		t.Fatalf("body %q, want %q", body, want)
	}
	if st := a.node.Stats(); st.Fetches != 1 || st.SelfOwned != 1 {
		t.Fatalf("stats %+v", st)
	}
	a.know()
	if _, ok, _ := fetch(a.node, k); ok {
		t.Fatal("no healthy sibling, yet ok=true")
	}
}

func TestRogueCanNeitherServeNorRequest(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	a, b, rogue := startBox(t, "box-a"), startBox(t, "box-b"), startBox(t, "box-b") // rogue claims box-b's id
	a.know(b.asPeer())
	b.know(a.asPeer())
	rogue.know(b.asPeer(), a.asPeer())
	k := keyOwnedBy("box-b", "box-a", "box-b")

	// The rogue answers at the owner's address: a pins box-b's certified key and refuses.
	spoofed := b.asPeer()
	spoofed.Addr, spoofed.Port = rogue.addr.Addr(), int(rogue.addr.Port())
	a.know(spoofed)
	if _, ok, err := fetch(a.node, k); !ok || !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("fetch from a rogue at the owner's address: ok=%v err=%v, want ErrUnknownPeer", ok, err)
	}
	if n := rogue.hits.Load(); n != 0 {
		t.Fatalf("rogue served %d requests", n)
	}
	if len(a.peers.failures) != 1 {
		t.Fatalf("failures %v, want the owner reported once", a.peers.failures)
	}

	// The rogue requests from box-a, which does not know its key.
	kr := keyOwnedBy("box-a", "box-a", "box-b")
	rogue.know(a.asPeer())
	if _, ok, err := fetch(rogue.node, kr); !ok || err == nil {
		t.Fatalf("rogue fetch: ok=%v err=%v, want refused", ok, err)
	}
	if n := a.hits.Load(); n != 0 {
		t.Fatalf("box-a answered the rogue %d times", n)
	}
	if a.node.Stats().Rejected == 0 {
		t.Fatal("box-a did not count the refused peer")
	}
}

func TestSiblingListenerServesOnlyO(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	a, b := startBox(t, "box-a"), startBox(t, "box-b")
	a.know(b.asPeer())
	b.know(a.asPeer())
	c, err := a.node.client(b.asPeer())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/o/demo/x.ts", 200},
		{"HEAD", "/o/demo/x.ts", 200},
		{"GET", "/api/v1/status", 404},
		{"POST", "/o/demo/x.ts", 404},
	} {
		req, _ := http.NewRequest(tc.method, "https://"+b.addr.String()+tc.path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}
