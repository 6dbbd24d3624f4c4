package origin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/origin"
)

// hangGuard bounds a test that talks to real sockets.
func hangGuard(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testOrigin is an httptest origin on 127.0.0.1 configured as origin "cdn" at
// base /live/, with a Client using short timeouts and back-off.
type testOrigin struct {
	srv     *httptest.Server
	set     *origin.Set
	hits    atomic.Int32
	release chan struct{} // closed at cleanup: handlers blocking on it return
	client  *origin.Client
}

func newTestOrigin(t *testing.T, handle func(hit int, w http.ResponseWriter, r *http.Request)) *testOrigin {
	t.Helper()
	o := &testOrigin{release: make(chan struct{})}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handle(int(o.hits.Add(1)), w, r)
	}))
	t.Cleanup(o.srv.Close)
	t.Cleanup(func() { close(o.release) })
	o.set = mustSet(t, "cdn", o.srv.URL+"/live/")
	o.client = &origin.Client{
		Set:           func() *origin.Set { return o.set },
		HeaderTimeout: 5 * time.Second,
		IdleTimeout:   5 * time.Second,
		Backoff:       time.Millisecond,
	}
	t.Cleanup(o.client.CloseIdleConnections)
	return o
}

func (o *testOrigin) url(t *testing.T, p string) *url.URL {
	t.Helper()
	u, err := o.set.Resolve("cdn", p, "")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// block waits until the client goes away or the test ends.
func (o *testOrigin) block(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-o.release:
	}
}

// reset closes the connection with a TCP RST before any response.
func reset(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func TestGetRetries(t *testing.T) {
	type behaviour func(t *testing.T, hit int, w http.ResponseWriter)
	fail := func(n int, bad behaviour) behaviour { // bad for the first n hits, then 200 "ok"
		return func(t *testing.T, hit int, w http.ResponseWriter) {
			if hit <= n {
				bad(t, hit, w)
				return
			}
			io.WriteString(w, "ok")
		}
	}
	rst := func(t *testing.T, _ int, w http.ResponseWriter) { reset(t, w) }
	status := func(code int) behaviour {
		return func(_ *testing.T, _ int, w http.ResponseWriter) { http.Error(w, "upstream detail", code) }
	}
	tests := []struct {
		name     string
		retries  int
		origin   behaviour
		wantHits int
		wantCode int // 0: success with body "ok"
	}{
		{"ok", 0, fail(0, nil), 1, 0},
		{"reset twice then ok", 0, fail(2, rst), 3, 0},
		{"reset twice, one retry", 1, fail(2, rst), 2, -1},
		{"reset once, no retries", -1, fail(1, rst), 1, -1},
		{"reset always, 3 retries", 3, fail(100, rst), 4, -1},
		{"404 not retried", 0, fail(100, status(404)), 1, 404},
		{"410 not retried", 5, fail(100, status(410)), 1, 410},
		{"500 not retried", 0, fail(100, status(500)), 1, 500},
		{"503 retried", 0, fail(100, status(503)), 3, 503},
		{"502 retried", 1, fail(100, status(502)), 2, 502},
		{"504 once then ok", 0, fail(1, status(504)), 2, 0},
		{"503 twice then ok", 0, fail(2, status(503)), 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newTestOrigin(t, func(hit int, w http.ResponseWriter, r *http.Request) { tt.origin(t, hit, w) })
			o.client.Retries = tt.retries
			resp, err := o.client.Get(hangGuard(t), o.url(t, "a.ts"))
			if got := int(o.hits.Load()); got != tt.wantHits {
				t.Errorf("origin saw %d requests, want %d", got, tt.wantHits)
			}
			switch {
			case tt.wantCode == 0:
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				defer resp.Body.Close()
				if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
					t.Errorf("body = %q, %v", b, err)
				}
			case tt.wantCode > 0:
				var se *origin.StatusError
				if !errors.As(err, &se) || se.Code != tt.wantCode || se.Origin != "cdn" {
					t.Fatalf("Get = %v, want StatusError %d from cdn", err, tt.wantCode)
				}
			default:
				var se *origin.StatusError
				if err == nil || errors.As(err, &se) {
					t.Fatalf("Get = %v, want a connection error", err)
				}
				if strings.Contains(err.Error(), o.srv.URL) {
					t.Errorf("error names the upstream URL: %v", err)
				}
			}
		})
	}
}

