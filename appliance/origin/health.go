package origin

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// OriginHealth is what /api/v1/status shows for one origin. An attempt succeeds
// when the origin answers with a status below 500; it fails on connection errors,
// timeouts, 5xx, oversized objects and body read errors (not when the caller
// gives up).
type OriginHealth struct {
	LastSuccess         time.Time `json:"last_success,omitzero"`
	LastError           string    `json:"last_error,omitempty"` // short, e.g. "status 503", "connection refused"
	LastErrorAt         time.Time `json:"last_error_at,omitzero"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	Requests            int64     `json:"requests"` // HTTP attempts sent, retries included
	Bytes               int64     `json:"bytes"`    // body bytes read by callers
	Errors              int64     `json:"errors"`   // failures
}

type originStats struct {
	requests, bytes, errors atomic.Int64

	mu          sync.Mutex
	lastSuccess time.Time
	lastError   string
	lastErrorAt time.Time
	consecutive int
}

func (s *originStats) success() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastSuccess = time.Now()
	s.consecutive = 0
}

func (s *originStats) failure(err error) {
	s.errors.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastError = shortError(err)
	s.lastErrorAt = time.Now()
	s.consecutive++
}

func (s *originStats) snapshot() OriginHealth {
	s.mu.Lock()
	defer s.mu.Unlock()
	return OriginHealth{
		LastSuccess:         s.lastSuccess,
		LastError:           s.lastError,
		LastErrorAt:         s.lastErrorAt,
		ConsecutiveFailures: s.consecutive,
		Requests:            s.requests.Load(),
		Bytes:               s.bytes.Load(),
		Errors:              s.errors.Load(),
	}
}

func (c *Client) stats(name string) *originStats {
	c.healthMu.Lock()
	defer c.healthMu.Unlock()
	if c.health == nil {
		c.health = make(map[string]*originStats)
	}
	s := c.health[name]
	if s == nil {
		s = &originStats{}
		c.health[name] = s
	}
	return s
}

// Health returns the health of every origin in the current Set, keyed by name.
func (c *Client) Health() map[string]OriginHealth {
	names := c.set().Names()
	out := make(map[string]OriginHealth, len(names))
	for _, name := range names {
		c.healthMu.Lock()
		s := c.health[name]
		c.healthMu.Unlock()
		if s == nil {
			out[name] = OriginHealth{}
			continue
		}
		out[name] = s.snapshot()
	}
	return out
}

// shortError names a failure in a few words for the status page.
func shortError(err error) string {
	var (
		se   *StatusError
		dns  *net.DNSError
		cert *tls.CertificateVerificationError
		uae  x509.UnknownAuthorityError
		rhe  tls.RecordHeaderError
		alrt tls.AlertError
	)
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("status %d", se.Code)
	case errors.Is(err, errHeaderTimeout):
		return "timeout waiting for headers"
	case errors.Is(err, errIdleTimeout):
		return "body stalled"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrTooLarge):
		return "object too large"
	case errors.Is(err, ErrNotAllowed):
		return "redirect outside the allowlist"
	case errors.Is(err, errTooManyRedirects):
		return "too many redirects"
	case errors.As(err, &dns):
		return "dns lookup failed"
	case errors.As(err, &cert), errors.As(err, &uae):
		return "tls certificate rejected"
	case errors.As(err, &rhe), errors.As(err, &alrt):
		return "tls handshake failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset"
	}
	return "request failed"
}
