package origin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/outpost-ecdn/outpost/appliance/origin"
)

func TestPublicError(t *testing.T) {
	internal := "https://cdn.corp.example/live/a.ts?token=secret"
	wrap := func(err error) error { return fmt.Errorf("fetch %s: dial tcp 10.0.0.1:443: %w", internal, err) }
	status := func(code int) error { return wrap(&origin.StatusError{Code: code, Origin: "cdn"}) }
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, http.StatusOK},
		{"unknown origin", wrap(origin.ErrUnknownOrigin), http.StatusNotFound},
		{"bad path", wrap(origin.ErrBadPath), http.StatusBadRequest},
		{"not allowed", wrap(origin.ErrNotAllowed), http.StatusForbidden},
		{"origin 404", status(404), http.StatusNotFound},
		{"origin 410", status(410), http.StatusNotFound},
		{"origin 403", status(403), http.StatusBadGateway},
		{"origin 401", status(401), http.StatusBadGateway},
		{"origin 400", status(400), http.StatusBadGateway},
		{"origin 416", status(416), http.StatusRequestedRangeNotSatisfiable},
		{"origin 429", status(429), http.StatusBadGateway},
		{"origin 304", status(304), http.StatusBadGateway},
		{"origin 500", status(500), http.StatusBadGateway},
		{"origin 503", status(503), http.StatusBadGateway},
		{"origin 504", status(504), http.StatusBadGateway},
		{"timeout", wrap(origin.ErrTimeout), http.StatusGatewayTimeout},
		{"deadline", wrap(context.DeadlineExceeded), http.StatusGatewayTimeout},
		{"too large", wrap(origin.ErrTooLarge), http.StatusBadGateway},
		{"canceled", wrap(context.Canceled), http.StatusBadGateway},
		{"other", wrap(errors.New("x509: certificate signed by unknown authority")), http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := origin.PublicError(tt.err)
			if got != tt.want {
				t.Errorf("PublicError = %d %q, want %d", got, msg, tt.want)
			}
			if tt.err == nil {
				return
			}
			if msg == "" || len(msg) > 40 {
				t.Errorf("message %q: want short and not empty", msg)
			}
			for _, leak := range []string{"cdn.corp.example", "token", "10.0.0.1", "dial", "x509", "status", tt.err.Error()} {
				if strings.Contains(msg, leak) {
					t.Errorf("message %q leaks %q", msg, leak)
				}
			}
		})
	}
}
