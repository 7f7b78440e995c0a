package fleet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fleetctlConfig is what fleetctl (ghodss/yaml over yaml.v2) writes after
// "fleetctl login" and "fleetctl config set".
const fleetctlConfig = `contexts:
  default:
    address: https://fleet.example.com
    email: admin@example.com
    rootca: ""
    tls-skip-verify: false
    token: abc+def/ghi==
    url-prefix: ""
  staging:
    address: 'https://fleet.staging.example.com:8443'
    custom-headers:
      X-Proxy-Auth: "s3cr:et"
    email: admin@example.com
    rootca: /etc/fleet/ca.pem
    tls-skip-verify: true # self-signed in staging
    token: "tok\"en"
    url-prefix: /fleet
  empty: {}
`

func TestParseFleetctlConfig(t *testing.T) {
	c, err := ParseFleetctlConfig([]byte(fleetctlConfig), "default")
	if err != nil {
		t.Fatal(err)
	}
	if c.Address != "https://fleet.example.com" || c.Token != "abc+def/ghi==" || c.TLSSkipVerify || c.RootCA != "" || c.URLPrefix != "" {
		t.Errorf("default context: %+v", c)
	}
	c, err = ParseFleetctlConfig([]byte(fleetctlConfig), "staging")
	if err != nil {
		t.Fatal(err)
	}
	if c.Address != "https://fleet.staging.example.com:8443" || c.Token != `tok"en` || !c.TLSSkipVerify ||
		c.RootCA != "/etc/fleet/ca.pem" || c.URLPrefix != "/fleet" || c.CustomHeaders["X-Proxy-Auth"] != "s3cr:et" {
		t.Errorf("staging context: %#v %q", c, c.Token)
	}
	if c, err = ParseFleetctlConfig([]byte(fleetctlConfig), "empty"); err != nil || c.Address != "" {
		t.Errorf("empty context: %v %v", c, err)
	}
	_, err = ParseFleetctlConfig([]byte(fleetctlConfig), "prod")
	if err == nil || !strings.Contains(err.Error(), `no context "prod" (contexts: default, empty, staging)`) {
		t.Errorf("missing context: %v", err)
	}
}

// Every valid YAML spelling of the config loads: flow mappings, block
// scalars, anchors, quoted booleans, YAML 1.1 words, comments.
func TestParseFleetctlConfigAnyYAML(t *testing.T) {
	cases := map[string]string{
		"flow mapping":  "contexts: {default: {address: https://f.example.com, token: t0k, tls-skip-verify: true}}\n",
		"block scalar":  "contexts:\n  default:\n    address: https://f.example.com\n    token: |-\n      t0k\n    tls-skip-verify: yes\n",
		"folded scalar": "contexts:\n  default:\n    address: >-\n      https://f.example.com\n    token: 't0k'\n    tls-skip-verify: \"true\"\n",
		"anchor":        "base: &b\n  address: https://f.example.com\n  tls-skip-verify: on\ncontexts:\n  default:\n    <<: *b\n    token: t0k\n",
		"document":      "---\n# fleetctl\ncontexts:\n  default:\n    address: \"https://f.example.com\" # main\n    token: \"t0k\"\n    tls-skip-verify: True\n...\n",
	}
	for name, in := range cases {
		c, err := ParseFleetctlConfig([]byte(in), "default")
		if err != nil || c.Address != "https://f.example.com" || c.Token != "t0k" || !c.TLSSkipVerify {
			t.Errorf("%s: %+v %v", name, c, err)
		}
	}
	bad := map[string]string{
		"a: 1\na: 2\n": "already defined",
		"contexts:\n  default:\n    tls-skip-verify: maybe\n": `"maybe" is not a boolean`,
		"contexts: [a]\n": "cannot unmarshal",
		"\ta: 1\n":        "cannot start any token",
		"justtext\n":      "line 1: cannot unmarshal",
		"other: 1\n":      "no \"contexts\"",
	}
	for in, want := range bad {
		_, err := ParseFleetctlConfig([]byte(in), "default")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want error containing %q", in, err, want)
		}
	}
}

func FuzzParseFleetctlConfig(f *testing.F) {
	f.Add([]byte(fleetctlConfig))
	f.Add([]byte("contexts:\n  default: {}\n"))
	f.Add([]byte("a: \"\\u12\"\n"))
	f.Add([]byte("a:\n  b:\n    c: 'x\n  y'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseFleetctlConfig(data, "default")
		if err != nil || c.Token == "" {
			return
		}
		// What prints must not depend on the token's value.
		other := c
		other.Token = "x"
		if fmt.Sprintf("%v %+v %#v", c, c, c) != fmt.Sprintf("%v %+v %#v", other, other, other) {
			t.Errorf("printing credentials depends on the token: %s", c)
		}
	})
}

func TestLoadCredentials(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".fleet"), 0o700)
	os.WriteFile(filepath.Join(home, ".fleet", "config"), []byte(fleetctlConfig), 0o600)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	c, err := LoadCredentials(CredentialSource{HomeDir: home, Getenv: env(nil)})
	if err != nil || c.Address != "https://fleet.example.com" || !strings.Contains(c.Source, "context default") {
		t.Errorf("default file: %v %v", c, err)
	}
	c, err = LoadCredentials(CredentialSource{HomeDir: home, Getenv: env(map[string]string{EnvURL: "https://env", EnvToken: "envtok"})})
	if err != nil || c.Address != "https://env" || c.Token != "envtok" || c.Source != "environment" {
		t.Errorf("environment: %v %v", c, err)
	}
	c, err = LoadCredentials(CredentialSource{HomeDir: home, Context: "staging", Getenv: env(map[string]string{EnvURL: "https://env", EnvToken: "envtok"})})
	if err != nil || c.Address != "https://fleet.staging.example.com:8443" {
		t.Errorf("explicit context beats the environment: %v %v", c, err)
	}
	_, err = LoadCredentials(CredentialSource{HomeDir: home, Getenv: env(map[string]string{EnvToken: "envtok"})})
	if err == nil || !strings.Contains(err.Error(), "FLEET_URL") {
		t.Errorf("token without URL: %v", err)
	}
	_, err = LoadCredentials(CredentialSource{HomeDir: t.TempDir(), Getenv: env(nil)})
	if !errors.Is(err, ErrNoCredentials) {
		t.Errorf("nothing configured: %v", err)
	}
	_, err = LoadCredentials(CredentialSource{ConfigPath: filepath.Join(home, "nope"), Getenv: env(nil)})
	if err == nil || errors.Is(err, ErrNoCredentials) {
		t.Errorf("explicit missing config file: %v", err)
	}
	_, err = LoadCredentials(CredentialSource{HomeDir: home, Context: "empty", Getenv: env(nil)})
	if err == nil || !strings.Contains(err.Error(), "no address or token") {
		t.Errorf("empty context: %v", err)
	}
	c, _ = LoadCredentials(CredentialSource{HomeDir: home, Getenv: env(nil)})
	if s := fmt.Sprintf("%v %+v %#v %s", c, c, c, c); c.Token == "" || strings.Contains(s, c.Token) {
		t.Errorf("credentials print their token: %s", s)
	}
}

func TestLoadCredentialsRefusesAFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := LoadCredentials(CredentialSource{ConfigPath: p, Getenv: func(string) string { return "" }})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("FIFO config: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reading a FIFO as the fleetctl config blocks")
	}
}
