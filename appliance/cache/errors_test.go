package cache_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/outpost-ecdn/outpost/appliance/cache"
)

func TestSentinelErrors(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T) error
		want error
	}{
		{name: "ErrClosed from Get after Close", want: cache.ErrClosed, run: func(t *testing.T) error {
			c := openCache(t, cache.Config{})
			c.Close()
			_, err := c.Get(t.Context(), "k", newOrigin([]byte("x")).Fill)
			return err
		}},
		{name: "ErrIncomplete from Open during a fill", want: cache.ErrIncomplete, run: func(t *testing.T) error {
			c := openCache(t, cache.Config{})
			o := newGatedOrigin(1)
			close(o.release)
			h := mustGet(t, c, "k", o.Fill, cache.StatusMiss)
			_, err := h.Open()
			close(o.body.chunks) // let the fill end
			io.Copy(io.Discard, h.Reader())
			return err
		}},
		{name: "ErrTooLarge from a chunked body over MaxBytes", want: cache.ErrTooLarge, run: func(t *testing.T) error {
			c := openCache(t, cache.Config{MaxBytes: 10})
			o := newOrigin(bytes.Repeat([]byte("x"), 11))
			o.size = -1
			h := mustGet(t, c, "k", o.Fill, cache.StatusMiss)
			_, err := io.ReadAll(h.Reader())
			return err
		}},
		{name: "ErrFillFailed from an origin error", want: cache.ErrFillFailed, run: func(t *testing.T) error {
			c := openCache(t, cache.Config{})
			_, err := c.Get(t.Context(), "k", (&origin{err: errOrigin}).Fill)
			return err
		}},
		{name: "ErrFillFailed without a FillFunc", want: cache.ErrFillFailed, run: func(t *testing.T) error {
			c := openCache(t, cache.Config{})
			_, err := c.Get(t.Context(), "k", nil)
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(t); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want errors.Is %v", err, tc.want)
			}
		})
	}
}

func TestOpenConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(dir string) cache.Config
		ok   bool
	}{
		{name: "minimal", cfg: func(dir string) cache.Config { return cache.Config{Dir: dir, MaxBytes: 1} }, ok: true},
		{name: "creates Dir", cfg: func(dir string) cache.Config { return cache.Config{Dir: dir + "/a/b", MaxBytes: 1} }, ok: true},
		{name: "no Dir", cfg: func(string) cache.Config { return cache.Config{MaxBytes: 1} }},
		{name: "no MaxBytes", cfg: func(dir string) cache.Config { return cache.Config{Dir: dir} }},
		{name: "negative MaxBytes", cfg: func(dir string) cache.Config { return cache.Config{Dir: dir, MaxBytes: -1} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cache.Open(tc.cfg(t.TempDir()))
			if (err == nil) != tc.ok {
				t.Fatalf("Open err = %v, want ok %v", err, tc.ok)
			}
			if c != nil {
				c.Close()
			}
		})
	}
}

func TestStatusString(t *testing.T) {
	want := map[cache.Status]string{
		cache.StatusHit: "hit", cache.StatusMiss: "miss", cache.StatusCoalesced: "coalesced",
		cache.StatusStale: "stale", cache.Status(9): "Status(9)",
	}
	for s, w := range want {
		if s.String() != w {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), w)
		}
	}
}