func TestGetHeaderTimeout(t *testing.T) {
	var o *testOrigin
	o = newTestOrigin(t, func(_ int, w http.ResponseWriter, r *http.Request) { o.block(r) })
	o.client.HeaderTimeout = 50 * time.Millisecond
	o.client.Retries = 1
	_, err := o.client.Get(hangGuard(t), o.url(t, "a.ts"))
	if !errors.Is(err, origin.ErrTimeout) {
		t.Fatalf("Get = %v, want ErrTimeout", err)
	}
	if got := o.hits.Load(); got != 2 {
		t.Errorf("origin saw %d requests, want 2 (header timeouts are retried)", got)
	}
	if h := o.client.Health()["cdn"]; h.ConsecutiveFailures != 2 || h.LastError != "timeout waiting for headers" {
		t.Errorf("health = %+v", h)
	}
}

func TestGetBodyStall(t *testing.T) {
	var o *testOrigin
	o = newTestOrigin(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write(make([]byte, 100))
		http.NewResponseController(w).Flush()
		o.block(r)
	})
	o.client.IdleTimeout = 50 * time.Millisecond
	resp, err := o.client.Get(hangGuard(t), o.url(t, "a.ts"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if !errors.Is(err, origin.ErrTimeout) {
		t.Fatalf("read = %d, %v; want ErrTimeout", n, err)
	}
	if n != 100 {
		t.Errorf("read %d bytes before the stall, want 100", n)
	}
	if got := o.hits.Load(); got != 1 {
		t.Errorf("origin saw %d requests; a started body must not be retried", got)
	}
	if h := o.client.Health()["cdn"]; h.Bytes != 100 || h.Errors != 1 || h.LastError != "body stalled" {
		t.Errorf("health = %+v", h)
	}
}

// TestGetSlowConsumer: time the reader spends elsewhere, or waiting for WAN
// budget, is not a stall of the origin.
func TestGetSlowConsumer(t *testing.T) {
	const size = 64 << 10
	o := newTestOrigin(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, size))
	})
	o.client.IdleTimeout = 20 * time.Millisecond
	o.client.Budget = origin.NewBudget(8 * 200_000) // 200 kB/s: reading takes ~160ms beyond the bucket
	resp, err := o.client.Get(hangGuard(t), o.url(t, "a.ts"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 8<<10)
	var n int
	for i := 0; i < 100; i++ {
		m, err := resp.Body.Read(buf)
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read after %d bytes: %v", n, err)
		}
		if i == 0 {
			time.Sleep(50 * time.Millisecond) // a slow cache write
		}
	}
	if n != size {
		t.Errorf("read %d bytes, want %d", n, size)
	}
}

