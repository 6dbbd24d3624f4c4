// capture.mjs records the WebSocket traffic between the real npm bittorrent-tracker
// client (11.x, as p2p-media-loader uses it) and the real npm bittorrent-tracker
// server, for the Go tracker's golden tests (appliance/tracker/testdata).
//
// Run: npm run capture  (bundles this file with esbuild, replacing
// 'webrtc-polyfill' with ./fake-wrtc.js, and writes the JSON to stdout).
//
// Every event is {conn, dir, msg}: conn names the client socket, dir is "in"
// (client -> server) or "out" (server -> client), msg is the frame text exactly as
// sent; dir "close" marks the client closing its socket. The Go test replays the "in" frames in order and expects the "out" frames.
import Client from 'bittorrent-tracker/client'
import Server from 'bittorrent-tracker/server'
import WebSocket from 'ws'

const events = []
const conns = new Map()

const server = new Server({ udp: false, http: false, ws: true, stats: false })
const origConn = server.onWebSocketConnection.bind(server)
server.onWebSocketConnection = (socket, opts) => {
  const name = `conn${conns.size + 1}`
  conns.set(socket, name)
  socket.on('message', data => events.push({ conn: name, dir: 'in', msg: data.toString() }))
  socket.on('close', () => events.push({ conn: name, dir: 'close' }))
  const send = socket.send.bind(socket)
  socket.send = (msg, cb) => {
    events.push({ conn: name, dir: 'out', msg })
    return send(msg, cb)
  }
  return origConn(socket, opts)
}
server.on('warning', () => {})

await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
const port = server.ws.address().port

function waitFor (pred, what) {
  return new Promise((resolve, reject) => {
    let n = 0
    const t = setInterval(() => {
      if (pred()) { clearInterval(t); resolve() } else if (++n > 500) { clearInterval(t); reject(new Error('timeout waiting for ' + what)) }
    }, 10)
  })
}
const count = (conn, dir, re) => events.filter(e => e.conn === conn && e.dir === dir && re.test(e.msg)).length

const enc = s => new TextEncoder().encode(s)
// p2p-media-loader style ids: ASCII info hash (base64 of 15 hash bytes) and peer id.
const ihP2PML = enc('pAqoVfCG4RXgVy1Fqh1S')
const peerA = enc('-PM0203-aB3dE5fG7hI9')
const peerB = enc('-PM0203-Zz9yX8wV7uT6')
// WebTorrent style: 20 raw bytes, including control and high code points.
const ihBinary = Uint8Array.from([0x00, 0x01, 0x1f, 0x22, 0x5c, 0x7f, 0x80, 0x9f, 0xa0, 0xc3, 0xe9, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xfe])

const mk = (infoHash, peerId, announce) => {
  const c = new Client({ infoHash, peerId, announce: [announce], port: 6881 })
  c.on('warning', () => {})
  c.on('error', () => {})
  c.on('peer', () => {})
  return c
}
const urlA = `ws://127.0.0.1:${port}`
const urlB = `ws://127.0.0.1:${port}/announce`

// conn1: peer A joins two swarms over one socket (as main + secondary streams do).
const a1 = mk(ihP2PML, peerA, urlA)
a1.start()
await waitFor(() => count('conn1', 'out', /"interval"/) === 1, 'A1 started')
const a2 = mk(ihBinary, peerA, urlA)
a2.start()
await waitFor(() => count('conn1', 'out', /"interval"/) === 2, 'A2 started')

// conn2: peer B joins the p2pml swarm; its first offer goes to A, A answers.
const b1 = mk(ihP2PML, peerB, urlB)
b1.start()
await waitFor(() => count('conn2', 'out', /"answer"/) === 1, 'answer relayed to B')

// B scrapes both swarms, then one.
b1.scrape({ infoHash: [Buffer.from(ihP2PML).toString('hex'), Buffer.from(ihBinary).toString('hex')] })
await waitFor(() => count('conn2', 'out', /"scrape"/) === 1, 'scrape')
b1.scrape()
await waitFor(() => count('conn2', 'out', /"scrape"/) === 2, 'scrape one')

// A completes the binary swarm, then stops the p2pml one.
a2.complete()
await waitFor(() => count('conn1', 'out', /"interval"/) === 3, 'A2 completed')
a1.stop()
await waitFor(() => count('conn1', 'out', /"interval"/) === 4, 'A1 stopped')

// B announces again (update, with fresh offers): nobody else is left in the swarm.
b1.update()
await waitFor(() => count('conn2', 'out', /"interval"/) === 2, 'B update')

// conn3: raw frames a broken or hostile client could send.
const raw = new WebSocket(urlA)
await new Promise(resolve => raw.once('open', resolve))
const bad = [
  '{"action":"announce","info_hash":"short","peer_id":"-PM0203-aB3dE5fG7hI9"}',
  '{"action":"announce","info_hash":"pAqoVfCG4RXgVy1Fqh1S","peer_id":"x"}',
  '{"action":"announce","info_hash":"pAqoVfCG4RXgVy1Fqh1S","peer_id":"-PM0203-aB3dE5fG7hI9","answer":{"type":"answer","sdp":"v=0"},"offer_id":"0123456789abcdefghij"}',
  '{"action":"dance"}',
  '{"action":"scrape","info_hash":["pAqoVfCG4RXgVy1Fqh1S",5]}'
]
for (const [i, m] of bad.entries()) {
  raw.send(m)
  await waitFor(() => count('conn3', 'out', /failure reason/) === i + 1, 'failure ' + i)
}
raw.close()

// B goes away: closing the socket means "stopped" for all its swarms; a scrape
// from a fresh socket sees the result.
b1.destroy()
await waitFor(() => server.torrents[Buffer.from(ihP2PML).toString('hex')].peers.length === 0, 'B gone')
const raw2 = new WebSocket(urlA)
await new Promise(resolve => raw2.once('open', resolve))
raw2.send(JSON.stringify({ action: 'scrape', info_hash: new TextDecoder('latin1').decode(ihP2PML) }))
await waitFor(() => count('conn4', 'out', /scrape/) === 1, 'final scrape')
raw2.close()

server.close()
process.stdout.write(JSON.stringify({
  source: 'npm bittorrent-tracker@11.2.3 client and server (tools/browsertest/capture/capture.mjs)',
  events
}, null, 1) + '\n')
process.exit(0)
