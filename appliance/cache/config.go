package cache

import (
	"errors"
	"log/slog"
	"time"
)

// Defaults applied to zero [Config] fields.
const (
	DefaultMemoryBytes     = 64 << 20
	DefaultMemoryObjectMax = 8 << 20
	DefaultFillTimeout     = 2 * time.Minute
)

// Config configures a [Cache]. The zero value of each optional field is
// documented next to it.
type Config struct {
	// Dir holds the objects; required, created if missing. The cache owns
	// Dir/tmp and Dir/objects and removes anything in them it did not write.
	Dir string
	// MaxBytes bounds the sum of the sizes of the stored objects; required > 0.
	MaxBytes int64
	// MemoryBytes bounds the memory tier. Zero: DefaultMemoryBytes;
	// negative: no memory tier.
	MemoryBytes int64
	// MemoryObjectMax: objects larger than this never enter the memory tier.
	// Zero: DefaultMemoryObjectMax.
	MemoryObjectMax int64
	// FillTimeout is a fill's own deadline, detached from any viewer.
	// Zero: DefaultFillTimeout.
	FillTimeout time.Duration
	// ReverifyAfter is how long a disk object's verified checksum is trusted
	// before the next read from disk hashes the file again. Zero: every read
	// from disk is verified (objects in the memory tier are never re-hashed).
	// Large VOD files served by Range requests are the case for a positive value.
	ReverifyAfter time.Duration
	// Logger receives warnings about dropped objects and failed stores.
	// Nil: discard.
	Logger *slog.Logger
	// Now is the clock for TTLs and stored times. Nil: time.Now.
	Now func() time.Time
}

// withDefaults validates cfg and fills in its zero fields.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Dir == "" {
		return cfg, errors.New("cache config: Dir is required")
	}
	if cfg.MaxBytes <= 0 {
		return cfg, errors.New("cache config: MaxBytes must be > 0")
	}
	if cfg.MemoryBytes == 0 {
		cfg.MemoryBytes = DefaultMemoryBytes
	}
	if cfg.MemoryObjectMax <= 0 {
		cfg.MemoryObjectMax = DefaultMemoryObjectMax
	}
	if cfg.FillTimeout <= 0 {
		cfg.FillTimeout = DefaultFillTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, nil
}
