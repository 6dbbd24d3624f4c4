// Package edge is the box's LAN HTTP side.
//
// In: viewer requests GET /o/{origin}/{path}. Out: the origin's object, from the cache
// when it can, else through exactly one coalesced origin fetch whose bytes stream to
// every waiting viewer as they arrive. Playlists are rewritten on the way in so that
// absolute URIs pointing at a configured origin come back to the box; they get short
// TTLs from their target duration, segments long ones. Complete objects are served
// with http.ServeContent (Range, ETag, If-None-Match, sendfile); in-flight ones are
// streamed. Every media playlist request is also reported to live prefetch.
//
// The package also implements prefetch.Source, so prefetch reaches the origin and
// the cache through the same code path as viewers.
package edge

import (
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/cache"
	"github.com/outpost-ecdn/outpost/appliance/origin"
	"github.com/outpost-ecdn/outpost/appliance/prefetch"
)

// Server serves /o/{origin}/{path}. Set the exported fields before the first request.
type Server struct {
	Cache  *cache.Cache
	Client *origin.Client
	// Origins returns the current allowlist (swapped on config reload).
	Origins func() *origin.Set
	// CORSOrigins returns the browser origins allowed to read responses ("*" = any);
	// nil means "*".
	CORSOrigins func() []string
	// Prefetch is told about every playlist request; nil disables live prefetch.
	Prefetch *prefetch.Prefetcher
	// Siblings, when set, sends segment fills to the owning sibling box.
	Siblings Siblings
	// PlaylistMaxBytes bounds a playlist body; zero means 4 MiB.
	PlaylistMaxBytes int64
	Logger           *slog.Logger

	lanBytes                    atomic.Int64
	requests                    atomic.Int64
	errors5xx                   atomic.Int64
	unmapped                    atomic.Int64 // absolute playlist URIs left pointing outside the box
	badLists                    atomic.Int64
	siblingFills, siblingErrors atomic.Int64
	viewers                     viewerTable
	live                        liveSegments
}

// Stats are the edge's counters.
type Stats struct {
	LANBytes       int64          // body bytes sent to viewers
	Requests       int64          // /o/ requests
	ServerErrors   int64          // 5xx answers
	UnmappedURIs   int64          // absolute URIs in playlists not under any origin
	BadPlaylists   int64          // origin playlists that failed to parse
	SiblingFills   int64          // segments filled from the owning sibling box
	SiblingErrors  int64          // owner sibling failures (fell back to the origin)
	ViewersPerList map[string]int // media playlist -> distinct viewers in the last window
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		LANBytes:       s.lanBytes.Load(),
		Requests:       s.requests.Load(),
		ServerErrors:   s.errors5xx.Load(),
		UnmappedURIs:   s.unmapped.Load(),
		BadPlaylists:   s.badLists.Load(),
		SiblingFills:   s.siblingFills.Load(),
		SiblingErrors:  s.siblingErrors.Load(),
		ViewersPerList: s.viewers.snapshot(time.Now()),
	}
}

func (s *Server) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// ServeHTTP answers /o/{origin}/{path}.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.cors(w, r)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		s.fail(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	name, rest, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		s.fail(w, http.StatusNotFound, "not found: use /o/{origin}/{path}")
		return
	}
	up, err := s.Origins().Resolve(name, rest, r.URL.RawQuery)
	if err != nil {
		s.failErr(w, err)
		return
	}
	obj := object{origin: name, path: rest, query: r.URL.RawQuery, upstream: up}
	var h *cache.Handle
	if obj.isPlaylist() {
		s.watch(obj, r)
		h, err = s.Cache.Get(r.Context(), obj.key(), s.playlistFill(obj))
	} else {
		h, err = s.Cache.Get(r.Context(), obj.key(), s.segmentFill(obj, s.segmentPriority(obj), !fromSibling(r.Context())))
	}
	if err != nil {
		if r.Context().Err() != nil {
			return // the viewer left; nothing to answer
		}
		s.log().Debug("get failed", "key", obj.key(), "err", err)
		s.failErr(w, err)
		return
	}
	defer h.Close()
	s.serve(w, r, obj, h)
}

// splitPath splits "/o/{origin}/{rest}" (escaped form).
func splitPath(p string) (name, rest string, ok bool) {
	p, ok = strings.CutPrefix(p, "/o/")
	if !ok {
		return "", "", false
	}
	name, rest, ok = strings.Cut(p, "/")
	return name, rest, ok && name != ""
}

// object is one request's target.
type object struct {
	origin, path, query string
	upstream            *url.URL
}

func (o object) key() string {
	k := "o/" + o.origin + "/" + o.path
	if o.query != "" {
		k += "?" + o.query
	}
	return k
}

func (o object) isPlaylist() bool {
	ext := strings.ToLower(path.Ext(o.path))
	return ext == ".m3u8" || ext == ".m3u"
}

// contentTypes for what HLS players fetch; mime's table lacks most of them.
var contentTypes = map[string]string{
	".m3u8":   "application/vnd.apple.mpegurl",
	".m3u":    "application/vnd.apple.mpegurl",
	".ts":     "video/mp2t",
	".m4s":    "video/iso.segment",
	".mp4":    "video/mp4",
	".m4a":    "audio/mp4",
	".m4v":    "video/mp4",
	".aac":    "audio/aac",
	".vtt":    "text/vtt",
	".webvtt": "text/vtt",
	".key":    "application/octet-stream",
}

func contentTypeFor(p, fromOrigin string) string {
	if fromOrigin != "" && !strings.HasPrefix(fromOrigin, "application/octet-stream") && !strings.HasPrefix(fromOrigin, "text/plain") {
		return fromOrigin
	}
	ext := strings.ToLower(path.Ext(p))
	if ct, ok := contentTypes[ext]; ok {
		return ct
	}
	if ct := mime.TypeByExtension(ext); ct != "" {
		return ct
	}
	if fromOrigin != "" {
		return fromOrigin
	}
	return "application/octet-stream"
}

func (s *Server) cors(w http.ResponseWriter, r *http.Request) {
	o := r.Header.Get("Origin")
	if o == "" {
		return
	}
	allowed := []string{"*"}
	if s.CORSOrigins != nil {
		allowed = s.CORSOrigins()
	}
	h := w.Header()
	for _, a := range allowed {
		if a == "*" {
			h.Set("Access-Control-Allow-Origin", "*")
		} else if strings.EqualFold(strings.TrimSuffix(a, "/"), o) {
			h.Set("Access-Control-Allow-Origin", o)
			h.Add("Vary", "Origin")
		} else {
			continue
		}
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Range, If-None-Match, If-Modified-Since")
		h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range, ETag, Age, X-Cache")
		h.Set("Access-Control-Max-Age", "600")
		return
	}
}

// fail writes a short public error.
func (s *Server) fail(w http.ResponseWriter, code int, msg string) {
	if code >= 500 {
		s.errors5xx.Add(1)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, msg, code)
}

// failErr maps an internal error to a status and a public message.
func (s *Server) failErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrBadPlaylist):
		s.fail(w, http.StatusBadGateway, "origin sent an invalid playlist")
	case errors.Is(err, ErrPlaylistTooLarge):
		s.fail(w, http.StatusBadGateway, "origin playlist too large")
	case errors.Is(err, cache.ErrClosed):
		s.fail(w, http.StatusServiceUnavailable, "shutting down")
	case errors.Is(err, cache.ErrTooLarge):
		s.fail(w, http.StatusBadGateway, "object too large")
	default:
		code, msg := origin.PublicError(err)
		s.fail(w, code, msg)
	}
}
