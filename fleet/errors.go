package fleet

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors an *ErrorResponse matches with errors.Is, by HTTP status.
var (
	ErrBadRequest    = errors.New("fleet: bad request")           // 400
	ErrUnauthorized  = errors.New("fleet: authentication failed") // 401
	ErrForbidden     = errors.New("fleet: forbidden")             // 403
	ErrNotFound      = errors.New("fleet: not found")             // 404
	ErrConflict      = errors.New("fleet: conflict")              // 409
	ErrUnprocessable = errors.New("fleet: validation failed")     // 422
	ErrRateLimited   = errors.New("fleet: rate limited")          // 429
	ErrServer        = errors.New("fleet: server error")          // 5xx
)

// ErrorDetail is one entry of the "errors" list in Fleet's error body.
type ErrorDetail struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// ErrorResponse is a non-2xx answer from the Fleet API. It keeps Fleet's
// documented error body ({message, errors[{name, reason}], uuid}) and the
// HTTP status. A body that is not Fleet's JSON (a proxy page, a router's
// plain "404 page not found") leaves Message empty.
type ErrorResponse struct {
	StatusCode int           `json:"-"`
	Method     string        `json:"-"`
	Path       string        `json:"-"` // request path, never the query string
	Message    string        `json:"message"`
	Errors     []ErrorDetail `json:"errors"`
	UUID       string        `json:"uuid"`
}

// Error renders the status, the request and Fleet's reasons on one line.
func (e *ErrorResponse) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	for _, d := range e.Errors {
		if d.Reason == "" || d.Reason == e.Message {
			continue
		}
		b.WriteString("; ")
		if d.Name != "" && d.Name != "base" {
			b.WriteString(d.Name)
			b.WriteString(": ")
		}
		b.WriteString(d.Reason)
	}
	if e.UUID != "" {
		b.WriteString(" (error uuid ")
		b.WriteString(e.UUID)
		b.WriteString(")")
	}
	return b.String()
}

// Is lets errors.Is match the sentinel errors by status code.
func (e *ErrorResponse) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrUnprocessable:
		return e.StatusCode == http.StatusUnprocessableEntity
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrServer:
		return e.StatusCode >= 500
	}
	return false
}

// routeMissing reports whether err is a 404 for an unknown route rather
// than for a missing resource: Fleet answers a missing resource with its
// JSON error body, while an unregistered path gets the router's plain text.
func routeMissing(err error) bool {
	var er *ErrorResponse
	return errors.As(err, &er) && er.StatusCode == http.StatusNotFound && er.Message == ""
}

// redactedError hides a secret in an error's text while keeping the chain
// for errors.Is and errors.As.
type redactedError struct {
	err    error
	secret string
}

func (r *redactedError) Error() string { return redact(r.err.Error(), r.secret) }
func (r *redactedError) Unwrap() error { return r.err }

// redact replaces every occurrence of secret in s.
func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "<redacted>")
}

// scrub wraps err so that its text never shows the API token, whatever a
// server, proxy or transport put into it.
func (c *Client) scrub(err error) error {
	if err == nil || c.token == "" {
		return err
	}
	if !strings.Contains(err.Error(), c.token) {
		return err
	}
	return &redactedError{err: err, secret: c.token}
}
