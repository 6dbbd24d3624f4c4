// mesh-init.js is injected by drive.mjs (playwright addInitScript) into every
// page of a mesh run, before the page's own scripts. It is a function of
// { index, poison, hls } and
//  - gives the page's p2p-media-loader a recognisable tracker peer id
//    ("-PM23H<i>-..." honest, "-PM23X<i>-..." poisoning; the box is "-OP...")
//    through the core option trackerClientVersionPrefix, and records the
//    engine's own events per peer id in window.outpostMesh, using the
//    documented p2p.onHlsJsCreated hook of p2p-media-loader-hlsjs;
//  - on the poisoning page only, corrupts every segment-data message the page
//    sends on its WebRTC data channels (RTCDataChannel.prototype.send). The
//    p2p-media-loader protocol sends commands framed "cstr"/"dstr" ... "cend"/
//    "dend" and segment bytes as raw chunks; raw chunks get bytes flipped,
//    keeping their length, so only a content check (validateP2PSegment against
//    the box's hashes) can catch them;
//  - merges hls (hls.js settings, e.g. liveSyncDurationCount) into the
//    player's config: viewers that sit at different delays behind the live
//    edge, as real ones do.
(({ index, poison, hls }) => {
  const m = window.outpostMesh = {
    index, poison, prefix: `-PM23${poison ? 'X' : 'H'}${index}-`,
    // Received by this page, per uploader peer id.
    loadedFrom: {}, bytesFrom: {}, errorsFrom: {}, errorTypes: {},
    // Sent by this page (p2p-media-loader's onChunkUploaded), per downloader.
    uploadedTo: {},
    // Poisoning page: data-channel messages and segment uploads it corrupted;
    // corruptedSegmentsSent counts uploads it sent in full (followed by the
    // SegmentDataSendingCompleted command).
    corruptedChunks: 0, corruptedBytes: 0, corruptedSegments: 0, corruptedSegmentsSent: 0
  }
  const add = (o, k, n) => { o[k] = (o[k] || 0) + n }

  if (poison) {
    const frame = (b, at, names) => names.some(s => [...s].every((c, i) => b[at + i] === c.charCodeAt(0)))
    const isCommand = b => b.length >= 8 && frame(b, 0, ['cstr', 'dstr']) && frame(b, b.length - 4, ['cend', 'dend'])
    const send = RTCDataChannel.prototype.send
    RTCDataChannel.prototype.send = function (data) {
      let b = null
      if (data instanceof ArrayBuffer) b = new Uint8Array(data)
      else if (ArrayBuffer.isView(data)) b = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      if (!b) return send.call(this, data)
      if (isCommand(b)) {
        // The byte after "cstr" is the command type; 3 is SegmentDataSendingCompleted.
        if (this.__outpostInSegment && frame(b, 0, ['cstr']) && b[4] === 3) m.corruptedSegmentsSent++
        this.__outpostInSegment = false
        return send.call(this, data)
      }
      if (!this.__outpostInSegment) {
        this.__outpostInSegment = true
        m.corruptedSegments++
      }
      const bad = new Uint8Array(b) // a copy: the page's own storage stays intact
      for (let i = 0; i < bad.length; i += 188) bad[i] ^= 0xff
      m.corruptedChunks++
      m.corruptedBytes += bad.length
      return send.call(this, bad)
    }
  }

  const hook = engine => {
    engine.addEventListener('onSegmentLoaded', d => {
      if (d.downloadSource === 'p2p') add(m.loadedFrom, d.peerId, 1)
    })
    engine.addEventListener('onChunkDownloaded', (n, source, peerId) => {
      if (source === 'p2p') add(m.bytesFrom, peerId, n)
    })
    engine.addEventListener('onSegmentError', d => {
      if (d.downloadSource !== 'p2p') return
      const type = (d.error && d.error.type) || String(d.error)
      m.errorsFrom[d.peerId] = m.errorsFrom[d.peerId] || {}
      add(m.errorsFrom[d.peerId], type, 1)
      add(m.errorTypes, type, 1)
    })
    engine.addEventListener('onChunkUploaded', (n, peerId) => add(m.uploadedTo, peerId, n))
  }

  // test.html does window.HlsJsP2PEngine.injectMixin(window.Hls): wrap the
  // class the player bundle assigns so each player gets the prefix and hook.
  let Engine
  Object.defineProperty(window, 'HlsJsP2PEngine', {
    configurable: true,
    get: () => Engine,
    set: E => {
      Engine = E
      const inject = E.injectMixin.bind(E)
      E.injectMixin = Hls => {
        const HlsWithP2P = inject(Hls)
        return class extends HlsWithP2P {
          constructor (cfg = {}) {
            const p2p = Object.assign({}, cfg.p2p)
            p2p.core = Object.assign({}, p2p.core, { trackerClientVersionPrefix: m.prefix })
            const created = p2p.onHlsJsCreated
            p2p.onHlsJsCreated = hls => { hook(hls.p2pEngine); if (created) created(hls) }
            super(Object.assign({}, cfg, hls, { p2p }))
          }
        }
      }
    }
  })
})
