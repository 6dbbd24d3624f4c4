package demoorigin

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"
)

// maxBlockingWaits bounds the timer waits of one blocking playlist request.
const maxBlockingWaits = 3

// latest returns the newest live sequence number published at now; ok is
// false before the first segment is published.
func (s *Server) latest(now time.Time) (seq uint64, ok bool) {
	elapsed := now.Sub(s.cfg.Epoch)
	if elapsed < s.cfg.SegmentDuration {
		return 0, false
	}
	return uint64(elapsed/s.cfg.SegmentDuration) - 1, true
}

// segmentStart is when live segment seq starts (its PROGRAM-DATE-TIME),
// saturating about 292 years after Epoch.
func (s *Server) segmentStart(seq uint64) time.Time {
	limit := uint64(math.MaxInt64 / int64(s.cfg.SegmentDuration))
	return s.cfg.Epoch.Add(time.Duration(min(seq, limit)) * s.cfg.SegmentDuration)
}

// PublishTime returns when live segment seq appears in the live playlists:
// Epoch + (seq+1)*SegmentDuration.
func (s *Server) PublishTime(seq uint64) time.Time {
	if seq == math.MaxUint64 {
		return s.segmentStart(seq)
	}
	return s.segmentStart(seq + 1)
}

// liveAvailable reports whether live segment seq can be fetched at now:
// published, and at most two windows old.
func (s *Server) liveAvailable(seq uint64, now time.Time) bool {
	latest, ok := s.latest(now)
	if !ok || seq > latest {
		return false
	}
	return latest-seq < 2*uint64(s.cfg.Window)
}

// awaitMSN implements blocking playlist reload (RFC 8216bis section
// 6.2.5.2) for a request carrying _HLS_msn: it returns the time at which
// to render the playlist once that media sequence number is published. It
// answers 400 for a malformed or too distant request and 503 when the
// segment is not published within three target durations; ok is false
// when it wrote a response or the client left.
func (s *Server) awaitMSN(w http.ResponseWriter, r *http.Request, now time.Time) (time.Time, bool) {
	q := r.URL.Query()
	raw, hasMSN := q["_HLS_msn"]
	if !hasMSN {
		if q.Has("_HLS_part") {
			http.Error(w, "_HLS_part without _HLS_msn", http.StatusBadRequest)
			return now, false
		}
		return now, true
	}
	msn, err := strconv.ParseUint(raw[0], 10, 64)
	if err != nil {
		http.Error(w, "bad _HLS_msn", http.StatusBadRequest)
		return now, false
	}
	var next uint64 // first unpublished sequence number
	if latest, ok := s.latest(now); ok {
		next = latest + 1
	}
	if msn < next {
		return now, true
	}
	if msn > next+1 { // more than two beyond the last published segment
		http.Error(w, "_HLS_msn too far in the future", http.StatusBadRequest)
		return now, false
	}
	deadline := now.Add(3 * time.Duration(s.targetDuration) * time.Second)
	publish := s.PublishTime(msn)
	for range maxBlockingWaits {
		if !now.Before(publish) {
			return now, true
		}
		if !now.Before(deadline) || publish.After(deadline) {
			break
		}
		if err := sleep(r.Context(), publish.Sub(now)); err != nil {
			return now, false // client gone
		}
		now = s.cfg.Now()
	}
	if !now.Before(publish) {
		return now, true
	}
	w.Header().Set("Retry-After", strconv.Itoa(s.targetDuration))
	http.Error(w, "playlist update not available in time", http.StatusServiceUnavailable)
	return now, false
}

// sleep waits for d or until ctx ends; it returns at once when d <= 0.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