func TestGetTooLarge(t *testing.T) {
	const limit = 1000
	tests := []struct {
		name     string
		size     int
		chunked  bool
		wantGet  bool // Get itself fails
		wantRead bool // reading the body fails
	}{
		{"content-length at limit", limit, false, false, false},
		{"content-length above limit", limit + 1, false, true, false},
		{"chunked at limit", limit, true, false, false},
		{"chunked above limit", 3 * limit, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newTestOrigin(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				if !tt.chunked {
					w.Header().Set("Content-Length", fmt.Sprint(tt.size))
				}
				for i := 0; i < tt.size; i += 100 {
					w.Write(bytes.Repeat([]byte("x"), min(100, tt.size-i)))
					if tt.chunked {
						http.NewResponseController(w).Flush()
					}
				}
			})
			o.client.MaxObjectBytes = limit
			resp, err := o.client.Get(hangGuard(t), o.url(t, "big.ts"))
			if tt.wantGet {
				if !errors.Is(err, origin.ErrTooLarge) {
					t.Fatalf("Get = %v, want ErrTooLarge", err)
				}
				if got := o.hits.Load(); got != 1 {
					t.Errorf("origin saw %d requests, want 1", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if tt.chunked && resp.ContentLength != -1 {
				t.Fatalf("ContentLength = %d, want chunked", resp.ContentLength)
			}
			b, err := io.ReadAll(resp.Body)
			if tt.wantRead != errors.Is(err, origin.ErrTooLarge) {
				t.Fatalf("ReadAll = %d bytes, %v; want ErrTooLarge: %v", len(b), err, tt.wantRead)
			}
			if !tt.wantRead && (err != nil || len(b) != tt.size) {
				t.Fatalf("ReadAll = %d bytes, %v", len(b), err)
			}
			if len(b) > limit {
				t.Errorf("read %d bytes past the limit of %d", len(b), limit)
			}
			if _, err := resp.Body.Read(make([]byte, 10)); tt.wantRead && !errors.Is(err, origin.ErrTooLarge) {
				t.Errorf("read after ErrTooLarge = %v", err)
			}
		})
	}
}

func TestGetNotAllowed(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("off-allowlist server got %s", r.URL)
	}))
	defer other.Close()
	o := newTestOrigin(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/live/away":
			http.Redirect(w, r, other.URL+"/live/x", http.StatusFound)
		case "/live/up":
			http.Redirect(w, r, "/admin", http.StatusFound)
		case "/live/moved":
			http.Redirect(w, r, "/live/here", http.StatusMovedPermanently)
		case "/live/here":
			io.WriteString(w, "here")
		}
	})
	ctx := hangGuard(t)
	for _, raw := range []string{other.URL + "/live/x", o.srv.URL + "/admin", o.srv.URL + "/live/../admin", "file:///etc/passwd"} {
		if _, err := o.client.Get(ctx, mustURL(t, raw)); !errors.Is(err, origin.ErrNotAllowed) {
			t.Errorf("Get(%q) = %v, want ErrNotAllowed", raw, err)
		}
	}
	if got := o.hits.Load(); got != 0 {
		t.Errorf("origin saw %d requests for refused URLs", got)
	}
	for _, p := range []string{"away", "up"} {
		if _, err := o.client.Get(ctx, o.url(t, p)); !errors.Is(err, origin.ErrNotAllowed) {
			t.Errorf("Get(%s) following a redirect out = %v, want ErrNotAllowed", p, err)
		}
	}
	resp, err := o.client.Get(ctx, o.url(t, "moved"))
	if err != nil {
		t.Fatalf("redirect within the origin: %v", err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "here" {
		t.Errorf("body = %q", b)
	}
	nilClient := &origin.Client{}
	if _, err := nilClient.Get(ctx, o.url(t, "here")); !errors.Is(err, origin.ErrNotAllowed) {
		t.Errorf("Client without Set: %v", err)
	}
}

// TestGetCancel: canceling the context stops a retrying Get at once, during the
// back-off and during the request.
func TestGetCancel(t *testing.T) {
	for _, during := range []string{"backoff", "request"} {
		t.Run(during, func(t *testing.T) {
			hit := make(chan struct{}, 10)
			var o *testOrigin
			o = newTestOrigin(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				hit <- struct{}{}
				if during == "request" {
					o.block(r)
					return
				}
				w.WriteHeader(http.StatusServiceUnavailable)
			})
			o.client.Backoff = time.Hour
			o.client.Retries = 5
			ctx, cancel := context.WithCancel(hangGuard(t))
			errc := make(chan error, 1)
			go func() {
				_, err := o.client.Get(ctx, o.url(t, "a.ts"))
				errc <- err
			}()
			<-hit
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Fatalf("Get = %v, want context.Canceled", err)
			}
			if got := o.hits.Load(); got != 1 {
				t.Errorf("origin saw %d requests", got)
			}
			if h := o.client.Health()["cdn"]; during == "request" && h.Errors != 0 {
				t.Errorf("caller cancellation counted as origin error: %+v", h)
			}
		})
	}
}

