// Package identity holds who a box is and who vouches for it.
//
// In: the box's data directory and the site's keys. Out: the box's ed25519 key
// (generated once on first start, kept in the data directory, never overwritten),
// and box certificates: a site key's signature over a box's public key, box id, site
// id and validity, in a compact binary form small enough for mDNS TXT records.
// Sibling boxes trust each other only through a certificate that verifies against
// the configured site public key.
//
// # Usage
//
//	key, created, err := identity.LoadOrCreateBoxKey(dataDir)
//	cert, err := identity.ReadCertificate(certFile)
//	err = cert.Verify(sitePub, "branch-042", time.Now())
//	if !cert.BoxKey.Equal(key.Public()) { ... } // issued for another box
package identity
