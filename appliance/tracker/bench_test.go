package tracker_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/outpost-ecdn/outpost/appliance/tracker"
)

// BenchmarkAnnounce measures announces (each with 5 offers, star mode, the box in
// the swarm) through the whole message path: parse, swarm update, reply, relay.
func BenchmarkAnnounce(b *testing.B) {
	tr := tracker.New(tracker.Config{MessagesPerSecond: 1e9, MessageBurst: 1 << 30, QueueLength: 1 << 16})
	defer tr.Close()
	box, _ := tr.Connect(true)
	boxC := tracker.NewClient(box, id("box"))
	ctx := context.Background()
	boxC.Announce(ctx, tracker.Announce{InfoHash: ih, Event: "started", Complete: true})
	go func() {
		for {
			if _, err := box.Recv(ctx); err != nil {
				return
			}
		}
	}()
	const n = 200
	var peers []*tracker.Client
	var conns []*tracker.LocalConn
	for i := range n {
		lc, err := tr.ConnectFrom(netip.MustParseAddr("10.0.0.1"))
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, lc)
		peers = append(peers, tracker.NewClient(lc, id(fmt.Sprint("peer", i))))
	}
	msgs := offers(5, "bench")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := peers[i%n]
		p.Announce(ctx, tracker.Announce{InfoHash: ih, Offers: msgs})
		conns[i%n].Recv(ctx)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "announces/s")
}
