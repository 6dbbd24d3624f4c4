// Package capture is the box's packet-level diagnostics: bounded packet captures
// written as pcap, and a "WAN top talkers" view, without libpcap (CGO_ENABLED=0).
//
// What comes in: an interface name, a filter in a small language
// ("host 10.0.0.1 and (tcp port 443 or udp) and not port 22", see [ParseFilter]),
// and bounds (duration, packets, bytes, snaplen; each with a hard maximum). HTTP
// requests carrying a bearer API token, for [Handler].
// What goes out: a pcap stream (gopacket's pcapgo.Writer) of the packets the kernel
// accepted, a [Result] saying which bound stopped it, and [Top] snapshots (JSON)
// of bytes per LAN host and per remote service over the last minute.
//
// The filter is parsed into an AST and compiled to a classic BPF program with
// golang.org/x/net/bpf ([Filter.Compile]); the program is attached to the
// pcapgo.EthernetHandle (AF_PACKET) socket with SetBPF, so the kernel drops what
// the filter rejects and copies only snaplen bytes of the rest. Opening is separate
// from capturing ([Open], then [Session.WriteTo]) so every error a client can cause
// (bad filter with its column, unknown interface, missing privileges) is known
// before the first byte of the download. Sockets are Linux-only (_linux.go files);
// elsewhere [Open] returns [ErrUnsupported].
//
// # Usage
//
//	res, err := capture.Capture(ctx, file, capture.Options{
//		Interface: "wan0",
//		Filter:    "host 203.0.113.7 and tcp port 443",
//		Duration:  10 * time.Second,
//	})
//	if errors.Is(err, capture.ErrFilterSyntax) { ... } // err names the column
//	log.Printf("%d packets, stopped by %s", res.Packets, res.Stop)
//
//	// The daemon mounts the API (GET /capture, GET /top) with a token from config:
//	top := &capture.TopTalkers{Interface: "wan0"}
//	go top.Run(ctx)
//	mux.Handle("/api/v1/diag/", http.StripPrefix("/api/v1/diag",
//		capture.Handler(capture.HandlerConfig{Token: capture.Secret(token), Top: top})))
package capture
