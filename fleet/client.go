// Package fleet drives a Fleet server (fleetdm.com) for osqdetect: a REST
// and websocket client for Fleet's live-query API, fleet-wide hunts over the
// alerts table, and the GitOps YAML and osquery pack that deploy osqdetect's
// scheduled queries. Fleet does the distribution; this package only asks.
package fleet

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// apiPrefix is the versioned API root; "latest" is accepted by every Fleet
// release that has the live-query websocket.
const apiPrefix = "/api/latest/fleet"

// maxBodyBytes bounds any REST answer read into memory.
const maxBodyBytes = 64 << 20

// Client talks to one Fleet server with one API token. It is safe for
// concurrent use. The token is sent only in the Authorization header and the
// websocket auth message, and never appears in its errors or logs.
type Client struct {
	base       *url.URL // scheme://host[:port][/url-prefix], no trailing slash
	token      string
	http       *http.Client
	header     http.Header // custom headers sent on every request
	userAgent  string
	reqTimeout time.Duration
	logger     *slog.Logger

	mu       sync.Mutex
	newNames map[string]bool // path family -> server only knows the new name
}

// Option configures a Client.
type Option func(*clientConfig) error

type clientConfig struct {
	token         string
	httpClient    *http.Client
	rootCAFile    string
	insecure      bool
	urlPrefix     string
	header        http.Header
	userAgent     string
	reqTimeout    time.Duration
	logger        *slog.Logger
	allowInsecure bool
}

// WithToken sets the API token (an API-only user's token is best).
func WithToken(token string) Option {
	return func(c *clientConfig) error {
		c.token = strings.TrimSpace(token)
		return nil
	}
}

// WithHTTPClient uses hc for every request, REST and websocket alike. Its
// transport's TLS settings then win over WithRootCA and WithInsecureSkipVerify.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *clientConfig) error {
		if hc == nil {
			return errors.New("nil http client")
		}
		c.httpClient = hc
		return nil
	}
}

// WithRootCA trusts the PEM certificates in file (in addition to nothing
// else: the file is the whole trust store, as fleetctl's rootca is).
func WithRootCA(file string) Option {
	return func(c *clientConfig) error {
		c.rootCAFile = file
		return nil
	}
}

// WithInsecureSkipVerify turns TLS certificate verification off. Only for
// test servers; verification is on unless this is given.
func WithInsecureSkipVerify() Option {
	return func(c *clientConfig) error {
		c.insecure = true
		return nil
	}
}

// WithURLPrefix sets the path prefix Fleet is served under (fleetctl's
// url-prefix, Fleet's server.url_prefix).
func WithURLPrefix(prefix string) Option {
	return func(c *clientConfig) error {
		c.urlPrefix = "/" + strings.Trim(prefix, "/")
		if c.urlPrefix == "/" {
			c.urlPrefix = ""
		}
		return nil
	}
}

// WithHeader adds a header to every request (fleetctl's custom-headers, for
// an authenticating proxy in front of Fleet).
func WithHeader(name, value string) Option {
	return func(c *clientConfig) error {
		if c.header == nil {
			c.header = http.Header{}
		}
		if strings.EqualFold(name, "Authorization") {
			return errors.New("custom header Authorization would replace the API token")
		}
		c.header.Set(name, value)
		return nil
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(c *clientConfig) error {
		c.userAgent = ua
		return nil
	}
}

// WithRequestTimeout bounds each REST request (default 60 s). Websocket
// streams are bounded by their context only.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *clientConfig) error {
		if d <= 0 {
			return fmt.Errorf("request timeout %v is not positive", d)
		}
		c.reqTimeout = d
		return nil
	}
}

// WithLogger logs each request's method, path, status and duration at debug
// level. Tokens and bodies are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *clientConfig) error {
		c.logger = l
		return nil
	}
}

// WithPlainHTTP allows an http:// address that is not a loopback address,
// which sends the token in clear text. Loopback http is always allowed.
func WithPlainHTTP() Option {
	return func(c *clientConfig) error {
		c.allowInsecure = true
		return nil
	}
}

