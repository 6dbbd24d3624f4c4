// gen.mjs computes, with the real npm packages' code, the swarm ids and tracker
// info hashes that p2p-media-loader 2.2.x and 2.3.x pages derive for each
// variant and audio rendition of a multivariant playlist. Its output is the
// golden file of appliance/superpeer (testdata/streamids.json).
//
// Run: npm run streamids. The pipeline is the browser's: hls.js's M3U8Parser (and
// its playlist-loader's "embedded main audio" rule) builds MANIFEST_LOADED data,
// each version's SegmentManager.processMainManifest turns it into streams, and
// each core's getStreamSwarmId/getStreamHash (lib/utils/stream.js, peer.js) names
// them. esbuild bundles it, replacing 'webrtc-polyfill' (unused here).
import fs from 'node:fs'
import path from 'node:path'
import { M3U8Parser, AttrList } from 'hls.js'
import { SegmentManager as SM22 } from '../node_modules/p2pml22-hlsjs/lib/segment-mananger.js'
import { SegmentManager as SM23 } from '../node_modules/p2pml23-hlsjs/lib/segment-manager.js'
import * as stream22 from '../node_modules/p2pml22-core/lib/utils/stream.js'
import * as peer22 from '../node_modules/p2pml22-core/lib/utils/peer.js'
import * as stream23 from '../node_modules/p2pml23-hlsjs/node_modules/p2p-media-loader-core/lib/utils/stream.js'
import * as peer23 from '../node_modules/p2pml23-hlsjs/node_modules/p2p-media-loader-core/lib/utils/peer.js'

const dir = process.argv[2]

// manifestLoaded mirrors hls.js PlaylistLoader's handling of a multivariant
// playlist up to the MANIFEST_LOADED event that p2p-media-loader listens to.
function manifestLoaded (text, url) {
  const parsed = M3U8Parser.parseMasterPlaylist(text, url)
  const levels = parsed.levels
  const { AUDIO: audioTracks = [] } = M3U8Parser.parseMasterPlaylistMedia(text, url, parsed)
  if (audioTracks.length) {
    const embeddedAudioFound = audioTracks.some(t => !t.url)
    if (!embeddedAudioFound && levels[0].audioCodec && !levels[0].attrs.AUDIO) {
      audioTracks.unshift({ type: 'main', name: 'main', groupId: 'main', default: false, autoselect: false,
        forced: false, id: -1, attrs: new AttrList({}), bitrate: 0, url: '' })
    }
  }
  return { levels, audioTracks }
}

function streams (SegmentManager, data) {
  const out = []
  const core = {
    addStreamIfNoneExists (s) {
      if (!out.some(x => x.runtimeId === s.runtimeId)) out.push(s)
    }
  }
  new SegmentManager(core).processMainManifest(data)
  return out
}

const manifests = [
  'http://127.0.0.1:8080/o/demo/live/master.m3u8',
  'https://box.branch-042.corp.example:8443/o/demo/live/master.m3u8?token=x'
]
const cases = []
for (const file of fs.readdirSync(dir).filter(f => f.endsWith('.m3u8')).sort()) {
  const text = fs.readFileSync(path.join(dir, file), 'utf8')
  for (const responseUrl of manifests) {
    const swarmId = responseUrl.split('?')[0] // core.setManifestResponseUrl
    const data = manifestLoaded(text, responseUrl)
    const versions = {}
    for (const [name, SM, st, pe] of [['2.2.2', SM22, stream22, peer22], ['2.3.1', SM23, stream23, peer23]]) {
      versions[name] = streams(SM, data).map(s => {
        const streamSwarmId = st.getStreamSwarmId(swarmId, s)
        return { type: s.type, index: String(s.index), url: s.runtimeId, streamSwarmId, infoHash: pe.getStreamHash(streamSwarmId) }
      })
    }
    cases.push({ playlist: file, manifestUrl: responseUrl, swarmId, versions })
  }
}
process.stdout.write(JSON.stringify({
  source: 'hls.js 1.7.4 + p2p-media-loader-hlsjs/core 2.2.2 and 2.3.1 (tools/browsertest/streamids/gen.mjs)',
  cases
}, null, 1) + '\n')
