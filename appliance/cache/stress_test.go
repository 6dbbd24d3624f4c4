package cache_test

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/outpost-ecdn/outpost/appliance/cache"
)

// TestConcurrentViewers runs viewers over a few keys with a bound that keeps
// evicting, a small memory tier and chunked and sized fills, under -race.
// Every read must return the right bytes; no read may fail.
func TestConcurrentViewers(t *testing.T) {
	const (
		viewers = 8
		rounds  = 150
		keys    = 6
		size    = 3000
	)
	c := openCache(t, cache.Config{MaxBytes: 4 * size, MemoryBytes: 2 * size, MemoryObjectMax: size})
	origins := make([]*origin, keys)
	for i := range origins {
		origins[i] = newOrigin(body(fmt.Sprint("key", i), size))
		if i%2 == 1 {
			origins[i].size = -1
		}
	}
	var wg sync.WaitGroup
	for v := range viewers {
		wg.Go(func() {
			for r := range rounds {
				i := (v*7 + r*3) % keys
				h, err := c.Get(t.Context(), fmt.Sprint("key", i), origins[i].Fill)
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				var got []byte
				if h.Complete() && r%2 == 0 {
					rs, err := h.Open()
					if err != nil {
						t.Errorf("Open: %v", err)
						h.Close()
						return
					}
					got, err = io.ReadAll(rs)
					rs.Close()
				} else {
					rd := h.Reader()
					got, err = io.ReadAll(rd)
					rd.Close()
				}
				h.Close()
				if err != nil || !bytes.Equal(got, origins[i].body) {
					t.Errorf("key%d: %d bytes, %v", i, len(got), err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := c.Stats()
	if st.Bytes > 4*size || st.MemoryBytes > 2*size || st.FillErrors != 0 || st.CorruptDropped != 0 || st.InFlight != 0 {
		t.Fatalf("stats = %s", statsString(st))
	}
	if got := st.Hits + st.Misses + st.Coalesced; got != viewers*rounds {
		t.Fatalf("%d Gets accounted for, want %d", got, viewers*rounds)
	}
}
