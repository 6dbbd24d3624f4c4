package edge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/cache"
	"github.com/outpost-ecdn/outpost/appliance/hls"
	"github.com/outpost-ecdn/outpost/appliance/origin"
)

const playlistType = "application/vnd.apple.mpegurl"

// playlistTTL derives how long a playlist stays fresh and how long a stale copy may
// still be served while the origin is down.
func playlistTTL(kind hls.Kind, m *hls.Media) (ttl, stale time.Duration) {
	switch {
	case kind == hls.KindMultivariant:
		return 10 * time.Second, 10 * time.Minute
	case m != nil && m.Live():
		td := m.TargetDuration
		if td <= 0 {
			td = 2 * time.Second
		}
		// A quarter of a target duration: viewers see a new segment at most that late
		// (prefetch has fetched it already), for one small origin request per TTL.
		ttl = min(max(td/4, 200*time.Millisecond), 2*time.Second)
		return ttl, 3 * td
	default: // VOD or EVENT-complete: does not change
		return 5 * time.Minute, time.Hour
	}
}

// loadPlaylist fetches, bounds, parses and rewrites one playlist.
func (s *Server) loadPlaylist(ctx context.Context, obj object) (out []byte, kind hls.Kind, m *hls.Media, err error) {
	ctx = origin.WithPriority(ctx, origin.PriorityPlaylist)
	resp, err := s.Client.Get(ctx, obj.upstream)
	if err != nil {
		return nil, 0, nil, err
	}
	defer resp.Body.Close()
	limit := s.PlaylistMaxBytes
	if limit <= 0 {
		limit = 4 << 20
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, 0, nil, fmt.Errorf("read playlist %s: %w", obj.key(), err)
	}
	if int64(len(body)) > limit {
		return nil, 0, nil, fmt.Errorf("playlist %s: %w", obj.key(), ErrPlaylistTooLarge)
	}
	kind, err = hls.Detect(body)
	if err == nil {
		if kind == hls.KindMedia {
			m, err = hls.ParseMedia(body)
		} else {
			_, err = hls.ParseMultivariant(body)
		}
	}
	if err != nil {
		s.badLists.Add(1)
		s.log().Warn("origin sent an invalid playlist", "key", obj.key(), "err", err)
		return nil, 0, nil, fmt.Errorf("%w: %s: %v", ErrBadPlaylist, obj.key(), err)
	}
	out, err = hls.Rewrite(body, s.rewriter(obj.upstream))
	if err != nil {
		s.badLists.Add(1)
		return nil, 0, nil, fmt.Errorf("%w: rewrite %s: %v", ErrBadPlaylist, obj.key(), err)
	}
	return out, kind, m, nil
}

func (s *Server) playlistFill(obj object) cache.FillFunc {
	return func(ctx context.Context) (*cache.Source, error) {
		out, kind, m, err := s.loadPlaylist(ctx, obj)
		if err != nil {
			return nil, err
		}
		ttl, stale := playlistTTL(kind, m)
		if m != nil && m.Live() {
			s.rememberLive(obj, m)
		}
		return &cache.Source{Body: io.NopCloser(bytes.NewReader(out)), Size: int64(len(out)),
			ContentType: playlistType, TTL: ttl, StaleTTL: stale}, nil
	}
}

// segmentFill fetches a segment: from the owning sibling when viaSiblings and one
// owns it, else (or when the sibling fails) from the origin.
func (s *Server) segmentFill(obj object, prio origin.Priority, viaSiblings bool) cache.FillFunc {
	return func(ctx context.Context) (*cache.Source, error) {
		if viaSiblings && s.Siblings != nil {
			resp, ok, err := s.Siblings.Fetch(ctx, obj.key(), obj.origin, obj.withQuery())
			if ok && err == nil {
				s.siblingFills.Add(1)
				return &cache.Source{Body: resp.Body, Size: resp.ContentLength,
					ContentType: contentTypeFor(obj.path, resp.Header.Get("Content-Type"))}, nil
			}
			if ok {
				s.siblingErrors.Add(1)
				s.log().Warn("owner sibling failed; fetching from the origin", "key", obj.key(), "err", err)
			}
		}
		resp, err := s.Client.Get(origin.WithPriority(ctx, prio), obj.upstream)
		if err != nil {
			return nil, err
		}
		return &cache.Source{Body: resp.Body, Size: resp.ContentLength,
			ContentType: contentTypeFor(obj.path, resp.Header.Get("Content-Type"))}, nil
	}
}

// rewriter maps URIs of a playlist fetched from base: absolute and root-relative URIs
// that land under a configured origin become /o/{origin}/{path}; relative URIs are
// left alone (they already resolve below /o/{origin}/ on the box).
func (s *Server) rewriter(base *url.URL) func(string) (string, bool) {
	set := s.Origins()
	return func(uri string) (string, bool) {
		if !strings.HasPrefix(uri, "/") && !strings.Contains(uri, "://") {
			return "", false // relative
		}
		ref, err := url.Parse(uri)
		if err != nil {
			return "", false
		}
		abs := base.ResolveReference(ref)
		name, p, ok := set.Lookup(abs)
		if !ok {
			s.unmapped.Add(1)
			return "", false
		}
		out := "/o/" + name + "/" + p
		if abs.RawQuery != "" {
			out += "?" + abs.RawQuery
		}
		return out, true
	}
}
