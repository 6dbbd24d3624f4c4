// Package discovery finds the other boxes of the site on the LAN over multicast DNS.
//
// In: the box's identity (key and site-signed certificate), the site public key,
// and the LAN interfaces. Out: the box advertised as "_outpost._tcp" (plus a plain
// "_http._tcp" record for the console, so IT finds boxes with any Bonjour browser),
// and a table of sibling boxes (healthy, last seen, load) with join, leave and update
// events for subscribers.
//
// Every "_outpost._tcp" TXT record carries the box certificate and a signature by
// the box key over all fields and a timestamp and nonce. A record counts only when
// the certificate verifies against the site key, names this site and is in date,
// the signature verifies, and the timestamp is within the window and newer than the
// last one seen from that box. Everything else is ignored and counted by reason. mDNS
// offers reachability only: addresses come from the packets, trust from the keys.
//
// # Why not github.com/grandcat/zeroconf
//
// The project brief names grandcat/zeroconf v1.0.0. This package speaks mDNS itself
// (miekg/dns to build answers, x/net/dns/dnsmessage to parse them) because zeroconf
// v1.0.0 cannot carry signed, refreshed records: its browser hands each service
// instance to the caller only once (client.go sentEntries), so a re-signed TXT with a
// new timestamp never reaches the sibling table and every box would look silent after
// one expiry; and Server.SetText rewrites the TXT without a lock while the receive
// goroutines read it (a data race under -race). miekg/dns v1.1.27 also rejects the
// NSEC records python-zeroconf sends, hence dnsmessage for parsing (fixture in
// testdata/).
//
// # Usage
//
//	svc, err := discovery.New(discovery.Config{Site: "branch-042", SitePublicKey: sitePub,
//		Key: boxKey, Cert: cert, Port: 8444, Interfaces: []string{"lan0"}})
//	if err := svc.Start(ctx); err != nil { ... }
//	defer svc.Close()
//	events, cancel := svc.Subscribe(16)
//	for ev := range events { ... } // Join / Leave / Update with the Peer
package discovery
