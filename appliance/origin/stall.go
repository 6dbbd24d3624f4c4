package origin

import (
	"context"
	"sync"
	"time"
)

// stallWatch fails a response body whose reads block longer than d: armed around
// each network read, disarmed while the reader waits for WAN budget.
type stallWatch struct {
	d    time.Duration
	fire func()

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

func newStallWatch(d time.Duration, fire func()) *stallWatch {
	return &stallWatch{d: d, fire: fire}
}

func (w *stallWatch) arm() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.stopped:
	case w.timer == nil:
		w.timer = time.AfterFunc(w.d, w.fire)
	default:
		w.timer.Reset(w.d)
	}
}

func (w *stallWatch) disarm() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
}

func (w *stallWatch) stop() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
	}
}

type watchKey struct{}

func withWatch(ctx context.Context, w *stallWatch) context.Context {
	return context.WithValue(ctx, watchKey{}, w)
}

func watchFrom(ctx context.Context) *stallWatch {
	w, _ := ctx.Value(watchKey{}).(*stallWatch)
	return w
}
