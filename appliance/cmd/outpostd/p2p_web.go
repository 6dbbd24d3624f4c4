package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/hls"
	"github.com/outpost-ecdn/outpost/appliance/p2pweb"
	"github.com/outpost-ecdn/outpost/appliance/superpeer"
)

// p2pPlayer serves /sdk/player/ (the hls.js + p2p-media-loader bundles of the
// test page); nil in the firmware. The browser test swaps it.
var p2pPlayer fs.FS

// mountP2PWeb adds what p2p-media-loader pages load from the box:
//
//	GET /sdk/outpost-p2p.js, /sdk/test.html    (appliance/p2pweb)
//	GET /api/v1/hashes/{origin}/{path}         SHA-256 of what the box fetched
//	GET /api/v1/p2p/stream?url={manifest URL}  time windows for one stream
func (d *daemon) mountP2PWeb(mux *http.ServeMux) {
	mux.Handle("GET /sdk/", &p2pweb.Handler{Player: p2pPlayer})
	mux.HandleFunc("GET /api/v1/hashes/", d.serveHashes)
	mux.HandleFunc("GET /api/v1/p2p/stream", d.serveP2PStream)
}

// ObjectHash is the JSON of /api/v1/hashes/{origin}/{segment path}.
type ObjectHash struct {
	Path   string `json:"path"` // box path, "/o/{origin}/{path}"
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// PlaylistHashes is the JSON of /api/v1/hashes/{origin}/{media playlist path}:
// the segments of the playlist's current window that the box holds, by box
// path (segments it has not fetched yet are left out).
type PlaylistHashes struct {
	Playlist string                `json:"playlist"`
	Segments map[string]ObjectHash `json:"segments"`
}

// serveHashes answers with the SHA-256 the cache computed while it stored an
// object fetched from the origin: pages check data from peers against it.
func (d *daemon) serveHashes(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v1/hashes/")
	if rest == "" || !strings.Contains(rest, "/") {
		jsonError(w, http.StatusNotFound, "use /api/v1/hashes/{origin}/{path}")
		return
	}
	boxPath := "/o/" + rest
	if r.URL.RawQuery != "" {
		boxPath += "?" + r.URL.RawQuery
	}
	if ext := strings.ToLower(path.Ext(rest)); ext != ".m3u8" && ext != ".m3u" {
		h, ok := d.objectHash(boxPath)
		if !ok {
			jsonError(w, http.StatusNotFound, "the box holds no complete copy of "+boxPath)
			return
		}
		w.Header().Set("Cache-Control", "max-age=10")
		writeJSON(w, h)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	pl, err := d.mediaPlaylist(ctx, boxPath)
	if err != nil {
		d.log.Debug("hashes: playlist", "path", boxPath, "err", err)
		jsonError(w, http.StatusBadGateway, "no media playlist at "+boxPath)
		return
	}
	out := PlaylistHashes{Playlist: boxPath, Segments: map[string]ObjectHash{}}
	for _, seg := range pl.Segments {
		if p, ok := resolveBoxPath(boxPath, seg.URI); ok {
			if h, ok := d.objectHash(p); ok {
				out.Segments[p] = h
			}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, out)
}

// objectHash reads a complete cached object's digest (never fills).
func (d *daemon) objectHash(boxPath string) (ObjectHash, bool) {
	h, ok := d.cache.Peek(strings.TrimPrefix(boxPath, "/"))
	if !ok {
		return ObjectHash{}, false
	}
	defer h.Close()
	m := h.Meta()
	if !h.Complete() || m.SHA256 == "" {
		return ObjectHash{}, false
	}
	return ObjectHash{Path: boxPath, SHA256: m.SHA256, Size: m.Size}, true
}

// mediaPlaylist reads a media playlist through the edge (a cache hit while
// anyone watches).
func (d *daemon) mediaPlaylist(ctx context.Context, boxPath string) (*hls.Media, error) {
	body, err := (&boxSource{d: d}).Fetch(ctx, boxPath)
	if err != nil {
		return nil, err
	}
	return hls.ParseMedia(body)
}

// resolveBoxPath resolves a playlist URI against the playlist's box path; ok
// is false for a URI that leaves the box.
func resolveBoxPath(base, uri string) (string, bool) {
	b, err := url.Parse("http://box.invalid" + base)
	if err != nil {
		return "", false
	}
	u, err := b.Parse(uri)
	if err != nil || u.Host != b.Host || !strings.HasPrefix(u.Path, "/o/") {
		return "", false
	}
	return u.RequestURI(), true
}

// P2PStreamConfig is the JSON of /api/v1/p2p/stream: how outpost-p2p.js sets
// up p2p-media-loader for one stream. Windows are in seconds; 0 means
// p2p-media-loader's default.
type P2PStreamConfig struct {
	URL            string  `json:"url"`
	SwarmID        string  `json:"swarm_id"`
	Live           bool    `json:"live"`
	TargetDuration float64 `json:"target_duration"`
	WindowDuration float64 `json:"window_duration"`
	SuperPeer      bool    `json:"superpeer"`
	P2PWindows
}

// P2PWindows are p2p-media-loader's time windows, in seconds.
type P2PWindows struct {
	HighDemand float64 `json:"high_demand_time_window"`
	HTTP       float64 `json:"http_download_time_window,omitempty"`
	P2P        float64 `json:"p2p_download_time_window,omitempty"`
}

// serveP2PStream reads the stream's first media playlist and picks the windows.
func (d *daemon) serveP2PStream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "no-store")
	raw := r.URL.Query().Get("url")
	u, err := url.Parse(raw)
	if err != nil || !strings.HasPrefix(u.Path, "/o/") {
		jsonError(w, http.StatusBadRequest, "url must be a playlist URL the box serves (/o/...)")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	src := &boxSource{d: d}
	mediaPath := u.RequestURI()
	body, err := src.Fetch(ctx, mediaPath)
	if err == nil {
		if kind, kerr := hls.Detect(body); kerr == nil && kind == hls.KindMultivariant {
			mv, perr := hls.ParseMultivariant(body)
			if perr != nil || len(mv.Variants) == 0 {
				jsonError(w, http.StatusBadGateway, "the multivariant playlist has no variants")
				return
			}
			var ok bool
			if mediaPath, ok = resolveBoxPath(mediaPath, mv.Variants[0].URI); !ok {
				jsonError(w, http.StatusBadGateway, "the first variant is not served by the box")
				return
			}
		}
	}
	var pl *hls.Media
	if err == nil {
		pl, err = d.mediaPlaylist(ctx, mediaPath)
	}
	if err != nil {
		d.log.Debug("p2p stream config", "url", raw, "err", err)
		jsonError(w, http.StatusBadGateway, "could not read the stream's playlists")
		return
	}
	var window time.Duration
	for _, s := range pl.Segments {
		window += s.Duration
	}
	live := pl.Live()
	sp := d.p2p != nil && d.p2p.sp != nil
	writeJSON(w, P2PStreamConfig{URL: raw, SwarmID: superpeer.SwarmIDFromURL(raw), Live: live,
		TargetDuration: pl.TargetDuration.Seconds(), WindowDuration: window.Seconds(), SuperPeer: sp,
		P2PWindows: p2pWindows(pl.TargetDuration, window, live, sp)})
}

// p2pWindows chooses p2p-media-loader's windows for a stream.
//
// p2p-media-loader fetches over HTTP every segment that starts within
// highDemandTimeWindow of the playhead. A live hls.js player sits about three
// target durations behind the end of the playlist (liveSyncDurationCount, less
// in a short window), and a new segment appears one target duration before
// that end and is seen up to one target duration late: it starts lead-2*td to
// lead-td ahead of the playhead. The window must stay below that or every
// segment counts as urgent (the default 15 s gives 0% P2P on a 2 s x 6 window),
// and at least half a segment so a slow peer does not stall playback.
//
// With the super-peer every segment is on offer from the box, so HTTP is
// needed only for urgent segments (httpDownloadTimeWindow = the high-demand
// window) and P2P may prefetch the whole window.
func p2pWindows(td, window time.Duration, live, superPeer bool) P2PWindows {
	sec := func(d time.Duration) float64 { return math.Round(d.Seconds()*10) / 10 }
	if td <= 0 {
		td = 6 * time.Second
	}
	if !live {
		return P2PWindows{HighDemand: sec(min(max(2*td, 4*time.Second), 15*time.Second))}
	}
	lead := 3 * td
	if window > 0 {
		lead = min(lead, window-td)
	}
	high := min(max(lead-2*td, td/2), 15*time.Second)
	w := P2PWindows{HighDemand: sec(high)}
	if superPeer {
		w.HTTP = w.HighDemand
		w.P2P = sec(max(window, 2*high))
	}
	return w
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
