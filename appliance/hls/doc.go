// Package hls turns HLS playlist bytes into typed playlists and rewrites the
// URIs inside them.
//
// In come the raw bytes of a Media Playlist or a Multivariant Playlist
// (RFC 8216 and its second edition, including the Low-Latency HLS tags), as
// fetched from an origin. Out come a [*Media] (segments with their sequence
// numbers, keys, maps, parts and preload hints; the live edge) or a
// [*Multivariant] (variants in order, renditions, I-frame variants), and from
// [Rewrite] the same bytes with every URI passed through a caller's function
// and everything else kept byte for byte.
//
// The package is pure: no network, no logging, no global state. Hostile input
// yields an error wrapping [ErrNotPlaylist], [ErrMalformed] or [ErrWrongKind];
// it never panics and allocates at most in proportion to its input. Callers
// bound the size of what they read.
//
// # Usage
//
//	kind, err := hls.Detect(body)
//	if err != nil {
//		return err
//	}
//	if kind == hls.KindMedia {
//		m, err := hls.ParseMedia(body)
//		if err != nil {
//			return err
//		}
//		if edge, ok := m.LiveEdge(); ok && m.Live() {
//			prefetch(edge.URI)
//		}
//	}
//	out, err := hls.Rewrite(body, func(uri string) (string, bool) {
//		return "/o/cdn/" + uri, !strings.Contains(uri, "://")
//	})
package hls
