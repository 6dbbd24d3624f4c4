package viewerload

import "time"

// Buffer models a player's playback buffer to count stalls. Playback starts when the
// first segment has arrived; from then on the buffer drains in real time and every
// arriving segment adds its duration. A segment that arrives after the buffer ran dry is
// a stall; playback resumes when it arrives.
type Buffer struct {
	started bool
	dry     time.Time // when the buffered media runs out

	// Stalls counts how often the buffer ran dry.
	Stalls int
	// Stalled is the total time spent waiting with an empty buffer.
	Stalled time.Duration
}

// Add records that a segment of duration d finished downloading at arrived. It reports
// whether the player stalled waiting for it.
func (b *Buffer) Add(arrived time.Time, d time.Duration) (stalled bool) {
	switch {
	case !b.started:
		b.started = true
		b.dry = arrived.Add(d)
	case arrived.After(b.dry):
		b.Stalls++
		b.Stalled += arrived.Sub(b.dry)
		b.dry = arrived.Add(d)
		stalled = true
	default:
		b.dry = b.dry.Add(d)
	}
	return stalled
}

// Finish closes the model at now: a buffer that is already dry counts as one more stall.
// It reports whether it did.
func (b *Buffer) Finish(now time.Time) (stalled bool) {
	if !b.started || !now.After(b.dry) {
		return false
	}
	b.Stalls++
	b.Stalled += now.Sub(b.dry)
	b.dry = now
	return true
}

// Level is the media left in the buffer at now (zero before start-up or when dry).
func (b *Buffer) Level(now time.Time) time.Duration {
	if !b.started || !b.dry.After(now) {
		return 0
	}
	return b.dry.Sub(now)
}
