package bench

import (
	"sync"
	"time"
)

// RSSSampler samples the memory of a process tree (see TreeMemory) periodically and
// keeps the peaks.
type RSSSampler struct {
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	peak    Memory
	samples int
}

// StartRSSSampler samples pid and its children every period until Stop.
func StartRSSSampler(pid int, period time.Duration) *RSSSampler {
	s := &RSSSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			s.sample(pid)
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *RSSSampler) sample(pid int) {
	m, err := TreeMemory(pid)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples++
	s.peak.RSS = max(s.peak.RSS, m.RSS)
	s.peak.PSS = max(s.peak.PSS, m.PSS)
}

// Stop ends sampling and returns the peaks and how many samples they come from.
func (s *RSSSampler) Stop() (peak Memory, samples int) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak, s.samples
}
