// Package viewerload simulates many HLS players against one edge and measures what they see.
//
// In: a Config naming a media or multivariant playlist URL on the edge under test (and,
// optionally, the demo origin's /stats URL and its own copy of the media playlist).
// Out: a Report with per-segment latency, delay from publish, stalls of a simulated
// playback buffer, LAN bytes, and, with origin statistics, WAN bytes, requests per
// distinct segment and offload. The availability probe reports how often a segment that
// just appeared at the origin was already at the edge.
//
// Each viewer joins at a jittered time, starts three segments behind the live edge (like
// hls.js), reloads the playlist about every target duration, and fetches every new
// segment once, counting its bytes and discarding them. All viewers share one
// http.Transport. The package does no per-byte work beyond counting, so the tool stays
// cheap next to the box under test.
//
// # Usage
//
//	rep, err := viewerload.Run(ctx, viewerload.Config{
//		URL:      "http://127.0.0.1:8080/o/demo/live/360p/index.m3u8",
//		Viewers:  500,
//		Duration: time.Minute,
//	})
//	if err != nil {
//		return err
//	}
//	rep.WriteText(os.Stdout)
package viewerload
