package superpeer

import (
	"context"
	"net/url"
	"slices"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/hls"
	"github.com/outpost-ecdn/outpost/appliance/tracker"
)

// warmAhead is how many of the newest live segments the box fills itself when
// it does not hold them yet (they are announced as loading meanwhile).
const warmAhead = 3

// pollLoop keeps the segment windows of watched media playlists current and
// lets idle streams go.
func (s *Server) pollLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-tick.C:
			s.pollDue(now)
			s.expire(now)
		}
	}
}

func (s *Server) pollDue(now time.Time) {
	s.mu.Lock()
	var due []*media
	watched := map[*media]bool{}
	for _, sw := range s.swarms {
		if len(sw.peers) > 0 {
			watched[sw.m] = true
		}
	}
	for m := range watched {
		if !m.polling && !now.Before(m.nextPoll) {
			m.polling = true
			due = append(due, m)
		}
	}
	s.mu.Unlock()
	for _, m := range due {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.poll(m)
		}()
	}
}

// pollNow makes m's window current soon (a peer just connected).
func (s *Server) pollNow(m *media) {
	s.mu.Lock()
	m.nextPoll = time.Time{}
	s.mu.Unlock()
	s.pollDue(time.Now())
}

// poll reads m's media playlist and announces a changed window to m's peers.
func (s *Server) poll(m *media) {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	next := 2 * time.Second
	defer func() {
		s.mu.Lock()
		m.polling = false
		m.nextPoll = time.Now().Add(next)
		s.mu.Unlock()
	}()
	body, err := s.cfg.Source.Fetch(ctx, m.path)
	if err != nil {
		s.cfg.Logger.Debug("super-peer playlist poll failed", "path", m.path, "err", err)
		return
	}
	pl, err := hls.ParseMedia(body)
	if err != nil {
		s.cfg.Logger.Debug("super-peer playlist unparsable", "path", m.path, "err", err)
		return
	}
	live := !pl.Ended
	if live {
		next = max(pl.TargetDuration/2, 500*time.Millisecond)
	} else {
		next = time.Minute
	}
	base, _ := url.Parse(boxURL(m.path))
	window := map[int64]string{}
	var order, loaded, loading []int64
	var warm []string
	for i, seg := range pl.Segments {
		u, err := url.Parse(seg.URI)
		if err != nil || seg.Gap {
			continue
		}
		id := int64(i) // hls.js: externalId = live ? sn : index
		if live {
			id = int64(seg.Sequence)
		}
		p := base.ResolveReference(u).RequestURI()
		window[id] = p
		order = append(order, id)
		if s.cfg.Source.Cached(p) {
			loaded = append(loaded, id)
		} else if live && i >= len(pl.Segments)-warmAhead {
			loading = append(loading, id)
			warm = append(warm, p)
		}
	}
	s.mu.Lock()
	changed := !slices.Equal(loaded, m.loaded) || !slices.Equal(loading, m.loading)
	m.live, m.window, m.order, m.loaded, m.loading = live, window, order, loaded, loading
	var peers []*peerConn
	if changed {
		for _, sw := range s.swarms {
			if sw.m == m {
				for p := range sw.peers {
					peers = append(peers, p)
				}
			}
		}
	}
	var start []string
	for _, p := range warm {
		if !m.warming[p] {
			m.warming[p] = true
			start = append(start, p)
		}
	}
	s.mu.Unlock()
	for _, p := range start {
		s.warms.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			wctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
			defer cancel()
			if _, err := s.segment(wctx, p); err != nil {
				s.cfg.Logger.Debug("super-peer segment fill failed", "path", p, "err", err)
			}
			s.mu.Lock()
			delete(m.warming, p)
			m.nextPoll = time.Time{} // announce it as loaded on the next tick
			s.mu.Unlock()
		}()
	}
	for _, p := range peers {
		p.announce()
	}
}

// expire leaves the swarms of streams nobody asked for lately and nobody peers in.
func (s *Server) expire(now time.Time) {
	var leave []tracker.ID
	s.mu.Lock()
	for id, st := range s.streams {
		if now.Sub(st.lastSeen) < s.cfg.StreamIdle {
			continue
		}
		busy := false
		for _, sw := range st.swarms {
			busy = busy || len(sw.peers) > 0
		}
		if busy {
			continue
		}
		for _, sw := range st.swarms {
			delete(s.swarms, sw.ss.InfoHash)
			leave = append(leave, sw.ss.InfoHash)
		}
		delete(s.streams, id)
	}
	used := map[*media]bool{}
	for _, sw := range s.swarms {
		used[sw.m] = true
	}
	for p, m := range s.media {
		if !used[m] {
			delete(s.media, p)
		}
	}
	s.mu.Unlock()
	for _, ih := range leave {
		s.client.Announce(s.ctx, tracker.Announce{InfoHash: ih, Event: "stopped"})
	}
}
