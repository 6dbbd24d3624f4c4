package edge

import (
	"context"
	"net/http"
)

// Siblings routes cache fills to the sibling box that owns an object, so that a site
// with several boxes still pulls each object over the WAN once. Implemented by the
// sibling cooperation package; nil means this box always uses the WAN itself.
type Siblings interface {
	// Fetch returns the object from the sibling that owns key (the cache key, e.g.
	// "o/demo/live/seg-1.ts"; originName and pathQuery as in /o/{originName}/{pathQuery}),
	// or ok=false when this box owns it or no healthy sibling does, in which case the
	// caller fetches from the origin. An error means the owner failed; the caller then
	// falls back to the origin too.
	Fetch(ctx context.Context, key, originName, pathQuery string) (resp *http.Response, ok bool, err error)
}

type fromSiblingKey struct{}

// FromSibling marks a request as coming from a sibling box: it is filled from the
// origin (never forwarded again), which keeps routing loop-free even while two boxes
// briefly disagree on ownership. The sibling listener wraps its handler with it.
func FromSibling(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), fromSiblingKey{}, true)))
	})
}

func fromSibling(ctx context.Context) bool {
	v, _ := ctx.Value(fromSiblingKey{}).(bool)
	return v
}
