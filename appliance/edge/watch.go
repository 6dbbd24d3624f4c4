package edge

import (
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/hls"
	"github.com/outpost-ecdn/outpost/appliance/origin"
	"github.com/outpost-ecdn/outpost/appliance/prefetch"
)

const (
	// viewerWindow: a viewer counts for a playlist it asked for this recently.
	viewerWindow = 10 * time.Second
	// maxTracked bounds the viewer and live-segment tables against hostile clients.
	maxTracked = 100_000
	// liveSegmentTTL: a segment listed in a live playlist this recently is live-edge.
	liveSegmentTTL = 2 * time.Minute
)

// watch counts the viewer and tells prefetch that the playlist is wanted.
func (s *Server) watch(obj object, r *http.Request) {
	s.viewers.touch(obj.origin+"/"+obj.path, viewerID(r), time.Now())
	if s.Prefetch != nil {
		s.Prefetch.Touch(prefetch.Ref{Origin: obj.origin, Path: obj.withQuery()})
	}
}

func (o object) withQuery() string {
	if o.query == "" {
		return o.path
	}
	return o.path + "?" + o.query
}

// viewerID identifies a player by its connection (players keep one alive), so that
// many players behind one address (NAT, a test on loopback) still count one by one.
// X-Forwarded-For is not trusted: any LAN client could set it.
func viewerID(r *http.Request) string {
	return r.RemoteAddr
}

// viewerTable tracks, per playlist, who asked for it within viewerWindow.
type viewerTable struct {
	mu    sync.Mutex
	lists map[string]map[string]time.Time
	n     int
}

func (v *viewerTable) touch(list, who string, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.lists == nil {
		v.lists = map[string]map[string]time.Time{}
	}
	m := v.lists[list]
	if m == nil {
		if len(v.lists) >= 10_000 {
			return
		}
		m = map[string]time.Time{}
		v.lists[list] = m
	}
	if _, ok := m[who]; !ok {
		if v.n >= maxTracked {
			v.pruneLocked(now)
			if v.n >= maxTracked {
				return
			}
		}
		v.n++
	}
	m[who] = now
}

func (v *viewerTable) pruneLocked(now time.Time) {
	for list, m := range v.lists {
		for who, at := range m {
			if now.Sub(at) > viewerWindow {
				delete(m, who)
				v.n--
			}
		}
		if len(m) == 0 {
			delete(v.lists, list)
		}
	}
}

func (v *viewerTable) snapshot(now time.Time) map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.pruneLocked(now)
	out := make(map[string]int, len(v.lists))
	for list, m := range v.lists {
		out[list] = len(m)
	}
	return out
}

// liveSegments remembers the keys of segments listed in live playlists, so a viewer's
// miss on one is fetched at live-edge priority rather than VOD.
type liveSegments struct {
	mu   sync.Mutex
	keys map[string]time.Time
}

func (l *liveSegments) add(keys []string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys == nil {
		l.keys = map[string]time.Time{}
	}
	if len(l.keys)+len(keys) > maxTracked {
		for k, at := range l.keys {
			if now.Sub(at) > liveSegmentTTL {
				delete(l.keys, k)
			}
		}
		if len(l.keys)+len(keys) > maxTracked {
			clear(l.keys)
		}
	}
	for _, k := range keys {
		l.keys[k] = now
	}
}

func (l *liveSegments) has(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.keys[key]
	return ok && now.Sub(at) < liveSegmentTTL
}

// rememberLive records the segment keys of a live media playlist.
func (s *Server) rememberLive(obj object, m *hls.Media) {
	set := s.Origins()
	keys := make([]string, 0, len(m.Segments))
	for _, seg := range m.Segments {
		if k, ok := keyFor(set, obj.upstream, seg.URI); ok {
			keys = append(keys, k)
		}
	}
	s.live.add(keys, time.Now())
}

func (s *Server) segmentPriority(obj object) origin.Priority {
	if s.live.has(obj.key(), time.Now()) {
		return origin.PriorityLiveEdge
	}
	return origin.PriorityVOD
}

// resolveRef resolves a URI written in the playlist at base to an object on one of
// the configured origins.
func resolveRef(set *origin.Set, base *url.URL, uri string) (object, bool) {
	ref, err := url.Parse(uri)
	if err != nil {
		return object{}, false
	}
	abs := base.ResolveReference(ref)
	name, p, ok := set.Lookup(abs)
	if !ok {
		return object{}, false
	}
	return object{origin: name, path: p, query: abs.RawQuery, upstream: abs}, true
}

func keyFor(set *origin.Set, base *url.URL, uri string) (string, bool) {
	o, ok := resolveRef(set, base, uri)
	return o.key(), ok
}
