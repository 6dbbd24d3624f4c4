// Package p2pweb holds the browser-side files an Outpost box serves for
// p2p-media-loader pages, embedded in the binary.
//
// In: HTTP requests under /sdk/. Out: outpost-p2p.js, the set-up script a
// portal page loads from the box (tracker = the box's /announce over ws:// or
// wss://, no STUN/TURN, time windows from /api/v1/p2p/stream, and a
// validateP2PSegment that checks SHA-256 from /api/v1/hashes/...); test.html,
// a player page for trying the box with hls.js + p2p-media-loader; and, when
// Handler.Player is set, the player bundles that page loads
// (/sdk/player/p2pml23.js, p2pml22.js: hls.js with p2p-media-loader-hlsjs,
// built from npm by tools/browsertest; firmware ships none).
//
// # Usage
//
//	mux.Handle("GET /sdk/", &p2pweb.Handler{})
package p2pweb
