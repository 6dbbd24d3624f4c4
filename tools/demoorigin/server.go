package demoorigin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Content types and cache policies of the served objects.
const (
	contentTypePlaylist = "application/vnd.apple.mpegurl"
	contentTypeSegment  = "video/mp2t"
	cacheLivePlaylist   = "max-age=1"
	cacheImmutable      = "public, max-age=86400"
)

// Server is a live and VOD HLS origin over a prepared encode. It
// implements http.Handler.
type Server struct {
	cfg            Config
	log            *slog.Logger
	live, vod      []*media
	liveBy, vodBy  map[string]*media
	targetDuration int // seconds
	liveMaster     []byte
	vodMaster      []byte
	media          *http.ServeMux // media routes only: target of /fault/slow and /fault/truncate
	mux            *http.ServeMux // media and fault routes
	control        *http.ServeMux // /stats
	limiter        *rate.Limiter
	stats          *statsRecorder
}

var _ http.Handler = (*Server)(nil)

// New loads the encode that Prepare made for cfg. It fails with
// ErrNotPrepared when MediaDir lacks a complete, matching encode.
func New(cfg Config) (*Server, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new demo origin: %w", err)
	}
	if c.Epoch.IsZero() {
		c.Epoch = c.Now().Add(-time.Duration(c.Window) * c.SegmentDuration)
	}
	p := c.encodeParams()
	dir := p.dir(c.MediaDir)
	man, err := loadManifest(dir, p)
	if err != nil {
		return nil, fmt.Errorf("new demo origin: %w: %w", ErrNotPrepared, err)
	}
	all, err := loadAll(dir, p, man)
	if err != nil {
		return nil, fmt.Errorf("new demo origin: %w: %w", ErrNotPrepared, err)
	}
	s := &Server{
		cfg:     c,
		log:     c.Logger.With("component", "demoorigin"),
		liveBy:  make(map[string]*media),
		vodBy:   make(map[string]*media),
		limiter: newLimiter(c.RateBitsPerSecond),
		stats:   newStatsRecorder(c.Now),
	}
	maxDur := 0.0
	for _, m := range all {
		maxDur = max(maxDur, m.maxDurS)
	}
	s.targetDuration = int(math.Ceil(maxDur))
	for _, r := range c.Renditions {
		s.live = append(s.live, all[r.Name])
		s.liveBy[r.Name] = all[r.Name]
	}
	for _, r := range c.VODRenditions {
		m := all[r.Name]
		if m.playlist == nil {
			m.playlist = vodPlaylist(m, s.targetDuration)
		}
		s.vod = append(s.vod, m)
		s.vodBy[r.Name] = m
	}
	s.liveMaster = multivariant(s.live, "")
	s.vodMaster = multivariant(s.vod, "")
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	s.media = http.NewServeMux()
	s.mux = http.NewServeMux()
	for _, mux := range []*http.ServeMux{s.media, s.mux} {
		mux.HandleFunc("GET /live/master.m3u8", s.serveLiveMaster)
		mux.HandleFunc("GET /live/{name}/index.m3u8", s.serveLivePlaylist)
		mux.HandleFunc("GET /live/{name}/{seg}", s.serveLiveSegment)
		mux.HandleFunc("GET /abs/live/master.m3u8", s.serveAbsMaster)
		mux.HandleFunc("GET /abs/live/{name}/index.m3u8", s.serveLivePlaylist)
		mux.HandleFunc("GET /vod/master.m3u8", s.serveVODMaster)
		mux.HandleFunc("GET /vod/{name}/index.m3u8", s.serveVODPlaylist)
		mux.HandleFunc("GET /vod/{name}/{seg}", s.serveVODSegment)
	}
	s.faultRoutes(s.mux)
	s.control = http.NewServeMux()
	s.control.HandleFunc("GET /stats", s.serveStats)
	s.control.HandleFunc("POST /stats/reset", s.serveStatsReset)
}

