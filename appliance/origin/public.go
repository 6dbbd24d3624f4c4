package origin

import (
	"context"
	"errors"
	"net/http"
)

// PublicError maps an error of this package to the status and short message a
// LAN client may see. The message never holds upstream URLs or Go error text.
func PublicError(err error) (status int, msg string) {
	var se *StatusError
	switch {
	case err == nil:
		return http.StatusOK, ""
	case errors.Is(err, ErrUnknownOrigin):
		return http.StatusNotFound, "unknown origin"
	case errors.Is(err, ErrBadPath):
		return http.StatusBadRequest, "bad path"
	case errors.Is(err, ErrNotAllowed):
		return http.StatusForbidden, "not allowed"
	case errors.Is(err, ErrTooLarge):
		return http.StatusBadGateway, "object too large"
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "origin timeout"
	case errors.As(err, &se):
		return publicStatus(se.Code)
	}
	return http.StatusBadGateway, "origin unavailable"
}

func publicStatus(code int) (int, string) {
	switch {
	case code == http.StatusNotFound, code == http.StatusGone:
		return http.StatusNotFound, "not found"
	case code == http.StatusRequestedRangeNotSatisfiable:
		return code, "range not satisfiable"
	case code == http.StatusTooManyRequests:
		return http.StatusBadGateway, "origin busy"
	case code >= 400 && code < 500:
		return http.StatusBadGateway, "origin refused the request"
	}
	return http.StatusBadGateway, "origin error"
}
