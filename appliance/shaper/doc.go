// Package shaper enforces the box's WAN budget in the kernel: an HTB tree on the
// WAN interface, installed and read back through netlink.
//
// What comes in: a [Config] from the site config: the WAN interface, the link rate,
// the video cap (wan.max_mbps, the same budget as the in-process token bucket), the
// fwmark of the box's origin sockets, the origins' addresses and ports, and
// whether to shape ingress through an IFB device. What goes out: the tree in the
// kernel, per-class counters ([Shaper.Stats], [Shaper.Collector] for /metrics), a
// [Status] snapshot for /api/v1/status, and [MarkDialer], the net.Dialer Control
// hook that marks the box's origin sockets.
//
// The tree, per direction (egress on the WAN interface; ingress on the IFB, fed by
// an ingress qdisc with a mirred redirect of every received packet):
//
//	4f50:   htb root, default class 4f50:20
//	4f50:1  link     rate = ceil = link
//	4f50:10 video    rate = ceil = video cap     leaf 4f51: fq_codel
//	4f50:20 default  rate = link - video, ceil = link   leaf 4f52: fq_codel
//
// Egress packets carrying the mark go to video (fw filter; cls_bpf reading
// skb->mark on kernels without cls_fw), as do packets to the origins (u32).
// Received packets carry no mark: on the IFB, packets from the origins (u32 on
// source address and port) go to video. Kernels without fq_codel get pfifo leaves
// unless Config.Leaf insists. Rates are bits/s throughout this package (netlink's
// HTB helper takes bits/s; HtbClass fields hold bytes/s).
//
// Apply is idempotent and updates an installed tree in place; Stop removes exactly
// what the box installed, recognised by handle and properties (root 4f50: with
// default class 4f50:20; the redirect filter at priority 0x4f50; an ifb with the
// box's alias). A foreign root or ingress qdisc is refused with [ErrForeignQdisc]
// unless Config.ReplaceForeign. The Linux parts live in _linux.go files; elsewhere
// Apply returns [ErrUnsupported].
//
// # Usage
//
//	sh, err := shaper.New(shaper.Config{Interface: "wan0", LinkMbps: 100, VideoMbps: 50,
//		Origins: endpoints, Ingress: true})
//	if err != nil { ... }
//	if err := sh.Apply(); err != nil { ... } // errors.Is(err, shaper.ErrPermission), ...
//	defer sh.Stop()
//	transport.DialContext = (&net.Dialer{Control: shaper.MarkDialer(sh.Config().Mark)}).DialContext
//	reg.MustRegister(sh.Collector())
package shaper
