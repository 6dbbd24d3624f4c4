package origin

// Burst returns the bucket size in bytes, for tests.
func (b *Budget) Burst() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int(b.burst)
}

// CheckPath exposes checkPath, for tests.
var CheckPath = checkPath

// MaxPacedRead is the largest body Read the Limiter passes on, for tests.
const MaxPacedRead = maxPacedRead
