package origin

import (
	"context"
	"strconv"
)

// Priority orders requests for WAN bandwidth. Lower values are served first.
type Priority int

// Priorities of the WAN budget, highest first.
const (
	PriorityPlaylist Priority = iota // playlists: players stall without them
	PriorityLiveEdge                 // segments at the live edge a viewer waits for
	PriorityPrefetch                 // live segments fetched before anyone asks
	PriorityVOD                      // on-demand segments and everything else

	numPriorities = int(PriorityVOD) + 1
)

// Priorities returns every priority, highest first.
func Priorities() []Priority {
	return []Priority{PriorityPlaylist, PriorityLiveEdge, PriorityPrefetch, PriorityVOD}
}

// String returns "playlist", "live_edge", "prefetch" or "vod".
func (p Priority) String() string {
	switch p {
	case PriorityPlaylist:
		return "playlist"
	case PriorityLiveEdge:
		return "live_edge"
	case PriorityPrefetch:
		return "prefetch"
	case PriorityVOD:
		return "vod"
	}
	return "priority(" + strconv.Itoa(int(p)) + ")"
}

// valid maps unknown values to PriorityVOD.
func (p Priority) valid() Priority {
	if p < PriorityPlaylist || p > PriorityVOD {
		return PriorityVOD
	}
	return p
}

type priorityKey struct{}

// WithPriority returns a context whose origin fetches use priority p.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p.valid())
}

// PriorityFrom returns the priority set by WithPriority, or PriorityVOD.
func PriorityFrom(ctx context.Context) Priority {
	if p, ok := ctx.Value(priorityKey{}).(Priority); ok {
		return p
	}
	return PriorityVOD
}
