// Package demoorigin is a live and VOD HLS origin for demos, end-to-end
// tests and benchmarks of the Outpost edge box.
//
// In: a Config (renditions, segment duration, WAN emulation, clock) and an
// ffmpeg binary. Prepare encodes a short test clip once per parameter set
// (lavfi testsrc2 with a burnt-in running timestamp when drawtext and a
// font are available, a beeping sine tone; H.264 main/baseline from
// libx264 in CBR with a keyframe at every segment start, AAC, MPEG-TS
// segments of exactly SegmentDuration) into MediaDir/enc-{hash}/ with a
// manifest, so later runs start at once. Out: a Server (an http.Handler)
// that plays the clip in a loop as a wall-clock live stream and serves it
// as VOD, with per-kind and per-path byte counts.
//
// # Paths
//
// GET and HEAD, with Content-Length, Range and ETag (segments):
//
//	/live/master.m3u8              multivariant: BANDWIDTH (peak segment rate),
//	                               AVERAGE-BANDWIDTH, RESOLUTION, CODECS, FRAME-RATE
//	/live/{name}/index.m3u8        sliding window of Window segments, relative URIs
//	/live/{name}/seg-{seq}.ts      clip segment seq % ClipSegments; 404 until
//	                               published and once 2*Window segments old
//	/abs/live/master.m3u8          multivariant pointing at /abs/live/{name}/index.m3u8
//	/abs/live/{name}/index.m3u8    the live playlist with absolute segment URIs
//	                               http://{Host}/live/{name}/seg-{seq}.ts
//	/vod/master.m3u8               multivariant of VODRenditions
//	/vod/{name}/index.m3u8         EXT-X-PLAYLIST-TYPE:VOD ... EXT-X-ENDLIST
//	/vod/{name}/seg-{i}.ts         i < ClipSegments; with the default VOD set,
//	                               /vod/1080p/seg-{i}.ts is about 1 MB
//	/stats                         JSON Stats; POST /stats/reset zeroes them
//
// Playlists are application/vnd.apple.mpegurl (live: Cache-Control
// max-age=1), segments video/mp2t (max-age=86400).
//
// Live segment seq covers [Epoch+seq*D, Epoch+(seq+1)*D) for D =
// SegmentDuration and is published at the end of that interval
// (PublishTime). Each segment carries EXT-X-PROGRAM-DATE-TIME; each pass
// over the clip starts with EXT-X-DISCONTINUITY, counted by
// EXT-X-DISCONTINUITY-SEQUENCE (seq / ClipSegments).
//
// With BlockingReload, live playlists carry
// EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES and a request with _HLS_msn=M
// is held until segment M is published. M more than two beyond the last
// published segment, a malformed M or _HLS_part alone get 400; a wait that
// would exceed three target durations gets 503. Waits use real timers
// (tests use testing/synctest).
//
// # Fault injection
//
//	/fault/{code}/...            status code (400-599), short text body
//	/fault/notfound              404
//	/fault/malformed.m3u8        200, playlist content type, body that is no valid playlist
//	/fault/reset/...             connection closed with no response (TCP RST)
//	/fault/slow/{path}           the object at /{path}, 1 KiB every 50 ms, flushed
//	/fault/truncate/{path}       the object at /{path}, Content-Length kept,
//	                             connection dropped after half the body
//	/fault/redirect/{path}       302 to /{path}
//	/fault/huge/{file}           Content-Length HugeSize (10 GiB) of MPEG-TS null
//	                             packets streamed from one shared buffer
//
// {path} in slow and truncate must be a media path (live, abs, vod), not
// another fault.
//
// # WAN emulation
//
// Every media and fault response waits Latency before its headers and
// writes its body in chunks of at most 16 KiB, each taken from one token
// bucket of RateBitsPerSecond shared by all responses, so concurrent
// downloads share the cap fairly. Stats count the body bytes the
// connection accepted.
//
// # Usage
//
//	cfg := demoorigin.Config{MediaDir: dir}
//	if err := demoorigin.Prepare(ctx, cfg, ""); err != nil { ... }
//	srv, err := demoorigin.New(cfg)
//	if err != nil { ... }
//	ts := httptest.NewServer(srv) // or http.Server{Handler: srv}
//
// The command tools/cmd/demo-origin runs it as a standalone server.
package demoorigin
