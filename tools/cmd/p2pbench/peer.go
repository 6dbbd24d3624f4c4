package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pion/logging"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/outpost-ecdn/outpost/appliance/superpeer"
	"github.com/outpost-ecdn/outpost/appliance/tracker"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// peer is a pion peer playing a p2p-media-loader page's part: it offers through
// the tracker WebSocket, then downloads segments over the data channel.
type peer struct {
	pc  *webrtc.PeerConnection
	udp net.PacketConn
	dc  *webrtc.DataChannel

	bytes atomic.Int64 // segment bytes received
	mu    sync.Mutex
	j     superpeer.Joiner
	done  chan superpeer.Command // done or absent for the request in flight
}

func dialPeer(ctx context.Context, wsURL string, ih tracker.ID, n, udpBuffer int) (*peer, error) {
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if udpBuffer > 0 {
		udp.(*net.UDPConn).SetReadBuffer(udpBuffer)
		udp.(*net.UDPConn).SetWriteBuffer(udpBuffer)
	}
	// The client peers' pion logs (sockets closing at the end of a run) are noise here.
	quiet := logging.NewDefaultLoggerFactory()
	quiet.DefaultLogLevel = logging.LogLevelDisabled
	se := webrtc.SettingEngine{LoggerFactory: quiet}
	se.SetICEUDPMux(webrtc.NewICEUDPMux(nil, udp))
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		udp.Close()
		return nil, err
	}
	p := &peer{pc: pc, udp: udp, done: make(chan superpeer.Command, 4)}
	ok := false
	defer func() {
		if !ok {
			p.close()
		}
	}()
	if p.dc, err = pc.CreateDataChannel("p2pml", nil); err != nil {
		return nil, err
	}
	open := make(chan struct{})
	p.dc.OnOpen(func() { close(open) })
	p.dc.OnMessage(p.onMessage)
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return nil, err
	}
	<-gathered
	tr, err := tracker.DialWebSocket(ctx, wsURL, nil)
	if err != nil {
		return nil, fmt.Errorf("dial tracker: %w", err)
	}
	defer tr.Close()
	peerID, _ := tracker.IDFromString(fmt.Sprintf("-PM0203-%012d", n))
	offerID, _ := tracker.IDFromString(fmt.Sprintf("offer-%015d", n))
	cl := tracker.NewClient(tr, peerID)
	sdp, _ := json.Marshal(pc.LocalDescription())
	if err := cl.Announce(ctx, tracker.Announce{InfoHash: ih, Event: "started",
		Offers: []tracker.Offer{{Offer: sdp, OfferID: offerID}}}); err != nil {
		return nil, err
	}
	for {
		m, err := cl.Recv(ctx)
		if err != nil {
			return nil, fmt.Errorf("wait for answer: %w", err)
		}
		if m.Failure != "" {
			return nil, fmt.Errorf("tracker: %s", m.Failure)
		}
		if !m.IsAnswer() {
			continue
		}
		var ans webrtc.SessionDescription
		if err := json.Unmarshal(m.Answer, &ans); err != nil {
			return nil, err
		}
		if !strings.Contains(ans.SDP, "a=candidate") {
			return nil, errors.New("answer without candidates")
		}
		if err := pc.SetRemoteDescription(ans); err != nil {
			return nil, err
		}
		break
	}
	select {
	case <-open:
	case <-ctx.Done():
		return nil, fmt.Errorf("data channel: %w", ctx.Err())
	}
	ok = true
	return p, nil
}

func (p *peer) onMessage(m webrtc.DataChannelMessage) {
	if !superpeer.IsCommandChunk(m.Data) {
		p.bytes.Add(int64(len(m.Data)))
		return
	}
	p.mu.Lock()
	raw, done, err := p.j.Add(m.Data)
	p.mu.Unlock()
	if err != nil || !done {
		return
	}
	c, err := superpeer.ParseCommand(raw)
	if err != nil {
		return
	}
	if c.Type == superpeer.CmdDone || c.Type == superpeer.CmdAbsent {
		select {
		case p.done <- c:
		default:
		}
	}
}

// fetch requests segment id and waits until all of it arrived.
func (p *peer) fetch(ctx context.Context, id, requestID int64) error {
	for _, m := range (superpeer.Command{Type: superpeer.CmdRequest, Segment: id, RequestID: requestID}).Encode(superpeer.MaxMessageSize) {
		if err := p.dc.Send(m); err != nil {
			return err
		}
	}
	for {
		select {
		case c := <-p.done:
			if c.RequestID != requestID {
				continue
			}
			if c.Type == superpeer.CmdAbsent {
				return fmt.Errorf("segment %d absent", id)
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *peer) close() {
	p.pc.Close()
	p.udp.Close()
}
