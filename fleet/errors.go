package fleet

import (
	"encoding/base64"
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

// minSecretRun is the shortest run of a secret's characters (or of its
// base64 forms) that redact hides: long enough not to hide ordinary words
// by chance, short enough that a secret cut by a few characters, or a part
// of it, is still hidden.
const minSecretRun = 8

// redact replaces in s the secret and every run of at least minSecretRun
// bytes of it or of its base64 encodings (standard and URL alphabets, at
// the three byte alignments the secret can have inside a larger encoded
// value such as "Bearer <token>" or "user:<token>"). A secret shorter than
// minSecretRun is replaced where it appears whole.
func redact(s, secret string) string {
	if secret == "" || s == "" {
		return s
	}
	if len(secret) < minSecretRun {
		return strings.ReplaceAll(s, secret, "<redacted>")
	}
	runs := secretRuns(secret)
	hide := make([]bool, len(s))
	found := false
	for i := 0; i+minSecretRun <= len(s); i++ {
		if _, ok := runs[s[i:i+minSecretRun]]; ok {
			for j := i; j < i+minSecretRun; j++ {
				hide[j] = true
			}
			found = true
		}
	}
	if !found {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if !hide[i] {
			b.WriteByte(s[i])
			i++
			continue
		}
		b.WriteString("<redacted>")
		for i < len(s) && hide[i] {
			i++
		}
	}
	return b.String()
}

// secretRuns returns every minSecretRun-byte run of the secret and of its
// base64 forms.
func secretRuns(secret string) map[string]struct{} {
	forms := []string{secret}
	for shift := 0; shift < 3; shift++ {
		// Encoded after shift other bytes, the secret's own characters
		// start at a whole 3-byte group; the first encoded group then
		// mixes in the unknown bytes before it, so it is dropped, and so
		// is a last group that a following byte would change.
		pad := strings.Repeat("\x00", shift)
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			e := enc.EncodeToString([]byte(pad + secret))
			first := 0
			if shift > 0 {
				first = 4
			}
			last := len(e)
			if (shift+len(secret))%3 != 0 {
				last--
			}
			if last-first >= minSecretRun {
				forms = append(forms, e[first:last])
			}
		}
	}
	runs := map[string]struct{}{}
	for _, f := range forms {
		for i := 0; i+minSecretRun <= len(f); i++ {
			runs[f[i:i+minSecretRun]] = struct{}{}
		}
	}
	return runs
}

// scrub wraps err so that its text never shows the API token, whatever a
// server, proxy or transport put into it.
func (c *Client) scrub(err error) error {
	if err == nil || c.token == "" {
		return err
	}
	if text := err.Error(); redact(text, c.token) == text {
		return err
	}
	return &redactedError{err: err, secret: c.token}
}
