package viewerload

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// liveOrigin is a stand-in for the demo origin: one live stream in two variants whose
// segment k (segDur long, segSize bytes) carries PROGRAM-DATE-TIME start+k*segDur and is
// published at start+(k+1)*segDur, a sliding window of the last window segments, and
// /stats counters like the demo origin's.
type liveOrigin struct {
	start   time.Time
	segDur  time.Duration
	window  int
	segSize int

	mu       sync.Mutex
	stats    OriginStats
	viaBytes map[string]int64 // bytes by X-Via request header ("" for direct clients)
}

func newLiveOrigin(segDur time.Duration, window, segSize int) *liveOrigin {
	// Start in the past so a full window is published from the first request on.
	return &liveOrigin{
		start:    time.Now().Add(-time.Duration(window) * segDur),
		segDur:   segDur,
		window:   window,
		segSize:  segSize,
		viaBytes: map[string]int64{},
		stats:    OriginStats{Kinds: map[string]OriginCounter{}, Paths: map[string]OriginCounter{}},
	}
}

// published is the number of segments whose publish time has passed.
func (o *liveOrigin) published(now time.Time) int64 {
	return int64(now.Sub(o.start) / o.segDur)
}

func (o *liveOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/stats/reset" && r.Method == http.MethodPost:
		o.mu.Lock()
		o.stats = OriginStats{Kinds: map[string]OriginCounter{}, Paths: map[string]OriginCounter{}}
		clear(o.viaBytes)
		o.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case p == "/stats":
		o.mu.Lock()
		s := o.stats
		o.mu.Unlock()
		json.NewEncoder(w).Encode(s)
	case p == "/live/master.m3u8":
		o.write(w, r, "application/vnd.apple.mpegurl", false,
			"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n360p/index.m3u8\n"+
				"#EXT-X-STREAM-INF:BANDWIDTH=1600000,RESOLUTION=960x540\n540p/index.m3u8\n")
	case strings.HasSuffix(p, "/index.m3u8"):
		o.write(w, r, "application/vnd.apple.mpegurl", false, o.media(time.Now()))
	case strings.HasPrefix(p, "/live/") && strings.HasSuffix(p, ".ts"):
		name := p[strings.LastIndexByte(p, '/')+1:]
		k, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(name, "seg-"), ".ts"), 10, 64)
		if err != nil || k < 0 || k >= o.published(time.Now()) {
			http.NotFound(w, r)
			return
		}
		o.write(w, r, "video/mp2t", true, strings.Repeat("x", o.segSize))
	default:
		http.NotFound(w, r)
	}
}

// media renders the media playlist as it stands at now.
func (o *liveOrigin) media(now time.Time) string {
	n := o.published(now)
	first := max(0, n-int64(o.window))
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n",
		int((o.segDur+time.Second-1)/time.Second), first)
	for k := first; k < n; k++ {
		pdt := o.start.Add(time.Duration(k) * o.segDur).UTC()
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:%.3f,\nseg-%d.ts\n",
			pdt.Format("2006-01-02T15:04:05.000Z"), o.segDur.Seconds(), k)
	}
	return b.String()
}

func (o *liveOrigin) write(w http.ResponseWriter, r *http.Request, ctype string, segment bool, body string) {
	o.mu.Lock()
	o.stats.Requests++
	o.stats.Bytes += int64(len(body))
	kind := "playlist"
	if segment {
		kind = "segment"
	}
	c := o.stats.Kinds[kind]
	c.Requests++
	c.Bytes += int64(len(body))
	o.stats.Kinds[kind] = c
	p := o.stats.Paths[r.URL.Path]
	p.Requests++
	p.Bytes += int64(len(body))
	o.stats.Paths[r.URL.Path] = p
	o.viaBytes[r.Header.Get("X-Via")] += int64(len(body))
	o.mu.Unlock()
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write([]byte(body))
}

func (o *liveOrigin) bytesVia(via string) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.viaBytes[via]
}

// fakeEdge maps /o/demo/{path} to the origin's /{path}. Playlists pass through; each
// segment is filled once (concurrent misses wait for the one fill, which takes fillDelay)
// and then served from memory after serveDelay.
type fakeEdge struct {
	origin     http.Handler
	fillDelay  time.Duration
	serveDelay time.Duration

	mu     sync.Mutex
	fills  map[string]*fill
	served int64 // body bytes sent to clients
	first  int64 // body bytes of the first response (the run's own variant lookup)
	count  int
}

type fill struct {
	done chan struct{}
	code int
	body []byte
}

func newFakeEdge(origin http.Handler, fillDelay, serveDelay time.Duration) *fakeEdge {
	return &fakeEdge{origin: origin, fillDelay: fillDelay, serveDelay: serveDelay, fills: map[string]*fill{}}
}

func (e *fakeEdge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, "/o/demo")
	if !ok {
		http.NotFound(w, r)
		return
	}
	code, body := e.get(r.Context(), path, !strings.HasSuffix(path, ".ts"))
	if code == http.StatusOK && !sleep(r.Context(), e.serveDelay) {
		return
	}
	e.mu.Lock()
	e.served += int64(len(body))
	if e.count == 0 {
		e.first = int64(len(body))
	}
	e.count++
	e.mu.Unlock()
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}

func (e *fakeEdge) get(ctx context.Context, path string, passThrough bool) (int, []byte) {
	upstream := func() (int, []byte) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("X-Via", "edge")
		rec := httptest.NewRecorder()
		e.origin.ServeHTTP(rec, req)
		return rec.Code, rec.Body.Bytes()
	}
	if passThrough {
		return upstream()
	}
	e.mu.Lock()
	f, ok := e.fills[path]
	if !ok {
		f = &fill{done: make(chan struct{})}
		e.fills[path] = f
		e.mu.Unlock()
		if sleep(ctx, e.fillDelay) {
			f.code, f.body = upstream()
		} else {
			f.code = http.StatusGatewayTimeout
		}
		if f.code != http.StatusOK {
			e.mu.Lock()
			delete(e.fills, path)
			e.mu.Unlock()
		}
		close(f.done)
		return f.code, f.body
	}
	e.mu.Unlock()
	<-f.done
	return f.code, f.body
}

// servedBytes is what the edge sent after the first response, which is the run's own
// lookup of the playlist rather than a viewer's.
func (e *fakeEdge) servedBytes() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.served - e.first
}

// handlerTransport delivers requests straight to in-memory handlers, keyed by host, so
// that runs inside a synctest bubble see only fake time. Like a real transport it gives
// up when the request's context is done.
type handlerTransport map[string]http.Handler

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	h, ok := t[req.URL.Host]
	if !ok {
		return nil, fmt.Errorf("no handler for host %q", req.URL.Host)
	}
	done := make(chan *http.Response, 1)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		resp := rec.Result()
		resp.Request = req
		done <- resp
	}()
	select {
	case resp := <-done:
		return resp, nil
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
}
