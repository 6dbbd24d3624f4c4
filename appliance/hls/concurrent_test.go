package hls

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

// TestConcurrentUse checks that the parsers and Rewrite share no mutable
// state: goroutines parsing the same playlists at once get what a single
// goroutine gets (run with -race to see any data race).
func TestConcurrentUse(t *testing.T) {
	defer goleak.VerifyNone(t)
	playlists := readPlaylists(t, "")
	want := make([]parsed, len(playlists))
	for i, tp := range playlists {
		var err error
		if want[i], err = parseAny(tp.data); err != nil {
			t.Fatal(err)
		}
	}
	const workers, rounds = 4, 5
	var wg sync.WaitGroup
	errs := make(chan string, workers*len(playlists)*rounds)
	for range workers {
		wg.Go(func() {
			for range rounds {
				for i, tp := range playlists {
					got, err := parseAny(tp.data)
					if err != nil {
						errs <- tp.name + ": " + err.Error()
						continue
					}
					if diff := cmp.Diff(want[i], got, cmpOpts); diff != "" {
						errs <- tp.name + ": " + diff
					}
					if _, err := Rewrite(tp.data, edgeURI); err != nil {
						errs <- tp.name + ": " + err.Error()
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
