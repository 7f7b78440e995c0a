package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/osqdetect/osqdetect/tests/fleetdouble"
)

const fleetToken = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWpr"

// runCLI runs the built binary as a user would, with only the given
// environment, and returns its exit code and output.
func runCLI(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(extBinary, args...)
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	case err != nil:
		t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

func TestCLIVersion(t *testing.T) {
	code, out, _ := runCLI(t, nil, "--version")
	if code != 0 || !strings.HasPrefix(out, "osqdetect ") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
}

// The README's walk-through with the real binary against the Fleet double:
// export, fleetctl apply in the documented order, label evaluation, a hunt
// on the label, then the accounting of a mistyped host.
func TestFleetExportApplyAndHunt(t *testing.T) {
	srv := fleetdouble.New(fleetdouble.Config{
		Token: fleetToken,
		Hosts: []fleetdouble.Host{
			{ID: 1, Hostname: "web-01", Platform: "ubuntu", Rows: []map[string]string{{"id": "a1", "severity": "high", "rule_id": reverseShellRule}}},
			{ID: 2, Hostname: "db-01", Platform: "rhel", Serial: "C02XK1"},
			{ID: 3, Hostname: "plain-01", Platform: "debian", MissingExtension: true},
		},
	})
	defer srv.Close()
	env := []string{"FLEET_URL=" + srv.URL, "FLEET_API_TOKEN=" + fleetToken}

	dir := t.TempDir()
	if code, _, errOut := runCLI(t, nil, "fleet", "export", "--format", "apply", "--out", dir); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	for _, name := range []string{"osqdetect-labels.yml", "osqdetect.yml"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Apply(b); err != nil {
			t.Fatalf("fleetctl apply -f %s: %v", name, err)
		}
	}
	// Before the hosts evaluate the label, a hunt on it reaches nobody.
	if code, _, errOut := runCLI(t, env, "hunt", "--labels", "osqdetect extension running"); code != 1 || !strings.Contains(errOut, "no hosts targeted") {
		t.Errorf("hunt on the unevaluated label: exit %d\n%s", code, errOut)
	}
	srv.RefreshLabels()
	code, out, errOut := runCLI(t, env, "hunt", "--labels", "osqdetect extension running", "--severity", "high", "--since", "24h", "--require-all")
	if code != 0 || !strings.Contains(errOut, "2 of 2 targeted hosts answered") || !strings.Contains(out, "web-01") {
		t.Errorf("hunt on the label: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	code, _, errOut = runCLI(t, env, "hunt", "--hosts", "nosuchhost,C02XK1", "--sql", "SELECT 1;")
	if code != 0 || !strings.Contains(errOut, "1 unknown") || !strings.Contains(errOut, "C02XK1 (db-01)") {
		t.Errorf("mistyped host: exit %d\n%s", code, errOut)
	}
	if code, _, errOut = runCLI(t, env, "hunt", "--hosts", "nosuchhost,C02XK1", "--sql", "SELECT 1;", "--require-all"); code != 3 {
		t.Errorf("mistyped host with --require-all: exit %d, want 3\n%s", code, errOut)
	}
}

// Issue-15 findings on the real binary: a redirect from https to http on
// the same host, and a 401 echoing the token in base64.
func TestHuntKeepsTheTokenSecret(t *testing.T) {
	var leaked atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Authorization"), fleetToken) {
			leaked.Add(1)
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer plain.Close()
	redirecting := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirecting.Close()
	env := []string{"FLEET_URL=" + redirecting.URL, "FLEET_API_TOKEN=" + fleetToken}
	code, _, errOut := runCLI(t, env, "hunt", "--hosts", "web-01", "--insecure")
	if code != 1 || !strings.Contains(errOut, "refusing a redirect") || leaked.Load() > 0 {
		t.Errorf("redirect to http: exit %d, token sent in clear %d times\n%s", code, leaked.Load(), errOut)
	}

	echo := base64.StdEncoding.EncodeToString([]byte("Bearer " + fleetToken))
	echoing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"message": "Authentication failed",
			"errors":  []map[string]string{{"name": "base", "reason": "bad header " + echo + " or token " + fleetToken[:len(fleetToken)-1]}},
		})
	}))
	defer echoing.Close()
	env = []string{"FLEET_URL=" + echoing.URL, "FLEET_API_TOKEN=" + fleetToken}
	code, _, errOut = runCLI(t, env, "hunt", "--hosts", "web-01")
	if code != 1 || !strings.Contains(errOut, "Authentication failed") {
		t.Errorf("401: exit %d\n%s", code, errOut)
	}
	for i := 0; i+8 <= len(fleetToken); i++ {
		if strings.Contains(errOut, fleetToken[i:i+8]) {
			t.Fatalf("stderr holds part of the token:\n%s", errOut)
		}
	}
	if strings.Contains(errOut, echo[12:24]) {
		t.Errorf("stderr holds the base64 of the token:\n%s", errOut)
	}
}
