package watchdog

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestOpenAbsent(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "watchdog"), 30*time.Second)
	if !errors.Is(err, ErrAbsent) {
		t.Fatalf("Open of a missing device: %v, want ErrAbsent", err)
	}
}
