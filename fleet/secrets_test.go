package fleet_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/osqdetect/osqdetect/fleet"
)

// secretToken has the shape of a Fleet API token (base64 of 32 random
// bytes).
const secretToken = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWpr"

// A server or proxy may echo what it was sent in any form: the token as
// is, cut short by a character, in base64 (alone or inside a larger
// encoded value such as a Basic or Bearer header), URL-safe base64. None
// of it may reach an error or a log.
func TestErrorBodiesNeverShowTheToken(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	echoes := map[string]string{
		"exact":              secretToken,
		"minus one":          secretToken[:len(secretToken)-1],
		"minus first":        secretToken[1:],
		"middle":             secretToken[5:30],
		"base64":             b64([]byte(secretToken)),
		"base64 of header":   b64([]byte("Bearer " + secretToken)),
		"base64 of userinfo": b64([]byte("api:" + secretToken)),
		"url-safe base64":    base64.RawURLEncoding.EncodeToString([]byte("x" + secretToken + "y")),
	}
	for name, echo := range echoes {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_ = json.NewEncoder(w).Encode(map[string]any{
					"message": "Authentication failed for " + echo,
					"errors":  []map[string]string{{"name": "base", "reason": "token " + echo + " is invalid"}},
				})
			}))
			defer srv.Close()
			var logs bytes.Buffer
			c, err := fleet.NewClient(srv.URL, fleet.WithToken(secretToken),
				fleet.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.ListLabels(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			text := err.Error() + "\n" + logs.String()
			if strings.Contains(text, echo) || leaksRun(text, secretToken, 8) || leaksEncoded(text) {
				t.Errorf("the echoed token shows:\n%s", text)
			}
			if !strings.Contains(text, "<redacted>") {
				t.Errorf("nothing redacted:\n%s", text)
			}
			if !strings.Contains(text, "Authentication failed for") {
				t.Errorf("Fleet's message lost:\n%s", text)
			}
		})
	}
}

// leaksRun reports whether text holds any n-byte run of secret.
func leaksRun(text, secret string, n int) bool {
	for i := 0; i+n <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+n]) {
			return true
		}
	}
	return false
}

// leaksEncoded reports whether any run of base64 characters in text
// decodes, at any alignment and in either alphabet, to bytes holding an
// 8-byte run of the token.
func leaksEncoded(text string) bool {
	isB64 := func(r rune) bool {
		return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("+/-_", r)
	}
	for _, word := range strings.FieldsFunc(text, func(r rune) bool { return !isB64(r) }) {
		for off := 0; off < 4 && off < len(word); off++ {
			w := word[off:]
			w = w[:len(w)/4*4]
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
				if b, err := enc.DecodeString(w); err == nil && leaksRun(string(b), secretToken, 8) {
					return true
				}
			}
		}
	}
	return false
}

// An HTTPS Fleet (or a proxy before it) answering a redirect to another
// scheme, host or port must not get the token sent there: Go's client keeps
// the Authorization header on a redirect to the same host name, even from
// https to http.
func TestRedirectElsewhereNeverGetsTheToken(t *testing.T) {
	var leaked atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Authorization"), secretToken) || strings.Contains(r.Header.Get("X-Proxy-Auth"), "proxy-secret") {
			leaked.Add(1)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"labels": []any{}})
	}))
	defer elsewhere.Close()
	elsewhereTLS := httptest.NewTLSServer(elsewhere.Config.Handler)
	defer elsewhereTLS.Close()

	for name, target := range map[string]string{
		"https to http, same host":     elsewhere.URL, // 127.0.0.1, plain http, another port
		"https to https, another port": elsewhereTLS.URL,
	} {
		t.Run(name, func(t *testing.T) {
			fleetSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target+r.URL.Path, http.StatusTemporaryRedirect)
			}))
			defer fleetSrv.Close()
			tr := fleetSrv.Client().Transport.(*http.Transport).Clone()
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
			c, err := fleet.NewClient(fleetSrv.URL, fleet.WithToken(secretToken), fleet.WithHTTPClient(&http.Client{Transport: tr}),
				fleet.WithHeader("X-Proxy-Auth", "proxy-secret"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.ListLabels(context.Background())
			if err == nil || !strings.Contains(err.Error(), "redirect") {
				t.Errorf("redirect to %s followed: %v", target, err)
			}
			if n := leaked.Load(); n > 0 {
				t.Errorf("the token or a custom header reached %s (%d requests)", target, n)
			}
		})
	}

	// A redirect within the same origin (a path change) is still followed.
	same := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/old/") {
			http.Redirect(w, r, strings.TrimPrefix(r.URL.Path, "/old")+"?"+r.URL.RawQuery, http.StatusTemporaryRedirect)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"labels": []map[string]any{{"id": 1, "name": "L"}}})
	}))
	defer same.Close()
	c, err := fleet.NewClient(same.URL, fleet.WithToken(secretToken), fleet.WithURLPrefix("/old"))
	if err != nil {
		t.Fatal(err)
	}
	if labels, err := c.ListLabels(context.Background()); err != nil || len(labels) != 1 {
		t.Errorf("same-origin redirect: %v %v", labels, err)
	}
}
