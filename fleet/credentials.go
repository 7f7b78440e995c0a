package fleet

import (
	"io"
	"syscall"

	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Environment variables read by LoadCredentials.
const (
	EnvURL   = "FLEET_URL"
	EnvToken = "FLEET_API_TOKEN"
)

// Credentials say where Fleet is and how to authenticate. Printing them
// with fmt never shows the token.
type Credentials struct {
	Address       string
	Token         string
	TLSSkipVerify bool
	RootCA        string // path to a PEM file
	URLPrefix     string
	CustomHeaders map[string]string
	// Source says where they came from: "environment" or
	// "<config path> (context <name>)".
	Source string
}

// String describes the credentials without the token.
func (c Credentials) String() string {
	tok := "none"
	if c.Token != "" {
		tok = "<redacted>"
	}
	return fmt.Sprintf("fleet %s token %s from %s", c.Address, tok, c.Source)
}

// GoString is String, so %#v does not print the token either.
func (c Credentials) GoString() string { return c.String() }

// Options turns the credentials into client options.
func (c Credentials) Options() []Option {
	opts := []Option{WithToken(c.Token)}
	if c.RootCA != "" {
		opts = append(opts, WithRootCA(c.RootCA))
	}
	if c.TLSSkipVerify {
		opts = append(opts, WithInsecureSkipVerify())
	}
	if c.URLPrefix != "" {
		opts = append(opts, WithURLPrefix(c.URLPrefix))
	}
	names := make([]string, 0, len(c.CustomHeaders))
	for k := range c.CustomHeaders {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		opts = append(opts, WithHeader(k, c.CustomHeaders[k]))
	}
	return opts
}

// CredentialSource says where LoadCredentials looks.
type CredentialSource struct {
	// ConfigPath is fleetctl's config file; empty means ~/.fleet/config.
	ConfigPath string
	// Context is the fleetctl context; empty means "default".
	Context string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// HomeDir is used for the default config path; empty means the user's.
	HomeDir string
}

// maxConfigBytes bounds the fleetctl config file read into memory.
const maxConfigBytes = 1 << 20

// ErrNoCredentials is returned when neither the environment nor a fleetctl
// config file gives an address and a token.
var ErrNoCredentials = errors.New("no Fleet credentials: set FLEET_URL and FLEET_API_TOKEN, or log in with fleetctl (fleetctl login / fleetctl config set)")

// ErrBadConfig matches an error from LoadCredentials caused by the
// fleetctl config file itself: missing when named, unreadable or not a
// valid config. It is bad input, not a runtime failure.
var ErrBadConfig = errors.New("bad fleetctl config")

type configError struct{ err error }

func (e *configError) Error() string        { return e.err.Error() }
func (e *configError) Unwrap() error        { return e.err }
func (e *configError) Is(target error) bool { return target == ErrBadConfig }

// LoadCredentials finds Fleet credentials. An explicit config path or
// context means fleetctl's config file. Otherwise FLEET_API_TOKEN (with
// FLEET_URL) wins, and fleetctl's default config file is the fallback, so a
// fleetctl user needs no setup.
func LoadCredentials(src CredentialSource) (Credentials, error) {
	getenv := src.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	explicit := src.ConfigPath != "" || src.Context != ""
	if !explicit && getenv(EnvToken) != "" {
		addr := getenv(EnvURL)
		if addr == "" {
			return Credentials{}, fmt.Errorf("%s is set but %s is not", EnvToken, EnvURL)
		}
		return Credentials{Address: addr, Token: getenv(EnvToken), Source: "environment"}, nil
	}
	path := src.ConfigPath
	if path == "" {
		home := src.HomeDir
		if home == "" {
			var err error
			if home, err = os.UserHomeDir(); err != nil {
				return Credentials{}, ErrNoCredentials
			}
		}
		path = filepath.Join(home, ".fleet", "config")
	}
	name := src.Context
	if name == "" {
		name = "default"
	}
	data, err := readConfigFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !explicit {
			return Credentials{}, ErrNoCredentials
		}
		return Credentials{}, &configError{fmt.Errorf("reading fleetctl config: %w", err)}
	}
	if len(data) > maxConfigBytes {
		return Credentials{}, &configError{fmt.Errorf("fleetctl config %s: larger than %d bytes", path, maxConfigBytes)}
	}
	creds, err := ParseFleetctlConfig(data, name)
	if err != nil {
		return Credentials{}, &configError{fmt.Errorf("fleetctl config %s: %w", path, err)}
	}
	creds.Source = fmt.Sprintf("%s (context %s)", path, name)
	if creds.Address == "" || creds.Token == "" {
		return Credentials{}, fmt.Errorf("fleetctl config %s, context %q: no address or token (run fleetctl login)", path, name)
	}
	return creds, nil
}

// readConfigFile reads a regular file of at most maxConfigBytes+1 bytes; a
// FIFO or device (which could block forever) is refused unread.
func readConfigFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
}

// ParseFleetctlConfig reads one context from the contents of fleetctl's
// config file:
//
//	contexts:
//	  default:
//	    address: https://fleet.example.com
//	    token: ...
//	    tls-skip-verify: false
//	    rootca: /path/ca.pem
//	    url-prefix: ""
//	    custom-headers:
//	      X-Proxy-Auth: ...
func ParseFleetctlConfig(data []byte, contextName string) (Credentials, error) {
	doc, err := parseFleetctlFile(data)
	if err != nil {
		return Credentials{}, err
	}
	if doc.Contexts == nil {
		return Credentials{}, errors.New(`no "contexts" mapping`)
	}
	ctx, ok := doc.Contexts[contextName]
	if !ok {
		names := make([]string, 0, len(doc.Contexts))
		for n := range doc.Contexts {
			names = append(names, n)
		}
		sort.Strings(names)
		return Credentials{}, fmt.Errorf("no context %q (contexts: %s)", contextName, strings.Join(names, ", "))
	}
	if ctx == nil {
		return Credentials{}, nil
	}
	c := Credentials{
		Address: ctx.Address, Token: ctx.Token, RootCA: ctx.RootCA, URLPrefix: ctx.URLPrefix,
		TLSSkipVerify: bool(ctx.TLSSkipVerify),
	}
	if len(ctx.CustomHeaders) > 0 {
		c.CustomHeaders = ctx.CustomHeaders
	}
	return c, nil
}
