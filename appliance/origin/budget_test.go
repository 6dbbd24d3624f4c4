package origin_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/outpost-ecdn/outpost/appliance/origin"
)

func TestPriority(t *testing.T) {
	tests := []struct {
		ctx  context.Context
		want origin.Priority
		str  string
	}{
		{context.Background(), origin.PriorityVOD, "vod"},
		{origin.WithPriority(context.Background(), origin.PriorityPlaylist), origin.PriorityPlaylist, "playlist"},
		{origin.WithPriority(context.Background(), origin.PriorityLiveEdge), origin.PriorityLiveEdge, "live_edge"},
		{origin.WithPriority(context.Background(), origin.PriorityPrefetch), origin.PriorityPrefetch, "prefetch"},
		{origin.WithPriority(context.Background(), origin.Priority(42)), origin.PriorityVOD, "vod"},
	}
	for _, tt := range tests {
		got := origin.PriorityFrom(tt.ctx)
		if got != tt.want || got.String() != tt.str {
			t.Errorf("PriorityFrom = %v (%d), want %v", got, got, tt.want)
		}
	}
	if got := origin.Priority(7).String(); got != "priority(7)" {
		t.Errorf("String() = %q", got)
	}
}

// drain empties the bucket so that later waiters queue.
func drain(t *testing.T, b *origin.Budget) {
	t.Helper()
	if err := b.Wait(t.Context(), b.Burst(), origin.PriorityPlaylist); err != nil {
		t.Fatal(err)
	}
}

func TestBudgetPriorityOrder(t *testing.T) {
	arrivals := []struct {
		name string
		p    origin.Priority
	}{
		{"vod-1", origin.PriorityVOD},
		{"prefetch-1", origin.PriorityPrefetch},
		{"vod-2", origin.PriorityVOD},
		{"live-1", origin.PriorityLiveEdge},
		{"playlist-1", origin.PriorityPlaylist},
		{"prefetch-2", origin.PriorityPrefetch},
		{"playlist-2", origin.PriorityPlaylist},
		{"live-2", origin.PriorityLiveEdge},
	}
	want := []string{"playlist-1", "playlist-2", "live-1", "live-2", "prefetch-1", "prefetch-2", "vod-1", "vod-2"}
	synctest.Test(t, func(t *testing.T) {
		b := origin.NewBudget(8 * 1000) // 1000 bytes/s
		drain(t, b)
		granted := make(chan string, len(arrivals))
		for _, a := range arrivals {
			go func() {
				if err := b.Wait(t.Context(), 500, a.p); err != nil {
					granted <- "error: " + err.Error()
					return
				}
				granted <- a.name
			}()
			synctest.Wait() // queued before the next one arrives
		}
		var got []string
		for range arrivals {
			got = append(got, <-granted)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("grant order (-want +got):\n%s", diff)
		}
	})
}

// TestBudgetHigherPriorityJumpsQueue: a playlist arriving while bulk waiters queue
// is served next, before the bulk waiters that came first.
func TestBudgetHigherPriorityJumpsQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := origin.NewBudget(8 * 1000)
		drain(t, b)
		granted := make(chan string, 4)
		wait := func(name string, p origin.Priority) {
			if err := b.Wait(t.Context(), 1000, p); err != nil {
				t.Error(err)
			}
			granted <- name
		}
		go wait("vod-1", origin.PriorityVOD)
		synctest.Wait()
		go wait("vod-2", origin.PriorityVOD)
		synctest.Wait()
		if got := <-granted; got != "vod-1" { // time passes: vod-1 is the head
			t.Fatalf("first grant = %q, want vod-1", got)
		}
		go wait("playlist", origin.PriorityPlaylist)
		synctest.Wait()
		go wait("vod-3", origin.PriorityVOD)
		synctest.Wait()
		var got []string
		for range 3 {
			got = append(got, <-granted)
		}
		if diff := cmp.Diff([]string{"playlist", "vod-2", "vod-3"}, got); diff != "" {
			t.Errorf("grant order (-want +got):\n%s", diff)
		}
	})
}

func TestBudgetSetRate(t *testing.T) {
	tests := []struct {
		name    string
		newRate float64 // bits/s
		after   time.Duration
	}{
		{"unlimited releases at once", 0, 0},
		{"negative is unlimited", -1, 0},
		{"faster rate releases early", 8 * 100_000, 50 * time.Millisecond}, // 3 x 1000 B at 100 kB/s
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := origin.NewBudget(8) // 1 byte/s: nothing would pass within the test
				drain(t, b)
				granted := make(chan error, 3)
				for range 3 {
					go func() { granted <- b.Wait(t.Context(), 1000, origin.PriorityVOD) }()
				}
				synctest.Wait()
				if got := b.Stats().Classes[origin.PriorityVOD].Waiting; got != 3 {
					t.Fatalf("waiting = %d, want 3", got)
				}
				b.SetRate(tt.newRate)
				if got := b.Rate(); got != max(tt.newRate, 0) {
					t.Errorf("Rate() = %v, want %v", got, tt.newRate)
				}
				time.Sleep(tt.after)
				synctest.Wait()
				for range 3 {
					select {
					case err := <-granted:
						if err != nil {
							t.Fatal(err)
						}
					default:
						t.Fatalf("waiters not released %v after SetRate(%v)", tt.after, tt.newRate)
					}
				}
			})
		})
	}
}

func TestBudgetCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := origin.NewBudget(8 * 1000)
		drain(t, b)
		cause := errors.New("viewer left")
		ctx, cancel := context.WithCancelCause(t.Context())
		first := make(chan error, 1)
		second := make(chan error, 1)
		go func() { first <- b.Wait(ctx, 1000, origin.PriorityPlaylist) }()
		synctest.Wait()
		go func() { second <- b.Wait(t.Context(), 1000, origin.PriorityVOD) }()
		synctest.Wait()
		cancel(cause)
		if err := <-first; !errors.Is(err, cause) {
			t.Fatalf("canceled Wait = %v, want %v", err, cause)
		}
		if err := <-second; err != nil {
			t.Fatalf("second Wait = %v", err)
		}
		st := b.Stats()
		if st.Classes[origin.PriorityPlaylist].Waiting != 0 || st.Classes[origin.PriorityPlaylist].Bytes != int64(b.Burst()) {
			t.Errorf("canceled waiter still counted: %+v", st.Classes[origin.PriorityPlaylist])
		}
		done, cancelDone := context.WithCancel(t.Context())
		cancelDone()
		if err := b.Wait(done, 1, origin.PriorityVOD); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait on a done context = %v", err)
		}
	})
}

// TestBudgetRate runs one greedy reader for 10 fake seconds per rate: the bytes
// granted are the rate times the time, plus at most one bucket and one request.
func TestBudgetRate(t *testing.T) {
	const chunk = 16 << 10
	for _, mbps := range []float64{1, 40, 400} {
		t.Run(fmt.Sprintf("%vMbps", mbps), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := origin.NewBudget(mbps * 1e6)
				const d = 10 * time.Second
				start := time.Now()
				var total int
				for i := 0; i < 1e6 && time.Since(start) < d; i++ {
					if err := b.Wait(t.Context(), chunk, origin.PriorityVOD); err != nil {
						t.Fatal(err)
					}
					total += chunk
				}
				ideal := mbps * 1e6 / 8 * d.Seconds()
				if lo, hi := ideal-chunk, ideal+float64(b.Burst()+chunk); float64(total) < lo || float64(total) > hi {
					t.Errorf("granted %d bytes in %v, want %.0f..%.0f", total, d, lo, hi)
				}
				if got := b.Stats().Classes[origin.PriorityVOD].Bytes; got != int64(total) {
					t.Errorf("Stats bytes = %d, want %d", got, total)
				}
			})
		})
	}
}

// TestBudgetLargeRequest: a request larger than the bucket passes when the bucket
// is full and leaves it in debt, so the long-run rate holds.
func TestBudgetLargeRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := origin.NewBudget(8 * 100_000) // 100 kB/s
		big := 10 * b.Burst()
		start := time.Now()
		for range 3 {
			if err := b.Wait(t.Context(), big, origin.PriorityVOD); err != nil {
				t.Fatal(err)
			}
		}
		// The first passes on the full bucket; each later one waits for the debt.
		want := time.Duration(float64(2*big) / 100_000 * float64(time.Second))
		if got := time.Since(start); got < want-time.Millisecond || got > want+time.Second/10 {
			t.Errorf("3 x %d bytes took %v, want about %v", big, got, want)
		}
	})
}

func TestBudgetUnlimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var nilBudget *origin.Budget
		for name, b := range map[string]*origin.Budget{"zero rate": origin.NewBudget(0), "zero value": {}, "nil": nilBudget} {
			start := time.Now()
			for range 100 {
				if err := b.Wait(t.Context(), 1<<30, origin.PriorityVOD); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
			if time.Since(start) != 0 {
				t.Errorf("%s: unlimited budget made a reader wait", name)
			}
			if b.Rate() != 0 {
				t.Errorf("%s: Rate() = %v", name, b.Rate())
			}
		}
	})
}

func TestBudgetStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := origin.NewBudget(8e6)
		drain(t, b) // playlist: burst bytes
		if err := b.Wait(t.Context(), 123, origin.PriorityPrefetch); err != nil {
			t.Fatal(err)
		}
		st := b.Stats()
		if st.BitsPerSecond != 8e6 {
			t.Errorf("BitsPerSecond = %v", st.BitsPerSecond)
		}
		want := map[origin.Priority]int64{origin.PriorityPlaylist: int64(b.Burst()), origin.PriorityPrefetch: 123}
		for i, c := range st.Classes {
			if c.Priority != origin.Priority(i) || c.Bytes != want[c.Priority] {
				t.Errorf("class %d = %+v, want bytes %d", i, c, want[c.Priority])
			}
		}
		if st.Classes[origin.PriorityPrefetch].Wait <= 0 {
			t.Errorf("prefetch waited %v after an empty bucket", st.Classes[origin.PriorityPrefetch].Wait)
		}
	})
}
