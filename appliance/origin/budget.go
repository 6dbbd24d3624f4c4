package origin

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

const (
	// burstWindow sizes the bucket: this much time at the configured rate...
	burstWindow = 10 * time.Millisecond
	// ...but at least minBurst bytes, so one read of maxPacedRead fits.
	minBurst = 32 << 10
)

// Budget is the one token bucket for all origin bytes (site config wan.max_mbps).
// Waiters are served in strict priority order, FIFO within a priority. A request
// larger than the bucket is granted when the bucket is full and leaves it in debt,
// so the long-run rate is exact. The zero value and a nil *Budget are unlimited.
type Budget struct {
	mu      sync.Mutex
	rate    float64 // bytes per second; 0: unlimited
	burst   float64 // bytes
	tokens  float64 // may be negative (debt)
	last    time.Time
	queues  [numPriorities][]*waiter
	timer   *time.Timer
	granted [numPriorities]int64
	waited  [numPriorities]time.Duration
}

type waiter struct {
	n       int
	p       Priority
	since   time.Time
	ready   chan struct{}
	granted bool
}

// NewBudget returns a budget of bitsPerSecond; <= 0 means unlimited.
func NewBudget(bitsPerSecond float64) *Budget {
	b := &Budget{}
	b.SetRate(bitsPerSecond)
	return b
}

// SetRate changes the rate live (config reload) and wakes waiters that the new
// rate lets through. <= 0, NaN or +Inf mean unlimited.
func (b *Budget) SetRate(bitsPerSecond float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.refillLocked(now)
	wasUnlimited := b.rate == 0
	b.rate = 0
	if bitsPerSecond > 0 && !math.IsInf(bitsPerSecond, 1) {
		b.rate = bitsPerSecond / 8
	}
	b.burst = max(minBurst, b.rate*burstWindow.Seconds())
	if wasUnlimited {
		b.tokens = b.burst
	}
	b.tokens = min(b.tokens, b.burst)
	b.last = now
	b.dispatchLocked(now)
}

// Rate returns the rate in bits per second; 0 means unlimited.
func (b *Budget) Rate() float64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rate * 8
}

// Wait blocks until n bytes may be sent at priority p, or ctx is done. A waiting
// higher-priority request is always served before lower ones.
func (b *Budget) Wait(ctx context.Context, n int, p Priority) error {
	if n <= 0 || b == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("wan budget: %w", context.Cause(ctx))
	}
	p = p.valid()
	now := time.Now()
	b.mu.Lock()
	b.refillLocked(now)
	if b.rate == 0 || (b.headLocked(p) == nil && b.tokens >= b.needLocked(n)) {
		b.takeLocked(n, p)
		b.mu.Unlock()
		return nil
	}
	w := &waiter{n: n, p: p, since: now, ready: make(chan struct{})}
	b.queues[p] = append(b.queues[p], w)
	b.dispatchLocked(now)
	b.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if w.granted { // the grant won the race; keep it
		return nil
	}
	b.queues[p] = slices.DeleteFunc(b.queues[p], func(x *waiter) bool { return x == w })
	now = time.Now()
	b.waited[p] += now.Sub(w.since)
	b.dispatchLocked(now) // the head may have changed
	return fmt.Errorf("wan budget: %w", context.Cause(ctx))
}

// headLocked returns the first waiter at priority p or higher, nil if none.
func (b *Budget) headLocked(p Priority) *waiter {
	for q := PriorityPlaylist; q <= p; q++ {
		if len(b.queues[q]) > 0 {
			return b.queues[q][0]
		}
	}
	return nil
}

func (b *Budget) needLocked(n int) float64 {
	return min(float64(n), b.burst)
}

func (b *Budget) takeLocked(n int, p Priority) {
	if b.rate > 0 {
		b.tokens -= float64(n)
	}
	b.granted[p] += int64(n)
}

func (b *Budget) refillLocked(now time.Time) {
	if b.rate > 0 && now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
}

// dispatchLocked grants every waiter it can in priority order and arms the timer
// for the first one it cannot.
func (b *Budget) dispatchLocked(now time.Time) {
	for {
		w := b.headLocked(PriorityVOD)
		if w == nil {
			if b.timer != nil {
				b.timer.Stop()
			}
			return
		}
		need := b.needLocked(w.n)
		if b.rate > 0 && b.tokens < need-1e-6 {
			d := time.Duration(math.Ceil((need - b.tokens) / b.rate * float64(time.Second)))
			if b.timer == nil {
				b.timer = time.AfterFunc(d, b.onTimer)
			} else {
				b.timer.Reset(d)
			}
			return
		}
		b.queues[w.p] = b.queues[w.p][1:]
		b.takeLocked(w.n, w.p)
		b.waited[w.p] += now.Sub(w.since)
		w.granted = true
		close(w.ready)
	}
}

func (b *Budget) onTimer() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.refillLocked(now)
	b.dispatchLocked(now)
}

// ClassStats are the counters of one priority.
type ClassStats struct {
	Priority Priority      `json:"priority"`
	Bytes    int64         `json:"bytes"`   // bytes granted
	Wait     time.Duration `json:"wait_ns"` // total time requests waited for tokens
	Waiting  int           `json:"waiting"` // requests waiting now
}

// BudgetStats is a snapshot of a Budget.
type BudgetStats struct {
	BitsPerSecond float64      `json:"bits_per_second"` // 0: unlimited
	Classes       []ClassStats `json:"classes"`         // one per priority, highest first
}

// Stats returns the bytes granted and the time waited per priority.
func (b *Budget) Stats() BudgetStats {
	var st BudgetStats
	if b == nil {
		for _, p := range Priorities() {
			st.Classes = append(st.Classes, ClassStats{Priority: p})
		}
		return st
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st.BitsPerSecond = b.rate * 8
	for _, p := range Priorities() {
		st.Classes = append(st.Classes, ClassStats{
			Priority: p,
			Bytes:    b.granted[p],
			Wait:     b.waited[p],
			Waiting:  len(b.queues[p]),
		})
	}
	return st
}
