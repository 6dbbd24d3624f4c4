// drive.mjs opens the box's p2p test page in headless Chromium, several pages
// at once, lets them play, and prints what each page's p2p-media-loader
// reported (window.outpostTest) as one JSON object on stdout.
//
// Usage: node page/drive.mjs '{"url":"http://127.0.0.1:8080/sdk/test.html?v=23",
//   "pages":3,"seconds":40,"staggerMs":2000,"insecure":false}'
// With "mesh":{"poison":[0],"hls":{"2":{"liveSyncDurationCount":5}}} every page
// also runs page/mesh-init.js (peer ids that tell pages apart, per-peer
// p2p-media-loader events in window.outpostMesh), the listed pages corrupt the
// segment bytes they upload to other browsers, and pages get the given hls.js
// settings.
// Run it inside a network namespace whose only interface is lo (see
// /work/shared/notes/browser-webrtc-tests.md): Chromium offers 127.0.0.1 ICE
// candidates only with --allow-loopback-in-peer-connection and camera and
// microphone permission.
import { readFileSync } from 'node:fs'
import { chromium } from 'playwright-core'

const opts = JSON.parse(process.argv[2])
const args = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'
]
if (opts.insecure) args.push('--ignore-certificate-errors')
const browser = await chromium.launch({
  executablePath: opts.chromium || '/usr/bin/chromium',
  args,
  timeout: 30000
})
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const logs = []
const meshInit = opts.mesh ? readFileSync(new URL('./mesh-init.js', import.meta.url), 'utf8').trim().replace(/;$/, '') : ''
try {
  const pages = []
  for (let i = 0; i < opts.pages; i++) {
    const ctx = await browser.newContext({ permissions: ['camera', 'microphone'], ignoreHTTPSErrors: !!opts.insecure })
    if (opts.mesh) {
      const arg = { index: i, poison: (opts.mesh.poison || []).includes(i), hls: (opts.mesh.hls || {})[i] || {} }
      await ctx.addInitScript({ content: `${meshInit}(${JSON.stringify(arg)});` })
    }
    const page = await ctx.newPage()
    page.on('pageerror', e => logs.push(`page ${i}: ${e}`))
    page.on('response', r => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) logs.push(`page ${i}: ${r.status()} ${r.url()}`) })
    await page.goto(opts.url, { timeout: 15000 })
    pages.push(page)
    if (i < opts.pages - 1) await sleep(opts.staggerMs || 0)
  }
  await sleep(opts.seconds * 1000)
  const results = []
  for (const page of pages) {
    results.push(await page.evaluate(() => {
      const t = window.outpostTest
      t.currentTime = document.getElementById('video').currentTime
      if (window.outpostMesh) t.mesh = window.outpostMesh
      return t
    }))
  }
  console.log(JSON.stringify({ pages: results, logs: logs.slice(0, 20) }))
} finally {
  await browser.close()
}
