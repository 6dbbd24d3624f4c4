// Package origin is the WAN side of the box: every byte fetched from a configured
// origin (the company's HLS origin or CDN) goes through it.
//
// What comes in: the site's origin list ([Origin], validated into an immutable
// [Set]), LAN request paths (/o/{name}/{path}) and absolute URLs found in playlists,
// and fetch requests from the cache with a [Priority] carried in the context.
// What goes out: upstream URLs ([Set.Resolve], [Set.Lookup]), HTTP responses whose
// bodies are paced by the WAN [Budget] and capped in size ([Client.Get]), per-origin
// health ([Client.Health]), and a public status and message for every error
// ([PublicError]) that never leaks upstream URLs or Go error strings.
//
// The box is never an open proxy. Outbound requests pass a chain of
// [http.RoundTripper]s: [Allowlist] (refuses URLs outside the Set) -> [Limiter]
// (paces response bodies through the one [Budget], strict priority
// playlist > live edge > prefetch > VOD) -> a tuned [http.Transport].
//
// # Usage
//
//	set, err := origin.NewSet([]origin.Origin{{Name: "cdn", URL: base}})
//	if err != nil { ... }
//	budget := origin.NewBudget(50e6) // wan.max_mbps: 50
//	c := &origin.Client{Set: func() *origin.Set { return set }, Budget: budget}
//	u, err := set.Resolve("cdn", "live/index.m3u8", "")
//	if err != nil {
//		status, msg := origin.PublicError(err) // 404 unknown origin, 400 bad path
//		...
//	}
//	ctx = origin.WithPriority(ctx, origin.PriorityPlaylist)
//	resp, err := c.Get(ctx, u)
//	if err != nil { ... }
//	defer resp.Body.Close()
package origin
