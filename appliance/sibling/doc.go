// Package sibling makes the boxes of one site share the WAN: each object has one
// owner among the healthy siblings and this box, chosen by rendezvous (highest
// random weight) hashing, and only the owner fetches it from the origin.
//
// In: cache keys from the edge's segment fills, and the sibling table from
// discovery. Out: the owner's bytes over mutual TLS on the LAN (Node implements
// edge.Siblings), and this box's sibling listener serving its edge to siblings.
// Both ends derive their TLS certificates from the box keys and pin the peer's key
// from its site-verified box certificate, so a rogue box can neither serve nor
// request. When the owner fails or leaves, ownership moves to the next highest
// weight; a failed fetch falls back to the origin, within this box's WAN budget.
//
// # Usage
//
//	node, err := sibling.New(sibling.Config{Self: "box-a", Key: boxKey, Peers: disc, Handler: edgeServer})
//	edgeServer.Siblings = node
//	go node.Serve(ln) // the sibling port, e.g. :8444
//	defer node.Close()
package sibling
