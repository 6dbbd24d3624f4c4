package demoorigin

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

const (
	// HugeSize is the Content-Length claimed by /fault/huge/.
	HugeSize = 10 << 30
	// slowChunk and slowInterval pace /fault/slow/: 1 KiB every 50 ms,
	// about 20 KiB/s, each chunk flushed.
	slowChunk    = 1 << 10
	slowInterval = 50 * time.Millisecond
)

// malformedPlaylist is served by /fault/malformed.m3u8: no #EXTM3U header,
// a non-numeric target duration, a negative duration, a NUL byte and a
// URI without its EXTINF.
const malformedPlaylist = "#EXT-X-TARGETDURATION:abc\n#EXT-X-MEDIA-SEQUENCE:-5\n#EXTINF:-1,\nseg-\x00.ts\n#EXTINF:2.0\n#EXT-X-STREAM-INF:BANDWIDTH=x\nseg-1.ts\nseg-2.ts\n#EXT-X-ENDLIST"

// nullPackets is 87 MPEG-TS null packets (PID 0x1FFF): the body of
// /fault/huge/, shared read-only by all requests.
var nullPackets = func() []byte {
	const packet = 188
	b := make([]byte, 87*packet)
	for i := 0; i < len(b); i += packet {
		b[i], b[i+1], b[i+2], b[i+3] = 0x47, 0x1f, 0xff, 0x10
		for j := i + 4; j < i+packet; j++ {
			b[j] = 0xff
		}
	}
	return b
}()

var errTruncated = errors.New("demoorigin: response truncated on purpose")

func (s *Server) faultRoutes(mux *http.ServeMux) {
	mux.HandleFunc("/fault/notfound", http.NotFound)
	mux.HandleFunc("GET /fault/malformed.m3u8", func(w http.ResponseWriter, r *http.Request) {
		serveBytes(w, r, contentTypePlaylist, cacheLivePlaylist, []byte(malformedPlaylist))
	})
	mux.HandleFunc("GET /fault/huge/{file}", serveHuge)
	mux.HandleFunc("/fault/reset/{rest...}", serveReset)
	mux.HandleFunc("GET /fault/slow/{rest...}", s.serveSlow)
	mux.HandleFunc("GET /fault/truncate/{rest...}", s.serveTruncate)
	mux.HandleFunc("GET /fault/redirect/{rest...}", serveRedirect)
	mux.HandleFunc("/fault/{code}/{rest...}", serveStatus)
}

// serveStatus answers /fault/{code}/... with that status, 400 to 599.
func serveStatus(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.PathValue("code"))
	if err != nil || len(r.PathValue("code")) != 3 || code < 400 || code > 599 {
		http.NotFound(w, r)
		return
	}
	http.Error(w, "injected fault: "+strconv.Itoa(code), code)
}

// serveReset closes the connection without a response; with TCP it sends
// a reset (SO_LINGER 0).
func serveReset(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2 or a recorder: abort the stream
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// serveHuge claims HugeSize bytes and streams MPEG-TS null packets from a
// shared buffer until the body is complete or the client leaves.
func serveHuge(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	if strings.HasSuffix(r.PathValue("file"), ".ts") {
		h.Set("Content-Type", contentTypeSegment)
	}
	h.Set("Cache-Control", cacheImmutable)
	h.Set("Content-Length", strconv.FormatInt(HugeSize, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	for sent := int64(0); sent < HugeSize; {
		if r.Context().Err() != nil {
			return
		}
		n, err := w.Write(nullPackets[:min(int64(len(nullPackets)), HugeSize-sent)])
		sent += int64(n)
		if err != nil {
			return
		}
	}
}

// serveRedirect answers 302 to /{rest}, keeping the query.
func serveRedirect(w http.ResponseWriter, r *http.Request) {
	rest := r.PathValue("rest")
	if strings.ContainsRune(rest, '\\') {
		http.NotFound(w, r)
		return
	}
	target := path.Clean("/" + rest) // never "//host": no open redirect
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, target, http.StatusFound)
}

// serveSlow serves the media object /{rest}, dribbling its body.
func (s *Server) serveSlow(w http.ResponseWriter, r *http.Request) {
	s.media.ServeHTTP(&slowWriter{ResponseWriter: w, ctx: r.Context()}, inner(r))
}

// serveTruncate serves the media object /{rest} but stops after half of
// its Content-Length and drops the connection.
func (s *Server) serveTruncate(w http.ResponseWriter, r *http.Request) {
	tw := &truncWriter{ResponseWriter: w, limit: -1}
	s.media.ServeHTTP(tw, inner(r))
	if tw.limit < 0 || !tw.cut {
		return // no Content-Length (an error page) or nothing to cut
	}
	// net/http closes a connection whose body fell short of its
	// Content-Length; abort anyway so HTTP/2 resets the stream too.
	http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}

// inner returns r addressed to /{rest}.
func inner(r *http.Request) *http.Request {
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + r.PathValue("rest")
	r2.URL.RawPath = ""
	return r2
}

// slowWriter writes at most slowChunk bytes per slowInterval, flushing
// each chunk.
type slowWriter struct {
	http.ResponseWriter
	ctx  context.Context
	sent bool
}

func (w *slowWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if w.sent {
			if err := sleep(w.ctx, slowInterval); err != nil {
				return written, err
			}
		}
		n, err := w.ResponseWriter.Write(p[:min(len(p), slowChunk)])
		written += n
		w.sent = true
		if err != nil {
			return written, err
		}
		if err := http.NewResponseController(w.ResponseWriter).Flush(); err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

func (w *slowWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// truncWriter passes through the first half of a body with a
// Content-Length and fails every write after it.
type truncWriter struct {
	http.ResponseWriter
	limit       int64 // -1: no Content-Length seen
	written     int64
	wroteHeader bool
	cut         bool
}

func (w *truncWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		if cl, err := strconv.ParseInt(w.Header().Get("Content-Length"), 10, 64); err == nil && cl > 1 && code == http.StatusOK {
			w.limit = cl / 2
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *truncWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.limit < 0 {
		return w.ResponseWriter.Write(p)
	}
	room := w.limit - w.written
	if int64(len(p)) <= room {
		n, err := w.ResponseWriter.Write(p)
		w.written += int64(n)
		return n, err
	}
	n, err := w.ResponseWriter.Write(p[:room])
	w.written += int64(n)
	w.cut = true
	if err != nil {
		return n, err
	}
	return n, errTruncated
}

func (w *truncWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
