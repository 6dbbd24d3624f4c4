package origin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"
)

// Defaults for the zero values of Client's fields.
const (
	DefaultHeaderTimeout  = 10 * time.Second
	DefaultIdleTimeout    = 15 * time.Second
	DefaultRetries        = 2
	DefaultBackoff        = 200 * time.Millisecond
	DefaultMaxObjectBytes = 256 << 20

	maxBackoff   = 10 * time.Second
	maxRedirects = 5
	maxDrain     = 4 << 10 // bytes of an error response read to keep its connection
)

var errTooManyRedirects = errors.New("too many redirects")

// Client fetches objects for the cache. Set its fields before the first call and
// do not change them afterwards; it is safe for concurrent use.
type Client struct {
	// Transport carries every request. nil: Allowlist -> Limiter(Budget) -> a tuned
	// *http.Transport (keep-alive, HTTP/2, no proxy, no transparent gzip). A
	// non-nil Transport is used as is; Get still checks every URL and redirect
	// against Set.
	Transport http.RoundTripper
	// DialControl, when set, runs on every new origin socket of the default
	// transport before it connects (the kernel shaper marks the box's video
	// traffic with SO_MARK here). nil: none.
	DialControl func(network, address string, c syscall.RawConn) error
	// Set returns the current allowlist (config reload swaps it). nil refuses all.
	Set func() *Set
	// Budget paces every body byte when Transport is nil. nil: unlimited. Change
	// its rate with SetRate; the Client keeps the Budget it first used.
	Budget *Budget
	// HeaderTimeout bounds each attempt until response headers. Zero: 10s.
	HeaderTimeout time.Duration
	// IdleTimeout fails a body Read that stalls longer than this; time spent
	// waiting for WAN budget does not count. Zero: 15s.
	IdleTimeout time.Duration
	// Retries is the number of extra attempts after connection errors, header
	// timeouts and 502/503/504. Zero: 2; negative: none.
	Retries int
	// Backoff is the first pause before a retry, doubled each retry, with jitter
	// of ±50%. Zero or negative: 200ms.
	Backoff time.Duration
	// MaxObjectBytes caps a body. Zero or negative: 256 MiB. A larger
	// Content-Length fails Get with ErrTooLarge; a body streaming past it makes
	// Read return ErrTooLarge.
	MaxObjectBytes int64
	// UserAgent is sent with every request when not empty.
	UserAgent string
	// Logger receives retries and failures. nil: discard.
	Logger *slog.Logger

	initOnce sync.Once
	rt       http.RoundTripper

	healthMu sync.Mutex
	health   map[string]*originStats
}

// Get fetches u, which must lie under an origin of Set, at the priority of ctx
// (PriorityFrom). A 2xx response is returned with its body paced by the budget,
// capped at MaxObjectBytes and guarded by IdleTimeout; the caller must close it.
// Otherwise the error is a *StatusError (after retries for 502/503/504), matches
// ErrTimeout, ErrTooLarge or ErrNotAllowed, or carries ctx's error. Once a body
// is returned nothing is retried. Canceling ctx stops everything at once.
func (c *Client) Get(ctx context.Context, u *url.URL) (*http.Response, error) {
	return c.Fetch(ctx, u, nil)
}

// Fetch is Get with extra request headers (Range, If-None-Match). A 206 is a
// success; a 304 is a *StatusError with Code 304.
func (c *Client) Fetch(ctx context.Context, u *url.URL, header http.Header) (*http.Response, error) {
	set := c.set()
	name, _, ok := set.Lookup(u)
	if !ok {
		return nil, fmt.Errorf("origin get: %w", ErrNotAllowed)
	}
	attempts := 1 + c.retries()
	var err error
	for i := range attempts {
		if i > 0 {
			if werr := sleep(ctx, c.backoff(i)); werr != nil {
				return nil, fmt.Errorf("origin %s: back-off: %w", name, werr)
			}
		}
		var resp *http.Response
		var retry bool
		resp, retry, err = c.attempt(ctx, set, name, u, header)
		if err == nil {
			return resp, nil
		}
		if !retry {
			return nil, err
		}
		if i+1 < attempts {
			c.log().Warn("origin attempt failed, retrying", "origin", name, "path", u.Path,
				"attempt", i+1, "of", attempts, "err", err)
		}
	}
	c.log().Warn("origin fetch failed", "origin", name, "path", u.Path, "attempts", attempts, "err", err)
	return nil, err
}

