package superpeer

import (
	"context"
	"sync"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/tracker"
	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"
)

// Backpressure: stop writing above highWater buffered bytes, resume when the
// data channel reports it drained below lowWater.
const (
	highWater = 1 << 20
	lowWater  = 256 << 10
)

// peerConn is one browser connected to the box over WebRTC.
type peerConn struct {
	s      *Server
	sw     *swarm
	remote tracker.ID
	pc     *webrtc.PeerConnection
	limit  *rate.Limiter // nil: unlimited

	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once

	mu       sync.Mutex
	dc       *webrtc.DataChannel
	joiner   Joiner
	upload   *upload // the one upload in progress
	requests chan Command
	low      chan struct{}
	timer    *time.Timer
}

type upload struct {
	requestID int64
	cancel    context.CancelFunc
}

func newPeerConn(s *Server, sw *swarm, remote tracker.ID, pc *webrtc.PeerConnection) *peerConn {
	ctx, cancel := context.WithCancel(s.ctx)
	p := &peerConn{s: s, sw: sw, remote: remote, pc: pc, ctx: ctx, cancel: cancel,
		requests: make(chan Command, 1), low: make(chan struct{}, 1)}
	if bps := s.cfg.PeerUploadBytesPerSecond; bps > 0 {
		p.limit = rate.NewLimiter(rate.Limit(bps), max(int(bps), 2*MaxMessageSize))
	}
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateDisconnected:
			go p.close()
		}
	})
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		p.mu.Lock()
		if p.dc != nil { // p2p-media-loader opens exactly one channel
			p.mu.Unlock()
			dc.Close()
			return
		}
		p.dc = dc
		p.mu.Unlock()
		dc.SetBufferedAmountLowThreshold(lowWater)
		dc.OnBufferedAmountLow(func() {
			select {
			case p.low <- struct{}{}:
			default:
			}
		})
		dc.OnOpen(p.opened)
		dc.OnClose(func() { go p.close() })
		dc.OnMessage(p.onMessage)
	})
	return p
}

// armTimeout closes the connection if no data channel opens in time.
func (p *peerConn) armTimeout(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timer = time.AfterFunc(d, func() {
		p.mu.Lock()
		open := p.dc != nil && p.dc.ReadyState() == webrtc.DataChannelStateOpen
		p.mu.Unlock()
		if !open {
			p.close()
		}
	})
}

func (p *peerConn) opened() {
	p.mu.Lock()
	if p.timer != nil {
		p.timer.Stop()
	}
	p.mu.Unlock()
	p.s.wg.Add(1)
	go func() {
		defer p.s.wg.Done()
		p.uploadLoop()
	}()
	p.announce()
	p.s.pollNow(p.sw.m)
}

func (p *peerConn) close() {
	p.once.Do(func() {
		p.cancel()
		p.mu.Lock()
		if p.timer != nil {
			p.timer.Stop()
		}
		p.mu.Unlock()
		p.s.removePeer(p)
		p.pc.Close()
	})
}

// send writes framed command messages.
func (p *peerConn) send(c Command) bool {
	p.mu.Lock()
	dc := p.dc
	p.mu.Unlock()
	if dc == nil {
		return false
	}
	for _, m := range c.Encode(MaxMessageSize) {
		if err := dc.Send(m); err != nil {
			return false
		}
	}
	return true
}

func (p *peerConn) announce() { p.send(p.s.announcement(p.sw)) }

// onMessage handles one data-channel message from the browser.
func (p *peerConn) onMessage(msg webrtc.DataChannelMessage) {
	if msg.IsString || !IsCommandChunk(msg.Data) {
		return // segment bytes: the box never downloads from browsers
	}
	p.mu.Lock()
	raw, done, err := p.joiner.Add(msg.Data)
	p.mu.Unlock()
	if err != nil || !done {
		return
	}
	c, err := ParseCommand(raw)
	if err != nil {
		p.s.failures.Add(1)
		return
	}
	switch c.Type {
	case CmdRequest:
		// A new request replaces whatever is being uploaded (peer-protocol.js
		// stops its upload the same way).
		p.stopUpload(-1)
		select {
		case <-p.requests:
		default:
		}
		p.requests <- c
	case CmdCancel:
		p.s.cancels.Add(1)
		p.stopUpload(c.RequestID)
	}
}

// stopUpload cancels the current upload (only if it is for requestID, unless -1).
func (p *peerConn) stopUpload(requestID int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.upload != nil && (requestID == -1 || p.upload.requestID == requestID) {
		p.upload.cancel()
		p.upload = nil
	}
}

func (p *peerConn) uploadLoop() {
	for {
		select {
		case <-p.ctx.Done():
			return
		case c := <-p.requests:
			p.serve(c)
		}
	}
}

// serve answers one request: data + chunks + done, or absent.
func (p *peerConn) serve(c Command) {
	p.s.active.Add(1)
	defer p.s.active.Add(-1)
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	p.mu.Lock()
	p.upload = &upload{requestID: c.RequestID, cancel: cancel}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.upload != nil && p.upload.requestID == c.RequestID {
			p.upload = nil
		}
		p.mu.Unlock()
	}()
	absent := Command{Type: CmdAbsent, Segment: c.Segment, RequestID: c.RequestID}
	path, ok := p.s.segmentPath(p.sw, c.Segment)
	if !ok {
		p.s.absent.Add(1)
		p.send(absent)
		return
	}
	fctx, fcancel := context.WithTimeout(ctx, 30*time.Second)
	data, err := p.s.segment(fctx, path)
	fcancel()
	if err != nil || c.Byte < 0 || c.Byte > int64(len(data)) {
		p.s.absent.Add(1)
		p.send(absent)
		return
	}
	data = data[c.Byte:]
	if !p.send(Command{Type: CmdData, Segment: c.Segment, RequestID: c.RequestID, Size: int64(len(data))}) {
		return
	}
	p.mu.Lock()
	dc := p.dc
	p.mu.Unlock()
	ok = true
	safeChunks(data, MaxMessageSize, func(chunk []byte) bool {
		for dc.BufferedAmount() > highWater {
			select {
			case <-p.low:
			case <-ctx.Done():
				ok = false
				return false
			}
		}
		for _, l := range []*rate.Limiter{p.limit, p.s.total} {
			if l != nil && l.WaitN(ctx, len(chunk)) != nil {
				ok = false
				return false
			}
		}
		if ctx.Err() != nil || dc.Send(chunk) != nil {
			ok = false
			return false
		}
		p.s.uploadBytes.Add(int64(len(chunk)))
		return true
	})
	if !ok {
		return
	}
	p.s.uploads.Add(1)
	p.send(Command{Type: CmdDone, Segment: c.Segment, RequestID: c.RequestID})
}
