package origin

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// maxPacedRead caps one body Read so that a caller with a huge buffer cannot take
// a large bite of the budget at once. It fits in minBurst.
const maxPacedRead = 32 << 10

var (
	_ http.RoundTripper = (*Limiter)(nil)
	_ http.RoundTripper = (*Allowlist)(nil)
)

// Limiter paces response bodies through a Budget: each Read of the body waits for
// tokens for the bytes read, at the priority of the request's context
// (PriorityFrom). Request headers and bodies are not counted.
type Limiter struct {
	Next   http.RoundTripper // nil: http.DefaultTransport
	Budget *Budget           // nil: unlimited
}

// RoundTrip implements http.RoundTripper.
func (l *Limiter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := next(l.Next).RoundTrip(req)
	if err != nil || l.Budget == nil || resp.Body == nil || resp.Body == http.NoBody {
		return resp, err
	}
	ctx := req.Context()
	resp.Body = &pacedBody{
		rc:     resp.Body,
		ctx:    ctx,
		budget: l.Budget,
		prio:   PriorityFrom(ctx),
		watch:  watchFrom(ctx),
	}
	return resp, nil
}

// CloseIdleConnections forwards to Next.
func (l *Limiter) CloseIdleConnections() { closeIdle(next(l.Next)) }

type pacedBody struct {
	rc     io.ReadCloser
	ctx    context.Context
	budget *Budget
	prio   Priority
	watch  *stallWatch // nil unless the request came from a Client
}

func (b *pacedBody) Read(p []byte) (int, error) {
	if len(p) > maxPacedRead {
		p = p[:maxPacedRead]
	}
	n, err := b.rc.Read(p)
	if n > 0 {
		b.watch.disarm() // waiting for tokens is not a stall of the origin
		werr := b.budget.Wait(b.ctx, n, b.prio)
		b.watch.arm()
		if werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}

func (b *pacedBody) Close() error { return b.rc.Close() }

// Allowlist refuses every request whose URL is not under an origin of Set(), as
// defence in depth behind the checks of the caller. Errors match ErrNotAllowed.
type Allowlist struct {
	Next http.RoundTripper // nil: http.DefaultTransport
	Set  func() *Set       // current origins; nil or returning nil refuses everything
}

// RoundTrip implements http.RoundTripper.
func (a *Allowlist) RoundTrip(req *http.Request) (*http.Response, error) {
	var s *Set
	if a.Set != nil {
		s = a.Set()
	}
	if _, _, ok := s.Lookup(req.URL); !ok {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("allowlist: %s to host %q: %w", req.Method, req.URL.Host, ErrNotAllowed)
	}
	return next(a.Next).RoundTrip(req)
}

// CloseIdleConnections forwards to Next.
func (a *Allowlist) CloseIdleConnections() { closeIdle(next(a.Next)) }

func next(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		return http.DefaultTransport
	}
	return rt
}

func closeIdle(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
