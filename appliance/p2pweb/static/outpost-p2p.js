/*
 * outpost-p2p.js — served by an Outpost box at /sdk/outpost-p2p.js.
 *
 * Sets up p2p-media-loader (hls.js integration, 2.2.x and 2.3.x) to use the box
 * that served this script: its WebTorrent tracker (ws:// or wss:// like this
 * script's URL), no STUN/TURN, time windows chosen by the box for the stream,
 * and a validateP2PSegment that checks every segment received from a peer
 * against the SHA-256 the box recorded when it fetched it from the origin.
 *
 *   <script src="https://outpost.example:8443/sdk/outpost-p2p.js"></script>
 *   const src = "https://outpost.example:8443/o/tv/live/master.m3u8";
 *   const core = await OutpostP2P.coreConfig(src);
 *   const HlsWithP2P = HlsJsP2PEngine.injectMixin(Hls);
 *   const hls = new HlsWithP2P({ p2p: { core } });
 *   hls.loadSource(src); hls.attachMedia(video);
 *
 * or OutpostP2P.createHls(Hls, HlsJsP2PEngine, src, hlsConfig) for the same.
 * No dependencies; plain ES2017.
 */
(function (global) {
  "use strict";
  var script = global.document && global.document.currentScript;
  var defaultBox = script && script.src ? new URL(script.src).origin : global.location.origin;

  function boxOrigin(opts) {
    return (opts && opts.box) ? new URL(opts.box).origin : defaultBox;
  }

  // trackerURL is the box's /announce, wss:// when the box is reached over https.
  function trackerURL(box) {
    var u = new URL(box);
    return (u.protocol === "https:" ? "wss://" : "ws://") + u.host + "/announce";
  }

  // boxPath maps a URL the page loads from the box to the box path ("/o/...").
  function boxPath(url, box) {
    var u = new URL(url, global.location.href);
    if (u.origin !== new URL(box).origin || u.pathname.indexOf("/o/") !== 0) return null;
    return u.pathname + u.search;
  }

  function getJSON(url) {
    return fetch(url, { credentials: "omit", cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error(url + ": HTTP " + r.status);
      return r.json();
    });
  }

  // ---- SHA-256: crypto.subtle where the page is a secure context, else JS.
  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);

  function sha256JS(buf) {
    var data = new Uint8Array(buf), n = data.length;
    var padded = new Uint8Array(((n + 9 + 63) >> 6) << 6);
    padded.set(data);
    padded[n] = 0x80;
    var dv = new DataView(padded.buffer), bits = n * 8;
    dv.setUint32(padded.length - 8, Math.floor(bits / 0x100000000));
    dv.setUint32(padded.length - 4, bits >>> 0);
    var h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    var w = new Uint32Array(64);
    for (var off = 0; off < padded.length; off += 64) {
      for (var i = 0; i < 16; i++) w[i] = dv.getUint32(off + i * 4);
      for (i = 16; i < 64; i++) {
        var a = w[i - 15], b = w[i - 2];
        var s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        var s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      var A = h[0], B = h[1], C = h[2], D = h[3], E = h[4], F = h[5], G = h[6], H = h[7];
      for (i = 0; i < 64; i++) {
        var S1 = ((E >>> 6) | (E << 26)) ^ ((E >>> 11) | (E << 21)) ^ ((E >>> 25) | (E << 7));
        var t1 = (H + S1 + ((E & F) ^ (~E & G)) + K[i] + w[i]) | 0;
        var S0 = ((A >>> 2) | (A << 30)) ^ ((A >>> 13) | (A << 19)) ^ ((A >>> 22) | (A << 10));
        var t2 = (S0 + ((A & B) ^ (A & C) ^ (B & C))) | 0;
        H = G; G = F; F = E; E = (D + t1) | 0; D = C; C = B; B = A; A = (t1 + t2) | 0;
      }
      h[0] += A; h[1] += B; h[2] += C; h[3] += D; h[4] += E; h[5] += F; h[6] += G; h[7] += H;
    }
    var hex = "";
    for (i = 0; i < 8; i++) hex += ("00000000" + h[i].toString(16)).slice(-8);
    return hex;
  }

  function sha256(buf) {
    var subtle = global.crypto && global.crypto.subtle;
    if (!subtle) return Promise.resolve(sha256JS(buf));
    return subtle.digest("SHA-256", buf).then(function (d) {
      return Array.prototype.map.call(new Uint8Array(d), function (x) {
        return ("0" + x.toString(16)).slice(-2);
      }).join("");
    });
  }

  // validator checks a peer's segment against the box's record. A segment the
  // box has no hash for is refused: p2p-media-loader then fetches it over HTTP.
  function validator(box, stats) {
    return function (url, byteRange, data) {
      var p = boxPath(url, box);
      if (!p || byteRange) { stats.unverifiable++; return Promise.resolve(false); }
      var hashURL = box + "/api/v1/hashes" + p.slice(2); // "/o/x/y" -> "/api/v1/hashes/x/y"
      return Promise.all([getJSON(hashURL), sha256(data)]).then(function (r) {
        var ok = r[0].sha256 === r[1] && r[0].size === data.byteLength;
        if (ok) stats.verified++; else stats.rejected++;
        return ok;
      }, function () { stats.unverifiable++; return false; });
    };
  }

  var stats = { verified: 0, rejected: 0, unverifiable: 0 };

  // coreConfig returns p2p-media-loader core settings for the stream at
  // manifestURL (a box URL "/o/..."). opts.box overrides the box's origin.
  function coreConfig(manifestURL, opts) {
    var box = boxOrigin(opts);
    var q = box + "/api/v1/p2p/stream?url=" + encodeURIComponent(new URL(manifestURL, global.location.href).href);
    return getJSON(q).catch(function () { return {}; }).then(function (s) {
      var core = {
        announceTrackers: [trackerURL(box)],
        rtcConfig: { iceServers: [] },
        validateP2PSegment: validator(box, stats)
      };
      if (s.high_demand_time_window) core.highDemandTimeWindow = s.high_demand_time_window;
      if (s.http_download_time_window) core.httpDownloadTimeWindow = s.http_download_time_window;
      if (s.p2p_download_time_window) core.p2pDownloadTimeWindow = s.p2p_download_time_window;
      return core;
    });
  }

  // createHls builds an hls.js player with p2p-media-loader set up for the box.
  function createHls(Hls, HlsJsP2PEngine, manifestURL, hlsConfig, opts) {
    return coreConfig(manifestURL, opts).then(function (core) {
      var cfg = Object.assign({}, hlsConfig || {});
      cfg.p2p = Object.assign({}, cfg.p2p || {}, { core: Object.assign({}, core, (cfg.p2p && cfg.p2p.core) || {}) });
      var HlsWithP2P = HlsJsP2PEngine.injectMixin(Hls);
      return new HlsWithP2P(cfg);
    });
  }

  global.OutpostP2P = {
    box: defaultBox,
    trackerURL: function (opts) { return trackerURL(boxOrigin(opts)); },
    coreConfig: coreConfig,
    createHls: createHls,
    stats: stats,
    sha256: sha256,
    sha256JS: sha256JS
  };
})(typeof window !== "undefined" ? window : globalThis);