// ServeHTTP serves the paths listed in the package documentation. Media
// and fault responses pass through the emulated WAN (latency, shared rate
// cap, byte counting); /stats does not.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/stats" || r.URL.Path == "/stats/reset" {
		s.control.ServeHTTP(w, r)
		return
	}
	ww := &wanWriter{ResponseWriter: w, ctx: r.Context(), limiter: s.limiter, stats: s.stats.begin(r.URL.Path)}
	if err := sleep(r.Context(), s.cfg.Latency); err != nil {
		return // client gone before the emulated latency passed
	}
	s.mux.ServeHTTP(ww, r)
}

// Stats returns what was served since the last reset.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// ResetStats zeroes the counters.
func (s *Server) ResetStats() { s.stats.reset() }

func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	b, err := json.MarshalIndent(s.Stats(), "", "  ")
	if err != nil {
		s.log.Error("encode stats", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

func (s *Server) serveStatsReset(w http.ResponseWriter, r *http.Request) {
	s.ResetStats()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) serveLiveMaster(w http.ResponseWriter, r *http.Request) {
	serveBytes(w, r, contentTypePlaylist, cacheLivePlaylist, s.liveMaster)
}

func (s *Server) serveVODMaster(w http.ResponseWriter, r *http.Request) {
	serveBytes(w, r, contentTypePlaylist, cacheImmutable, s.vodMaster)
}

func (s *Server) serveAbsMaster(w http.ResponseWriter, r *http.Request) {
	base, ok := absBase(r)
	if !ok {
		http.Error(w, "bad host", http.StatusBadRequest)
		return
	}
	serveBytes(w, r, contentTypePlaylist, cacheLivePlaylist, multivariant(s.live, base+"/abs/live/"))
}

// serveLivePlaylist serves /live/{name}/index.m3u8 and, with absolute
// segment URIs, /abs/live/{name}/index.m3u8.
func (s *Server) serveLivePlaylist(w http.ResponseWriter, r *http.Request) {
	m, ok := s.liveBy[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	prefix := ""
	if strings.HasPrefix(r.URL.Path, "/abs/") {
		base, ok := absBase(r)
		if !ok {
			http.Error(w, "bad host", http.StatusBadRequest)
			return
		}
		prefix = base + "/live/" + m.Name + "/"
	}
	now := s.cfg.Now()
	if s.cfg.BlockingReload {
		if now, ok = s.awaitMSN(w, r, now); !ok {
			return
		}
	}
	serveBytes(w, r, contentTypePlaylist, cacheLivePlaylist, s.livePlaylist(m, now, prefix))
}

func (s *Server) serveLiveSegment(w http.ResponseWriter, r *http.Request) {
	m, ok := s.liveBy[r.PathValue("name")]
	seq, okSeq := parseSegmentName(r.PathValue("seg"))
	if !ok || !okSeq || !s.liveAvailable(seq, s.cfg.Now()) {
		http.NotFound(w, r)
		return
	}
	seg := m.segs[seq%uint64(len(m.segs))]
	w.Header().Set("ETag", seg.etag)
	serveBytes(w, r, contentTypeSegment, cacheImmutable, seg.data)
}

func (s *Server) serveVODPlaylist(w http.ResponseWriter, r *http.Request) {
	m, ok := s.vodBy[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	serveBytes(w, r, contentTypePlaylist, cacheImmutable, m.playlist)
}

func (s *Server) serveVODSegment(w http.ResponseWriter, r *http.Request) {
	m, ok := s.vodBy[r.PathValue("name")]
	i, okSeq := parseSegmentName(r.PathValue("seg"))
	if !ok || !okSeq || i >= uint64(len(m.segs)) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", m.segs[i].etag)
	serveBytes(w, r, contentTypeSegment, cacheImmutable, m.segs[i].data)
}

// serveBytes serves b with Content-Length, HEAD, Range and conditional
// requests handled by http.ServeContent.
func serveBytes(w http.ResponseWriter, r *http.Request, contentType, cacheControl string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", cacheControl)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}

// absBase returns "http://host" (or https) for absolute URIs, refusing a
// Host header with characters that do not belong in one.
func absBase(r *http.Request) (string, bool) {
	host := r.Host
	if host == "" || len(host) > 255 {
		return "", false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".-:[]", c) >= 0) {
			return "", false
		}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + host, true
}
