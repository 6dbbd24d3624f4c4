// Player bundle for the box's test page (/sdk/test.html?v=22): hls.js and
// p2p-media-loader-hlsjs 2.2.x as globals. Built by the Go browser test
// (appliance/cmd/outpostd/p2p_browser_linux_test.go) or `npm run bundle`.
import Hls from 'hls.js'
import { HlsJsP2PEngine } from 'p2pml22-hlsjs'

window.Hls = Hls
window.HlsJsP2PEngine = HlsJsP2PEngine
