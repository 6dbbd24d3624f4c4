package edge

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/cache"
)

var cacheStatus = map[cache.Status]string{
	cache.StatusHit:       "HIT",
	cache.StatusMiss:      "MISS",
	cache.StatusCoalesced: "COALESCED",
	cache.StatusStale:     "STALE",
}

// serve writes h to w: complete objects through http.ServeContent, in-flight ones
// streamed as the fill writes them.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, obj object, h *cache.Handle) {
	cw := &countingWriter{ResponseWriter: w, n: &s.lanBytes}
	meta := h.Meta()
	hdr := w.Header()
	hdr.Set("Content-Type", contentTypeFor(obj.path, meta.ContentType))
	hdr.Set("X-Cache", cacheStatus[h.Status()])
	if obj.isPlaylist() {
		maxAge := 0
		if !meta.Expires.IsZero() {
			maxAge = int(time.Until(meta.Expires) / time.Second)
		}
		if maxAge > 0 {
			hdr.Set("Cache-Control", fmt.Sprintf("max-age=%d", maxAge))
		} else {
			hdr.Set("Cache-Control", "no-cache")
		}
	} else {
		hdr.Set("Cache-Control", "public, max-age=86400")
	}

	if !h.Complete() && r.Header.Get("Range") != "" {
		// A range of an object still arriving: wait for the whole object (the fill is
		// shared), then serve the range from the stored copy.
		rd := h.Reader()
		_, err := io.Copy(io.Discard, rd)
		rd.Close()
		if err != nil {
			s.failErr(w, err)
			return
		}
		done, ok := s.Cache.Peek(obj.key())
		if !ok {
			s.fail(w, http.StatusBadGateway, "object not stored")
			return
		}
		defer done.Close()
		h = done
	}

	if h.Complete() {
		f, err := h.Open()
		if err != nil {
			s.log().Warn("open cached object", "key", obj.key(), "err", err)
			s.fail(w, http.StatusInternalServerError, "cache read failed")
			return
		}
		defer f.Close()
		hdr.Set("ETag", h.ETag())
		http.ServeContent(cw, r, "", meta.Stored, f)
		return
	}

	// In flight: stream from byte 0 as it arrives.
	if meta.Size >= 0 {
		hdr.Set("Content-Length", fmt.Sprint(meta.Size))
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	rd := h.Reader()
	defer rd.Close()
	if _, err := io.Copy(cw, rd); err != nil {
		if r.Context().Err() == nil {
			s.log().Warn("fill failed while streaming", "key", obj.key(), "err", err)
		}
		// Abort the connection so the viewer sees a broken transfer, never a short
		// body that looks complete.
		panic(http.ErrAbortHandler)
	}
}

// countingWriter counts body bytes and keeps sendfile: ReadFrom goes straight to the
// underlying writer's ReadFrom.
type countingWriter struct {
	http.ResponseWriter
	n interface{ Add(int64) int64 }
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.ResponseWriter.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(r)
		c.n.Add(n)
		return n, err
	}
	n, err := io.Copy(struct{ io.Writer }{c.ResponseWriter}, r)
	c.n.Add(n)
	return n, err
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
