package fleet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

func TestParseYAMLMapErrors(t *testing.T) {
	cases := map[string]string{
		"contexts:\n  - a\n":                        "line 2: lists are not supported",
		"contexts:\n  default:\n   address: x\n  x": "line 4",
		"a: 1\na: 2\n":                              `line 2: key "a" repeated`,
		"a: \"open\n":                               "unterminated",
		"a: [1]\n":                                  "flow sequences",
		"a: |\n  x\n":                               "block scalars",
		"\ta: 1\n":                                  "tab",
		"a: \"\\q\"\n":                              "unknown escape",
		"justtext\n":                                `expected "key: value"`,
		"a:\n    b: 1\n  c: 2\n":                    "line 3: indentation",
	}
	for in, want := range cases {
		_, err := parseYAMLMap([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseYAMLMap(%q) = %v, want error containing %q", in, err, want)
		}
	}
}

func TestParseYAMLMapScalars(t *testing.T) {
	in := "# comment\na: plain value # trailing\nb: 'it''s'\nc: \"tab\\tnl\\nu\\u00e9\"\nd: \"folded\n  across lines\"\ne: null\nf:\ng: {}\n\"q k\": v\n"
	m, err := parseYAMLMap([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": "plain value", "b": "it's", "c": "tab\tnl\nué", "d": "folded across lines", "e": "", "f": "", "q k": "v"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	if g, ok := m["g"].(map[string]any); !ok || len(g) != 0 {
		t.Errorf("g = %#v, want empty map", m["g"])
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
