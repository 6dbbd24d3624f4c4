package superpeer

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/outpost-ecdn/outpost/appliance/hls"
	"github.com/outpost-ecdn/outpost/appliance/tracker"
)

// Protocol is a p2p-media-loader line whose pages derive swarms their own way;
// pages of different lines never meet in a swarm.
type Protocol string

const (
	// Protocol22 is p2p-media-loader 2.2.x: a stream's index is its ordinal
	// position; info_hash = base64(MD5(streamSwarmId)[1:16]).
	Protocol22 Protocol = "2.2"
	// Protocol23 is p2p-media-loader 2.3.x: a stream's index is a hash of its
	// normalized attributes; info_hash = base64(SHA-1(streamSwarmId)[:15]).
	Protocol23 Protocol = "2.3"
)

// Protocols are the lines the box joins swarms for.
var Protocols = []Protocol{Protocol22, Protocol23}

// SwarmStream is one stream (variant or audio rendition) of a multivariant
// playlist as one p2p-media-loader line names it.
type SwarmStream struct {
	Protocol Protocol
	// Type is "main" (a variant) or "secondary" (an audio rendition).
	Type string
	// Index is the stream's index as the page computes it (decimal ordinal or hash).
	Index string
	// URL is the media playlist URL as the page resolves it ("" for the main
	// audio hls.js makes up for muxed audio; it has no segments of its own).
	URL string
	// SwarmID is the stream's swarm id: "v2-{swarmId}-{type}-{index}".
	SwarmID  string
	InfoHash tracker.ID
}

// SwarmIDFromURL is the swarm id a page uses by default: the manifest URL after
// redirects, without its query.
func SwarmIDFromURL(manifestURL string) string {
	s, _, _ := strings.Cut(manifestURL, "?")
	return s
}

// StreamsFor computes every stream's swarm for each protocol, exactly as hls.js's
// MANIFEST_LOADED data feeds p2p-media-loader-hlsjs's SegmentManager and the
// core names the swarms (see tools/browsertest/streamids/gen.mjs for the
// reference run). manifestURL resolves relative URIs; swarmID is usually
// SwarmIDFromURL(manifestURL) (or the page's swarmId option).
func StreamsFor(manifestURL, swarmID string, mv *hls.Multivariant) ([]SwarmStream, error) {
	base, err := url.Parse(manifestURL)
	if err != nil {
		return nil, err
	}
	levels, audio := manifestLoaded(base, mv)
	var out []SwarmStream
	for _, p := range Protocols {
		seen := map[string]bool{}
		add := func(typ, index, u string) {
			if seen[u] { // core.addStreamIfNoneExists: first stream of a URL wins
				return
			}
			seen[u] = true
			id := "v2-" + swarmID + "-" + typ + "-" + index
			out = append(out, SwarmStream{Protocol: p, Type: typ, Index: index, URL: u, SwarmID: id, InfoHash: streamHash(p, id)})
		}
		for i, l := range levels {
			index := strconv.Itoa(i)
			if p == Protocol23 {
				index = l.shortID()
			}
			add("main", index, l.url)
		}
		for i, a := range audio {
			index := strconv.Itoa(i)
			if p == Protocol23 {
				index = a.shortID()
			}
			add("secondary", index, a.url)
		}
	}
	return out, nil
}

// streamHash is getStreamHash of lib/utils/peer.js.
func streamHash(p Protocol, streamSwarmID string) tracker.ID {
	var raw []byte
	if p == Protocol22 {
		sum := md5.Sum([]byte(streamSwarmID))
		raw = sum[1:]
	} else {
		sum := sha1.Sum([]byte(streamSwarmID))
		raw = sum[:15]
	}
	id, _ := tracker.IDFromString(base64.StdEncoding.EncodeToString(raw))
	return id
}

// jsNum is a JavaScript number as hls.js produces it: parseInt may give NaN.
type jsNum struct {
	v   float64
	set bool // false: undefined
}

func (n jsNum) String() string {
	switch {
	case !n.set:
		return ""
	case math.IsNaN(n.v):
		return "NaN"
	case math.IsInf(n.v, 1):
		return "Infinity"
	}
	return jsNumberString(n.v)
}

// level is what p2p-media-loader reads of an hls.js LevelParsed.
type level struct {
	url                 string
	bitrate             jsNum
	width, height       jsNum
	videoCodec          string // "" = undefined
	audioCodec          string
	frameRate, videoRng string
	audioGroup          string
	hasAudioGroup       bool
}

// audioTrack is what it reads of an hls.js audio MediaPlaylist entry.
type audioTrack struct {
	url, codec, lang, channels, name string
}

