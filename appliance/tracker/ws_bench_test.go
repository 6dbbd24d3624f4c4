package tracker_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/outpost-ecdn/outpost/appliance/tracker"
)

// BenchmarkAnnounceWebSocket measures announces per second over real loopback
// WebSockets: K clients (coder/websocket, as browsers' sockets would be) announce
// into 8 swarms, star mode, the box (in process) in every swarm draining the
// relayed offers. Each client waits for its announce reply before the next
// announce, so K is also the number of announces in flight. Clients and tracker
// share the machine's cores.
func BenchmarkAnnounceWebSocket(b *testing.B) {
	for _, nOffers := range []int{0, 5} {
		for _, k := range []int{1, 16, 64, 256} {
			b.Run(fmt.Sprintf("offers=%d/clients=%d", nOffers, k), func(b *testing.B) {
				benchWS(b, k, nOffers)
			})
		}
	}
}

func benchWS(b *testing.B, k, nOffers int) {
	const swarms = 8
	tr := tracker.New(tracker.Config{Mode: tracker.ModeStar, MessagesPerSecond: 1e9, MessageBurst: 1 << 30,
		QueueLength: 1 << 16, MaxPendingOffers: 1 << 10})
	srv := httptest.NewServer(tr)
	defer srv.Close()
	defer tr.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var hashes []tracker.ID
	box, err := tr.Connect(true)
	if err != nil {
		b.Fatal(err)
	}
	boxC := tracker.NewClient(box, id("box"))
	for i := range swarms {
		h := id(fmt.Sprint("ws-swarm-", i))
		hashes = append(hashes, h)
		boxC.Announce(ctx, tracker.Announce{InfoHash: h, Event: "started", Complete: true})
	}
	go func() {
		for {
			if _, err := box.Recv(ctx); err != nil {
				return
			}
		}
	}()

	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/announce"
	clients := make([]*tracker.Client, k)
	for i := range clients {
		t, err := tracker.DialWebSocket(ctx, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = tracker.NewClient(t, id(fmt.Sprint("ws-peer-", i)))
		defer clients[i].Close()
		// Join once so every measured announce is a swarm member's update.
		if err := clients[i].Announce(ctx, tracker.Announce{InfoHash: hashes[i%swarms], Event: "started"}); err != nil {
			b.Fatal(err)
		}
		if _, err := clients[i].Recv(ctx); err != nil {
			b.Fatal(err)
		}
	}
	msgs := offers(nOffers, "ws")

	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, c := range clients {
		n := b.N / k
		if i < b.N%k {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				if err := c.Announce(ctx, tracker.Announce{InfoHash: hashes[i%swarms], Offers: msgs}); err != nil {
					b.Error(err)
					return
				}
				m, err := c.Recv(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				if m.Failure != "" {
					b.Errorf("tracker: %s", m.Failure)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "announces/s")
}