// attempt makes one request. retry reports whether a failure may be retried.
func (c *Client) attempt(ctx context.Context, set *Set, name string, u *url.URL, header http.Header) (resp *http.Response, retry bool, err error) {
	st := c.stats(name)
	actx, cancel := context.WithCancelCause(ctx)
	watch := newStallWatch(c.idleTimeout(), func() { cancel(errIdleTimeout) })
	req, err := http.NewRequestWithContext(withWatch(actx, watch), http.MethodGet, u.String(), nil)
	if err != nil {
		cancel(nil)
		return nil, false, fmt.Errorf("origin %s: new request: %w", name, err)
	}
	for k, v := range header {
		req.Header[k] = append([]string(nil), v...)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	hc := &http.Client{Transport: c.transport(), CheckRedirect: checkRedirect(set)}

	st.requests.Add(1)
	headerTimer := time.AfterFunc(c.headerTimeout(), func() { cancel(errHeaderTimeout) })
	resp, err = hc.Do(req)
	if !headerTimer.Stop() && err == nil { // the timer fired as the headers came in
		resp.Body.Close()
		resp, err = nil, errHeaderTimeout
	}
	if err != nil {
		err, retry = classify(ctx, actx, err)
		cancel(nil)
		if ctx.Err() == nil {
			st.failure(err)
		}
		return nil, retry, fmt.Errorf("origin %s: GET %s: %w", name, u.Path, err)
	}

	code := resp.StatusCode
	if code < 200 || code > 299 {
		watch.arm()
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		resp.Body.Close()
		watch.stop()
		cancel(nil)
		serr := &StatusError{Code: code, Origin: name}
		if code >= 500 {
			st.failure(serr)
		} else {
			st.success() // the origin answered
		}
		return nil, code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout, serr
	}
	limit := c.maxObjectBytes()
	if resp.ContentLength > limit {
		resp.Body.Close()
		cancel(nil)
		err := fmt.Errorf("origin %s: GET %s: content-length %d above %d: %w", name, u.Path, resp.ContentLength, limit, ErrTooLarge)
		st.failure(err)
		return nil, false, err
	}
	st.success()
	resp.Body = &body{
		rc: resp.Body, name: name, st: st,
		ctx: ctx, actx: actx, cancel: cancel, watch: watch, max: limit,
	}
	return resp, false, nil
}

// classify maps a transport error to what the caller sees and whether to retry.
func classify(ctx, actx context.Context, err error) (error, bool) {
	if ctx.Err() != nil {
		return ctxError(ctx), false
	}
	if cause := context.Cause(actx); errors.Is(cause, ErrTimeout) {
		return cause, true
	}
	var ue *url.Error
	if errors.As(err, &ue) { // drop the URL: its query may carry tokens
		err = ue.Err
	}
	var cverr *tls.CertificateVerificationError
	var nerr net.Error
	switch {
	case errors.Is(err, ErrNotAllowed), errors.Is(err, errTooManyRedirects), errors.As(err, &cverr):
		return err, false
	case errors.As(err, &nerr) && nerr.Timeout():
		return fmt.Errorf("%w: %w", ErrTimeout, err), true
	}
	return err, true
}

// ctxError is the error for a done ctx; a passed deadline also matches ErrTimeout.
func ctxError(ctx context.Context) error {
	cause := context.Cause(ctx)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(cause, ErrTimeout) {
		return fmt.Errorf("%w: %w", ErrTimeout, cause)
	}
	return cause
}

func checkRedirect(set *Set) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return errTooManyRedirects
		}
		if _, _, ok := set.Lookup(req.URL); !ok {
			return fmt.Errorf("redirect to host %q: %w", req.URL.Host, ErrNotAllowed)
		}
		return nil
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctxError(ctx)
	}
}

// CloseIdleConnections closes the idle connections of the transport.
func (c *Client) CloseIdleConnections() { closeIdle(c.transport()) }

func (c *Client) transport() http.RoundTripper {
	c.initOnce.Do(func() {
		c.rt = c.Transport
		if c.rt == nil {
			t := NewTransport()
			if c.DialControl != nil {
				d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: c.DialControl}
				t.DialContext = d.DialContext
			}
			c.rt = &Allowlist{Set: c.set, Next: &Limiter{Budget: c.Budget, Next: t}}
		}
	})
	return c.rt
}

// NewTransport returns the *http.Transport the Client uses by default: keep-alive,
// HTTP/2 when the origin offers it, no proxy from the environment, and no
// transparent gzip (the cache stores bytes as the origin sent them).
func NewTransport() *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    32,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
		ReadBufferSize:         32 << 10,
	}
}

func (c *Client) set() *Set {
	if c.Set == nil {
		return nil
	}
	return c.Set()
}

func (c *Client) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *Client) headerTimeout() time.Duration {
	return orDefault(c.HeaderTimeout, DefaultHeaderTimeout)
}
func (c *Client) idleTimeout() time.Duration { return orDefault(c.IdleTimeout, DefaultIdleTimeout) }

func (c *Client) retries() int {
	switch {
	case c.Retries == 0:
		return DefaultRetries
	case c.Retries < 0:
		return 0
	}
	return c.Retries
}

// backoff returns the pause before retry number retry (1-based): Backoff doubled
// each time, capped, with jitter in [d/2, 3d/2).
func (c *Client) backoff(retry int) time.Duration {
	d := orDefault(c.Backoff, DefaultBackoff)
	for i := 1; i < retry && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return d/2 + rand.N(d)
}

func (c *Client) maxObjectBytes() int64 {
	if c.MaxObjectBytes <= 0 {
		return DefaultMaxObjectBytes
	}
	return c.MaxObjectBytes
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
