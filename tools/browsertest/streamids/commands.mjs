// commands.mjs serializes p2p-media-loader data-channel commands with the real
// core code (2.3.1; 2.2.2's lib/p2p/commands is identical) for the super-peer's
// golden test (appliance/superpeer/testdata/commands.json). Run: npm run commands.
import { serializePeerCommand, deserializeCommand } from '../node_modules/p2pml23-hlsjs/node_modules/p2p-media-loader-core/lib/p2p/commands/index.js'

const many = Array.from({ length: 600 }, (_, i) => 1000 + i * 3)
const cases = [
  { name: 'announcement', max: 65535, c: { c: 0, l: [5, 6, 7, 300, 301], p: [302] } },
  { name: 'announcement loaded only', max: 65535, c: { c: 0, l: [0, 1, 2] } },
  { name: 'announcement empty', max: 65535, c: { c: 0, l: [], p: [] } },
  { name: 'announcement negative and large', max: 65535, c: { c: 0, l: [-5, -300, 4294967296, 9007199254740991] } },
  { name: 'announcement split', max: 64, c: { c: 0, l: many } },
  { name: 'request', max: 65535, c: { c: 1, i: 1234, r: 567 } },
  { name: 'request resume', max: 65535, c: { c: 1, i: 1234, r: 567, b: 65535 } },
  { name: 'data', max: 65535, c: { c: 2, i: 99, r: 0, s: 1048576 } },
  { name: 'done', max: 65535, c: { c: 3, i: 0, r: 999 } },
  { name: 'absent', max: 65535, c: { c: 4, i: -1, r: 128 } },
  { name: 'cancel', max: 65535, c: { c: 5, i: 255, r: 256 } }
]
const hex = b => Buffer.from(b).toString('hex')
const out = cases.map(({ name, max, c }) => {
  const chunks = serializePeerCommand(c, max).map(hex)
  const joined = Buffer.concat(serializePeerCommand(c, max).map(b => Buffer.from(b.slice(4, b.length - 4))))
  return { name, max, command: c, chunks, decoded: deserializeCommand(joined) }
})
process.stdout.write(JSON.stringify({ source: 'p2p-media-loader-core 2.3.1 lib/p2p/commands (tools/browsertest/streamids/commands.mjs)', cases: out }, null, 1) + '\n')
