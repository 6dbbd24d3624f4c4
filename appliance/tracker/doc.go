// Package tracker is a WebTorrent WebSocket tracker for the browsers of one site.
//
// In: WebSocket connections to /announce from p2p-media-loader pages (the npm
// bittorrent-tracker 11 client), and in-process connections from the box's own
// super-peer. Out: announce replies ({complete, incomplete, interval}), WebRTC
// offers relayed to other peers of the same swarm, answers routed back by
// to_peer_id, scrape replies and {"failure reason": ...} errors, all wire-compatible
// with the npm bittorrent-tracker server. info_hash, peer_id and offer_id are
// 20-byte "binary strings": one JSON code point 0-255 per byte.
//
// The tracker only serves the site: a connection whose source address is outside
// [Config.Site] is refused before the WebSocket upgrade, and a peer group may be
// switched off or made download-only. In [ModeStar] (the default) browsers' offers
// go only to super-peers (the box), so browsers never connect to each other; in
// [ModeMesh] offers are also relayed among the site's browsers, super-peers first.
// A closed connection means "stopped" for every swarm it joined. Every connection
// is bounded (message size, message rate, swarms, offers) and so is the tracker as
// a whole (connections, swarms, peers).
//
// # Usage
//
//	t := tracker.New(tracker.Config{Site: site, Mode: tracker.ModeStar, Logger: log})
//	defer t.Close()
//	mux.Handle("/announce", t)
//
//	// the super-peer, in process, with the same protocol:
//	c := tracker.NewClient(t.Connect(true), peerID)
//	c.Announce(ctx, tracker.Announce{InfoHash: ih, Event: "started", Complete: true})
//	msg, err := c.Recv(ctx) // offers for the super-peer arrive here
package tracker