func (l *level) shortID() string {
	missing := l.bitrate.set && l.bitrate.v == 0
	in := shortIDInput{bitrate: l.bitrate}
	if !missing {
		in.codecs, in.width, in.height, in.frameRate, in.videoRange = l.videoCodec, l.width, l.height, l.frameRate, l.videoRng
	}
	return in.id()
}

func (a *audioTrack) shortID() string {
	return shortIDInput{bitrate: jsNum{0, true}, codecs: a.codec, language: a.lang, channels: a.channels, name: a.name}.id()
}

// shortIDInput mirrors generateStreamShortId of p2p-media-loader-core 2.3
// (lib/utils/stream.js).
type shortIDInput struct {
	bitrate                  jsNum
	codecs                   string
	width, height            jsNum
	language, channels, name string
	frameRate, videoRange    string
}

func (s shortIDInput) id() string {
	var codecs []string
	if s.codecs != "" {
		for _, c := range strings.Split(s.codecs, ",") {
			codecs = append(codecs, normalizeCodec(strings.ToLower(strings.TrimSpace(c))))
		}
		sort.Strings(codecs)
	}
	lang := ""
	if s.language != "" && s.language != "und" {
		lang = strings.ToLower(jsSlice(s.language, 2))
	}
	channels, _, _ := strings.Cut(s.channels, "/")
	name := strings.TrimSpace(strings.ToLower(s.name))
	frameRate := ""
	if f, ok := jsNumber(s.frameRate); ok && s.frameRate != "" {
		frameRate = jsNumberString(f)
	}
	bitrate := s.bitrate.String()
	if !s.bitrate.set {
		bitrate = "0"
	}
	str := strings.Join([]string{bitrate, strings.Join(codecs, ","), s.width.String(), s.height.String(),
		lang, channels, name, frameRate, strings.TrimSpace(strings.ToUpper(s.videoRange))}, "-")
	sum := sha1.Sum([]byte(str))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// normalizeCodec turns decimal RFC 4281 avc1 codecs into hex: avc1.66.30 -> avc1.42001e.
func normalizeCodec(c string) string {
	parts := strings.Split(c, ".")
	if len(parts) != 3 || (parts[0] != "avc1" && parts[0] != "avc") {
		return c
	}
	profile, ok1 := jsParseInt(parts[1])
	lvl, ok2 := jsParseInt(parts[2])
	if !ok1 || !ok2 || parts[1] != strconv.FormatInt(profile, 10) || parts[2] != strconv.FormatInt(lvl, 10) {
		return c
	}
	hex := func(v int64) string {
		s := strconv.FormatInt(v, 16)
		for len(s) < 2 {
			s = "0" + s
		}
		return s
	}
	return parts[0] + "." + hex(profile) + "00" + hex(lvl)
}

var resolutionRE = regexp.MustCompile(`^(\d+)x(\d+)$`)

// manifestLoaded mirrors hls.js (1.x) M3U8Parser.parseMasterPlaylist and
// parseMasterPlaylistMedia plus its playlist-loader's made-up main audio track.
func manifestLoaded(base *url.URL, mv *hls.Multivariant) ([]level, []audioTrack) {
	var all, known []level
	for _, v := range mv.Variants {
		l := level{url: resolve(base, v.URI), frameRate: v.Attrs["FRAME-RATE"], videoRng: v.Attrs["VIDEO-RANGE"]}
		l.audioGroup, l.hasAudioGroup = v.Attrs["AUDIO"]
		bw := decimalInteger(v.Attrs, "BANDWIDTH")
		if !bw.set || bw.v == 0 || math.IsNaN(bw.v) {
			bw = decimalInteger(v.Attrs, "AVERAGE-BANDWIDTH")
		}
		l.bitrate = bw
		if m := resolutionRE.FindStringSubmatch(v.Attrs["RESOLUTION"]); m != nil {
			w, _ := strconv.ParseFloat(m[1], 64)
			h, _ := strconv.ParseFloat(m[2], 64)
			l.width, l.height = jsNum{w, true}, jsNum{h, true}
		}
		var video, audio, unknown []string
		for _, c := range strings.FieldsFunc(v.Attrs["CODECS"], func(r rune) bool { return r == ' ' || r == ',' }) {
			kind := codecKind(c)
			c, _, _ = strings.Cut(c, "/")
			switch kind {
			case "video":
				video = append(video, c)
			case "audio":
				audio = append(audio, c)
			case "":
				unknown = append(unknown, c)
			}
		}
		l.videoCodec = strings.Join(video, ",")
		l.audioCodec = strings.Join(audio, ",")
		all = append(all, l)
		if len(unknown) == 0 {
			known = append(known, l)
		}
	}
	levels := all
	if len(known) > 0 && len(known) < len(all) {
		levels = known
	}
	var tracks []audioTrack
	embedded := false
	for _, r := range mv.Renditions {
		if r.Type != "AUDIO" {
			continue
		}
		lang := r.Attrs["LANGUAGE"]
		name := r.Attrs["NAME"]
		if name == "" {
			name = lang
		}
		t := audioTrack{lang: lang, channels: r.Attrs["CHANNELS"], name: name}
		if r.URI != "" {
			t.url = resolve(base, r.URI)
		} else {
			embedded = true
		}
		if len(levels) > 0 {
			g := levels[0]
			for _, l := range levels {
				if l.hasAudioGroup && l.audioGroup == r.GroupID {
					g = l
					break
				}
			}
			t.codec = g.audioCodec
		}
		tracks = append(tracks, t)
	}
	if len(tracks) > 0 && !embedded && len(levels) > 0 && levels[0].audioCodec != "" && !levels[0].hasAudioGroup {
		tracks = append([]audioTrack{{name: "main"}}, tracks...)
	}
	return levels, tracks
}

func resolve(base *url.URL, ref string) string {
	u, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	return base.ResolveReference(u).String()
}

// decimalInteger is hls.js AttrList.decimalInteger: parseInt, NaN when absent.
func decimalInteger(attrs map[string]string, name string) jsNum {
	s, ok := attrs[name]
	if !ok {
		return jsNum{math.NaN(), true}
	}
	v, ok := jsParseInt(s)
	if !ok {
		return jsNum{math.NaN(), true}
	}
	if float64(v) > 1<<53-1 {
		return jsNum{math.Inf(1), true}
	}
	return jsNum{float64(v), true}
}

// jsParseInt is parseInt(s, 10): optional blanks and sign, then leading digits.
func jsParseInt(s string) (int64, bool) {
	s = strings.TrimLeft(s, " \t\n\r\v\f")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n == 0 {
		return 0, false
	}
	v, err := strconv.ParseInt(s[:n], 10, 64)
	if err != nil {
		v = math.MaxInt64
	}
	if neg {
		v = -v
	}
	return v, true
}

var jsDecimalRE = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`)

// jsNumber is Number(s) for the strings a playlist attribute can hold.
func jsNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return 0, true
	case s == "Infinity" || s == "+Infinity":
		return math.Inf(1), true
	case s == "-Infinity":
		return math.Inf(-1), true
	case len(s) > 2 && s[0] == '0' && strings.ContainsRune("xXoObB", rune(s[1])):
		base := map[byte]int{'x': 16, 'X': 16, 'o': 8, 'O': 8, 'b': 2, 'B': 2}[s[1]]
		v, err := strconv.ParseUint(s[2:], base, 64)
		return float64(v), err == nil
	case jsDecimalRE.MatchString(s):
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil || math.IsInf(f, 0)
	}
	return math.NaN(), false
}

// jsNumberString is Number.prototype.toString() for finite numbers.
func jsNumberString(f float64) string {
	if math.IsInf(f, 1) {
		return "Infinity"
	}
	if math.IsInf(f, -1) {
		return "-Infinity"
	}
	if f == 0 {
		return "0"
	}
	if a := math.Abs(f); a >= 1e21 || a < 1e-6 {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		mant, exp, _ := strings.Cut(s, "e")
		if exp[0] == '+' || exp[0] == '-' {
			sign := exp[:1]
			exp = strings.TrimLeft(exp[1:], "0")
			return mant + "e" + sign + exp
		}
		return s
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// jsSlice is s.slice(0, n) over UTF-16 code units (ASCII in practice).
func jsSlice(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		r = r[:n]
	}
	return string(r)
}

// codecKind is hls.js isCodecType over its sampleEntryCodesISO table:
// "video", "audio", "other" (text, image) or "" (unknown).
func codecKind(c string) string {
	if len(c) > 4 {
		c = c[:4]
	}
	switch {
	case videoCodecs[c]:
		return "video"
	case audioCodecs[c]:
		return "audio"
	case c == "stpp" || c == "wvtt" || c == "mjpg":
		return "other"
	}
	return ""
}

var videoCodecs = set("avc1 avc2 avc3 avc4 avcp av01 dav1 drac dva1 dvav dvh1 dvhe encv hev1 hvc1 mjp2 mp4v mvc1 mvc2 mvc3 mvc4 resv rv60 s263 svc1 svc2 vc-1 vp08 vp09")

var audioCodecs = func() map[string]bool {
	m := set("a3ds ac-3 ac-4 alac alaw dra1 dts+ dts- dtsc dtse dtsh ec-3 enca fLaC flac FLAC g719 g726 m4ae mha1 mha2 mhm1 mhm2 mlpa mp4a Opus opus samr sawb sawp sevc sqcp ssmv twos ulaw")
	m["raw "] = true
	return m
}()

func set(s string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Fields(s) {
		m[f] = true
	}
	return m
}
