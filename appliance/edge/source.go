package edge

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/outpost-ecdn/outpost/appliance/hls"
	"github.com/outpost-ecdn/outpost/appliance/origin"
	"github.com/outpost-ecdn/outpost/appliance/prefetch"
)

var _ prefetch.Source = (*Server)(nil)

func (s *Server) refObject(ref prefetch.Ref) (object, error) {
	p, q, _ := strings.Cut(ref.Path, "?")
	up, err := s.Origins().Resolve(ref.Origin, p, q)
	if err != nil {
		return object{}, err
	}
	return object{origin: ref.Origin, path: p, query: q, upstream: up}, nil
}

// Playlist implements prefetch.Source: a fresh media playlist from the origin.
func (s *Server) Playlist(ctx context.Context, ref prefetch.Ref, msn int64) (*hls.Media, error) {
	obj, err := s.refObject(ref)
	if err != nil {
		return nil, err
	}
	if msn >= 0 {
		u := *obj.upstream
		q := u.Query()
		q.Set("_HLS_msn", fmt.Sprint(msn))
		u.RawQuery = q.Encode()
		obj.upstream = &u
	}
	_, kind, m, err := s.loadPlaylist(ctx, obj)
	if err != nil {
		return nil, err
	}
	if kind != hls.KindMedia || !m.Live() {
		return nil, prefetch.ErrNotLive
	}
	s.rememberLive(obj, m)
	return m, nil
}

// Warm implements prefetch.Source: the segment at uri (as written in the playlist of
// ref) is filled into the cache at prefetch priority; Warm returns once it is stored.
func (s *Server) Warm(ctx context.Context, ref prefetch.Ref, uri string) error {
	pl, err := s.refObject(ref)
	if err != nil {
		return err
	}
	obj, ok := resolveRef(s.Origins(), pl.upstream, uri)
	if !ok {
		return fmt.Errorf("prefetch %s: %w", uri, origin.ErrNotAllowed)
	}
	if h, ok := s.Cache.Peek(obj.key()); ok {
		h.Close()
		return nil
	}
	h, err := s.Cache.Get(ctx, obj.key(), s.segmentFill(obj, origin.PriorityPrefetch, true))
	if err != nil {
		return err
	}
	defer h.Close()
	if h.Complete() {
		return nil
	}
	rd := h.Reader()
	defer rd.Close()
	_, err = io.Copy(io.Discard, rd)
	return err
}