func TestGetDeadlineIsTimeout(t *testing.T) {
	var o *testOrigin
	o = newTestOrigin(t, func(_ int, w http.ResponseWriter, r *http.Request) { o.block(r) })
	ctx, cancel := context.WithTimeout(hangGuard(t), 50*time.Millisecond)
	defer cancel()
	_, err := o.client.Get(ctx, o.url(t, "a.ts"))
	if !errors.Is(err, origin.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get = %v, want ErrTimeout and DeadlineExceeded", err)
	}
}

// TestGetRequest: the origin gets the raw path and query byte for byte, the user
// agent, extra headers, and no transparent gzip.
func TestGetRequest(t *testing.T) {
	got := make(chan *http.Request, 1)
	o := newTestOrigin(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		got <- r
		w.WriteHeader(http.StatusPartialContent)
	})
	o.client.UserAgent = "outpost/test"
	u, err := o.set.Resolve("cdn", "my%20show/caf%C3%A9;v=1.ts", "token=a%2Fb&x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := o.client.Fetch(hangGuard(t), u, http.Header{"Range": {"bytes=0-9"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := <-got
	if want := "/live/my%20show/caf%C3%A9;v=1.ts?token=a%2Fb&x=1"; r.RequestURI != want {
		t.Errorf("RequestURI = %q, want %q", r.RequestURI, want)
	}
	if r.UserAgent() != "outpost/test" || r.Header.Get("Range") != "bytes=0-9" || r.Header.Get("Accept-Encoding") != "" {
		t.Errorf("headers = %v", r.Header)
	}
}

// TestLimiterPaces: every body byte passes the budget at the context's priority.
func TestLimiterPaces(t *testing.T) {
	const size = 300 << 10
	o := newTestOrigin(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("v"), size))
	})
	budget := origin.NewBudget(1e9)
	o.client.Budget = budget
	for _, p := range []origin.Priority{origin.PriorityLiveEdge, origin.PriorityPlaylist} {
		resp, err := o.client.Get(origin.WithPriority(hangGuard(t), p), o.url(t, "a.ts"))
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != size {
			t.Fatalf("read %d, %v", n, err)
		}
	}
	for _, c := range budget.Stats().Classes {
		want := int64(0)
		if c.Priority == origin.PriorityLiveEdge || c.Priority == origin.PriorityPlaylist {
			want = size
		}
		if c.Bytes != want {
			t.Errorf("%v: %d bytes granted, want %d", c.Priority, c.Bytes, want)
		}
	}
	if h := o.client.Health()["cdn"]; h.Bytes != 2*size || h.Requests != 2 || h.LastSuccess.IsZero() {
		t.Errorf("health = %+v", h)
	}
}

// TestLimiterReadSize: a huge read buffer takes at most MaxPacedRead per Read.
func TestLimiterReadSize(t *testing.T) {
	o := newTestOrigin(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 1<<20))
	})
	budget := origin.NewBudget(1e9)
	rt := &origin.Limiter{Budget: budget, Next: origin.NewTransport()}
	defer rt.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(hangGuard(t), http.MethodGet, o.srv.URL+"/live/a.ts", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 1<<20)
	for i := 0; i < 10; i++ {
		n, err := resp.Body.Read(buf)
		if n > origin.MaxPacedRead {
			t.Fatalf("Read returned %d bytes, more than %d", n, origin.MaxPacedRead)
		}
		if err != nil {
			break
		}
	}
}

type countingRT struct{ n atomic.Int32 }