// NewClient returns a client for the Fleet server at baseURL
// ("https://fleet.example.com"). TLS certificates are verified unless
// WithInsecureSkipVerify is given.
func NewClient(baseURL string, opts ...Option) (*Client, error) {
	cfg := clientConfig{reqTimeout: 60 * time.Second, userAgent: "osqdetect"}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("configuring fleet client: %w", err)
		}
	}
	u, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "http" && !cfg.allowInsecure && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("fleet address %s uses plain http: the API token would cross the network unencrypted; use https", u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/") + cfg.urlPrefix
	hc := cfg.httpClient
	if hc == nil {
		tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.rootCAFile != "" {
			pem, err := os.ReadFile(cfg.rootCAFile)
			if err != nil {
				return nil, fmt.Errorf("reading root CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("root CA file %s holds no PEM certificate", cfg.rootCAFile)
			}
			tlsConf.RootCAs = pool
		}
		if cfg.insecure {
			tlsConf.InsecureSkipVerify = true
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tlsConf
		tr.MaxIdleConnsPerHost = 8
		hc = &http.Client{Transport: tr}
	}
	// The token and custom headers go only to the origin given: Go's client
	// keeps them on a redirect to the same host name, even from https to
	// http or to another port.
	hc = sameOriginRedirects(hc, u)
	logger := cfg.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Client{
		base:       u,
		token:      cfg.token,
		http:       hc,
		header:     cfg.header,
		userAgent:  cfg.userAgent,
		reqTimeout: cfg.reqTimeout,
		logger:     logger,
		newNames:   map[string]bool{},
	}, nil
}

func parseBaseURL(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("fleet address is empty")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("parsing fleet address: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("fleet address %q: scheme must be https", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("fleet address %q has no host", u.Redacted())
	}
	if u.User != nil {
		return nil, errors.New("fleet address must not carry user credentials")
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// sameOriginRedirects returns a copy of hc that follows a redirect only to
// base's scheme, host and port, and otherwise stops with an error naming
// where it was sent. A caller's own redirect policy still applies after.
func sameOriginRedirects(hc *http.Client, base *url.URL) *http.Client {
	cp := *hc
	prev := hc.CheckRedirect
	origin := originOf(base)
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if got := originOf(req.URL); got != origin {
			return fmt.Errorf("refusing a redirect from %s to %s: a different scheme, host or port would receive the API token", origin, got)
		}
		if prev != nil {
			return prev(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &cp
}

// originOf is scheme://host:port with the default port made explicit.
func originOf(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https", "wss":
			port = "443"
		case "http", "ws":
			port = "80"
		}
	}
	scheme := u.Scheme
	switch scheme {
	case "wss":
		scheme = "https"
	case "ws":
		scheme = "http"
	}
	return scheme + "://" + strings.ToLower(net.JoinHostPort(u.Hostname(), port))
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// BaseURL returns the server address the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// endpoint joins the API root and path; path is already escaped and may
// carry a query string.
func (c *Client) endpoint(path string) string {
	return c.base.String() + apiPrefix + path
}

// do sends one JSON request and decodes a 2xx answer into out (when not nil).
// A non-2xx answer becomes an *ErrorResponse. Errors never carry the token.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	return c.scrub(c.doRaw(ctx, method, path, in, out))
}

func (c *Client) doRaw(ctx context.Context, method, path string, in, out any) error {
	if c.token == "" {
		return errors.New("no Fleet API token configured")
	}
	ctx, cancel := context.WithTimeout(ctx, c.reqTimeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding request for %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint(path), body)
	if err != nil {
		return fmt.Errorf("building request %s %s: %w", method, path, err)
	}
	c.setHeaders(req.Header)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.logger.DebugContext(ctx, "fleet request failed", "method", method, "path", path, "error", redact(err.Error(), c.token))
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	c.logger.DebugContext(ctx, "fleet request", "method", method, "path", path, "status", resp.StatusCode, "duration", time.Since(start))
	if err != nil {
		return fmt.Errorf("%s %s: reading answer: %w", method, path, err)
	}
	if len(raw) > maxBodyBytes {
		return fmt.Errorf("%s %s: answer larger than %d bytes", method, path, maxBodyBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.errorResponse(method, path, resp.StatusCode, raw)
	}
	if out == nil || len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
	}
	return nil
}

func (c *Client) setHeaders(h http.Header) {
	for k, v := range c.header {
		h[k] = append([]string(nil), v...)
	}
	h.Set("Authorization", "Bearer "+c.token)
	if c.userAgent != "" {
		h.Set("User-Agent", c.userAgent)
	}
}

func (c *Client) errorResponse(method, path string, status int, raw []byte) *ErrorResponse {
	er := &ErrorResponse{StatusCode: status, Method: method, Path: path}
	// Fleet's error body is JSON; anything else (a router 404, a proxy page)
	// leaves the Fleet fields empty.
	if json.Unmarshal(raw, er) != nil {
		er.Message, er.Errors, er.UUID = "", nil, ""
	}
	er.Message = redact(er.Message, c.token)
	er.UUID = redact(er.UUID, c.token)
	for i := range er.Errors {
		er.Errors[i].Name = redact(er.Errors[i].Name, c.token)
		er.Errors[i].Reason = redact(er.Errors[i].Reason, c.token)
	}
	return er
}

// withFallback calls try with the old path name first and, when the server
// does not know that route, with the new one. Fleet renamed queries to
// reports and teams to fleets; current servers still accept the old names
// and older servers know only those. The answer is remembered per family.
func (c *Client) withFallback(family, oldPath, newPath string, try func(path string) error) error {
	c.mu.Lock()
	useNew := c.newNames[family]
	c.mu.Unlock()
	if useNew {
		return try(newPath)
	}
	err := try(oldPath)
	if !routeMissing(err) {
		return err
	}
	if err2 := try(newPath); !routeMissing(err2) {
		if err2 == nil {
			c.mu.Lock()
			c.newNames[family] = true
			c.mu.Unlock()
		}
		return err2
	}
	return err
}
