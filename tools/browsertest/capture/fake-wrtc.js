// A deterministic stand-in for the 'webrtc-polyfill' package (whose node build
// needs node-datachannel's native binary). The tracker never looks inside an SDP,
// so offers and answers only have to look like what a browser sends: simple-peer
// drives this exactly like a real RTCPeerConnection (non-trickle: it waits for the
// end-of-candidates event before it signals).
let n = 0

function sdp (type) {
  n++
  return [
    'v=0',
    `o=- 46117317${String(n).padStart(4, '0')} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 0.0.0.0',
    `a=candidate:1 1 udp 2113937151 127.0.0.1 ${50000 + n} typ host generation 0 network-cost 999`,
    `a=ice-ufrag:u${String(n).padStart(3, '0')}`,
    'a=ice-pwd:fakefakefakefakefakefake',
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF',
    `a=setup:${type === 'offer' ? 'actpass' : 'active'}`,
    'a=mid:0',
    'a=sctp-port:5000',
    'a=max-message-size:262144',
    ''
  ].join('\r\n')
}

export class RTCSessionDescription {
  constructor (init) { this.type = init.type; this.sdp = init.sdp }
}

export class RTCIceCandidate {
  constructor (init) { Object.assign(this, init) }
}

class FakeChannel {
  constructor (label) {
    this.label = label
    this.readyState = 'connecting'
    this.bufferedAmount = 0
    this.bufferedAmountLowThreshold = 0
  }

  send () {}
  close () { this.readyState = 'closed' }
}

export class RTCPeerConnection {
  constructor (config) {
    this.config = config
    this.localDescription = null
    this.remoteDescription = null
    this.signalingState = 'stable'
    this.iceConnectionState = 'new'
    this.iceGatheringState = 'new'
    this.connectionState = 'new'
  }

  createDataChannel (label) { return new FakeChannel(label) }
  async createOffer () { return { type: 'offer', sdp: sdp('offer') } }
  async createAnswer () { return { type: 'answer', sdp: sdp('answer') } }
  async setLocalDescription (d) {
    this.localDescription = new RTCSessionDescription(d)
    setTimeout(() => {
      this.iceGatheringState = 'complete'
      this.onicegatheringstatechange?.()
      this.onicecandidate?.({ candidate: null })
    }, 0)
  }

  async setRemoteDescription (d) { this.remoteDescription = new RTCSessionDescription(d) }
  async addIceCandidate () {}
  getSenders () { return [] }
  getStats (cb) { return cb ? cb([]) : Promise.resolve(new Map()) }
  close () { this.connectionState = 'closed' }
}

export default { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate }
