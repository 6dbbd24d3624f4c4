//go:build !linux

package shaper

// Apply returns ErrUnsupported: kernel shaping is Linux-only.
func (s *Shaper) Apply() error { return ErrUnsupported }

// Update checks cfg, keeps it, and returns ErrUnsupported.
func (s *Shaper) Update(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg = cfg.withDefaults()
	return ErrUnsupported
}

// Stop has nothing to remove off Linux.
func (s *Shaper) Stop() error { return nil }

// Stats returns ErrUnsupported.
func (s *Shaper) Stats() (Stats, error) { return Stats{}, ErrUnsupported }
