// Package superpeer makes the box a peer of every p2p-media-loader swarm of the
// streams it serves.
//
// In: multivariant playlists the box serves (from config or as browsers first
// ask for them), offers relayed by the box's own tracker, and the box's segment
// cache. Out: the swarm ids and tracker info_hashes of every variant and audio
// rendition, computed exactly as p2p-media-loader 2.2.x and 2.3.x pages compute
// them (both lines, which never share a swarm); WebRTC answers (pion/webrtc,
// non-trickle, host candidates only on one UDP port); and segments served over
// the p2p-media-loader data-channel protocol: announcements of the segments the
// box holds in the live window, requests answered with data chunks under
// bufferedAmount backpressure, absent, cancel, one upload per connection.
// Segments the box lacks are filled through the cache, so a site still pulls one
// WAN copy.
//
// # Usage
//
//	udp, _ := net.ListenPacket("udp", ":8478") // one port for every browser
//	sp, err := superpeer.New(superpeer.Config{Tracker: trk, Source: src, UDP: udp,
//		Prefixes: lanPrefixes})
//	if err != nil { ... }
//	defer sp.Close()
//	err = sp.AddStream(ctx, "https://box.example:8443/o/demo/live/master.m3u8", "/o/demo/live/master.m3u8")
package superpeer