func (c *countingRT) RoundTrip(*http.Request) (*http.Response, error) {
	c.n.Add(1)
	return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
}

func TestAllowlist(t *testing.T) {
	set := mustSet(t, "cdn", "https://cdn.corp.example/live/")
	tests := []struct {
		name string
		set  func() *origin.Set
		url  string
		ok   bool
	}{
		{"under origin", func() *origin.Set { return set }, "https://cdn.corp.example/live/a.ts?x=1", true},
		{"other host", func() *origin.Set { return set }, "https://evil.example/live/a.ts", false},
		{"traversal", func() *origin.Set { return set }, "https://cdn.corp.example/live/%2e%2e/x", false},
		{"no set", nil, "https://cdn.corp.example/live/a.ts", false},
		{"nil set", func() *origin.Set { return nil }, "https://cdn.corp.example/live/a.ts", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &countingRT{}
			a := &origin.Allowlist{Next: next, Set: tt.set}
			req, _ := http.NewRequest(http.MethodGet, tt.url, nil)
			_, err := a.RoundTrip(req)
			if tt.ok != (err == nil) || tt.ok != (next.n.Load() == 1) {
				t.Fatalf("RoundTrip = %v, next called %d times; want allowed: %v", err, next.n.Load(), tt.ok)
			}
			if !tt.ok && !errors.Is(err, origin.ErrNotAllowed) {
				t.Fatalf("err = %v, want ErrNotAllowed", err)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	o := newTestOrigin(t, func(hit int, w http.ResponseWriter, r *http.Request) {
		if hit == 1 {
			io.WriteString(w, "hello")
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	o.set = mustSet(t, "cdn", o.srv.URL+"/live/", "idle", "https://idle.example/")
	o.client.Retries = -1
	ctx := hangGuard(t)
	resp, err := o.client.Get(ctx, o.url(t, "a"))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for range 2 {
		if _, err := o.client.Get(ctx, o.url(t, "a")); err == nil {
			t.Fatal("Get succeeded on 503")
		}
	}
	h := o.client.Health()
	cdn := h["cdn"]
	if cdn.Requests != 3 || cdn.Bytes != 5 || cdn.Errors != 2 || cdn.ConsecutiveFailures != 2 ||
		cdn.LastError != "status 503" || cdn.LastSuccess.IsZero() || cdn.LastErrorAt.Before(cdn.LastSuccess) {
		t.Errorf("cdn health = %+v", cdn)
	}
	if idle, ok := h["idle"]; !ok || idle != (origin.OriginHealth{}) {
		t.Errorf("idle health = %+v, %v", idle, ok)
	}
	if len(h) != 2 {
		t.Errorf("health has %d origins, want 2", len(h))
	}
}

func TestHealthConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens here now
	set := mustSet(t, "dead", "http://"+addr+"/")
	c := &origin.Client{Set: func() *origin.Set { return set }, Retries: 2, Backoff: time.Millisecond}
	defer c.CloseIdleConnections()
	u, _ := set.Resolve("dead", "a.ts", "")
	if _, err := c.Get(hangGuard(t), u); err == nil {
		t.Fatal("Get succeeded against a closed port")
	}
	if h := c.Health()["dead"]; h.Requests != 3 || h.ConsecutiveFailures != 3 || h.LastError != "connection refused" {
		t.Errorf("health = %+v", h)
	}
}

func TestGetRedirectLoop(t *testing.T) {
	o := newTestOrigin(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	})
	_, err := o.client.Get(hangGuard(t), o.url(t, "loop"))
	if err == nil {
		t.Fatal("Get followed a redirect loop")
	}
	if got := o.hits.Load(); got != 5 {
		t.Errorf("origin saw %d requests, want 5 (redirect loops are not retried)", got)
	}
	if status, _ := origin.PublicError(err); status != http.StatusBadGateway {
		t.Errorf("PublicError status = %d", status)
	}
}
