package fleet_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/fleet"
	"github.com/osqdetect/osqdetect/tests/fleetdouble"
)

const token = "tok-3f9c1e0b7a5d4c2e8f6a1b0c9d8e7f6a"

func alertRow(id, sev string) map[string]string {
	return map[string]string{"id": id, "rule_id": "r1", "severity": sev, "time": "1700000000"}
}

func newDouble(t *testing.T, cfg fleetdouble.Config) (*fleetdouble.Server, *fleet.Client) {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = token
	}
	srv := fleetdouble.New(cfg)
	t.Cleanup(srv.Close)
	c, err := fleet.NewClient(srv.URL, fleet.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func TestHuntClassifiesEveryKindOfHost(t *testing.T) {
	hosts := []fleetdouble.Host{
		{ID: 1, Hostname: "web-01", Rows: []map[string]string{alertRow("a1", "high"), alertRow("a2", "low")}, Labels: []string{"osqdetect"}},
		{ID: 2, Hostname: "web-02", Labels: []string{"osqdetect"}},
		{ID: 3, Hostname: "db-01", MissingExtension: true, Labels: []string{"osqdetect"}},
		{ID: 4, Hostname: "db-02", Error: "database or disk is full", Labels: []string{"osqdetect"}},
		{ID: 5, Hostname: "laptop-1", Offline: true, Labels: []string{"osqdetect"}},
		{ID: 6, Hostname: "slow-1", Delay: 50 * time.Millisecond, Rows: []map[string]string{alertRow("a3", "critical")}},
	}
	_, c := newDouble(t, fleetdouble.Config{Hosts: hosts, Labels: []fleetdouble.Label{{ID: 7, Name: "osqdetect"}}})

	var got []fleet.HostResult
	var progress []fleet.Progress
	sum, err := c.Hunt(context.Background(), fleet.HuntOptions{
		SQL:        "SELECT * FROM alerts;",
		Targets:    fleet.Targets{Labels: []string{"osqdetect"}, Hosts: []string{"slow-1", "laptop-1"}},
		Timeout:    30 * time.Second,
		OnResult:   func(r fleet.HostResult) { got = append(got, r) },
		OnProgress: func(p fleet.Progress) { progress = append(progress, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Targeted != 6 || sum.Online != 5 || sum.Offline != 1 {
		t.Errorf("targeted/online/offline = %d/%d/%d, want 6/5/1", sum.Targeted, sum.Online, sum.Offline)
	}
	if sum.Answered != 5 || sum.Silent != 1 || sum.Rows != 3 || sum.Count(fleet.StatusFailed) != 1 {
		t.Errorf("answered %d silent %d rows %d failed %d, want 5 1 3 1", sum.Answered, sum.Silent, sum.Rows, sum.Count(fleet.StatusFailed))
	}
	if sum.TimedOut {
		t.Error("hunt ended on all online hosts answering, not on the timeout")
	}
	want := map[string]fleet.HostStatus{
		"web-01": fleet.StatusRows, "web-02": fleet.StatusEmpty, "db-01": fleet.StatusExtensionMissing,
		"db-02": fleet.StatusFailed, "slow-1": fleet.StatusRows,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d", len(got), len(want))
	}
	for _, r := range got {
		if r.Status != want[r.Host.Hostname] {
			t.Errorf("%s: status %v, want %v", r.Host.Hostname, r.Status, want[r.Host.Hostname])
		}
		for _, row := range r.Rows {
			if _, ok := row["host_hostname"]; ok {
				t.Errorf("%s: server-added host_hostname column kept", r.Host.Hostname)
			}
		}
	}
	if got := notAnswered(sum); !slices.Equal(got, []string{"laptop-1 offline"}) {
		t.Errorf("named hosts not answered = %v, want [laptop-1 offline]", got)
	}
	if sum.Complete() {
		t.Error("summary with an offline host, a missing extension and an error says complete")
	}
	if n := sum.Count(fleet.StatusExtensionMissing); n != 1 {
		t.Errorf("extension missing count %d, want 1", n)
	}
	if len(progress) == 0 || progress[len(progress)-1].Answered != 5 {
		t.Errorf("last progress %+v, want 5 answered", progress)
	}
}

func TestHuntCompleteWhenEveryHostAnswers(t *testing.T) {
	hosts := fleetdouble.GenerateHosts(20, fleetdouble.GenSpec{Label: "all", Rows: []map[string]string{alertRow("x", "high")}})
	_, c := newDouble(t, fleetdouble.Config{Hosts: hosts, Labels: []fleetdouble.Label{{ID: 1, Name: "all"}}})
	sum, err := c.Hunt(context.Background(), fleet.HuntOptions{SQL: "SELECT 1;", Targets: fleet.Targets{Labels: []string{"all"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Complete() || sum.Answered != 20 || sum.Rows != 20 {
		t.Errorf("complete=%v answered=%d rows=%d, want true 20 20", sum.Complete(), sum.Answered, sum.Rows)
	}
}

func TestHuntTimeoutKeepsPartialResults(t *testing.T) {
	hosts := []fleetdouble.Host{
		{ID: 1, Hostname: "fast", Rows: []map[string]string{alertRow("a", "high")}},
		{ID: 2, Hostname: "hung", Silent: true},
	}
	_, c := newDouble(t, fleetdouble.Config{Hosts: hosts})
	var rows int
	sum, err := c.Hunt(context.Background(), fleet.HuntOptions{
		SQL: "SELECT * FROM alerts;", Targets: fleet.Targets{Hosts: []string{"fast", "hung"}},
		Timeout:  300 * time.Millisecond,
		OnResult: func(r fleet.HostResult) { rows += len(r.Rows) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.TimedOut || sum.Answered != 1 || sum.Silent != 1 || rows != 1 {
		t.Errorf("timedOut=%v answered=%d silent=%d rows=%d, want true 1 1 1", sum.TimedOut, sum.Answered, sum.Silent, rows)
	}
	if got := notAnswered(sum); !slices.Equal(got, []string{"hung timed out"}) {
		t.Errorf("named hosts not answered = %v, want [hung timed out]", got)
	}
}

func TestHuntAllOfflineEndsWithoutWaiting(t *testing.T) {
	_, c := newDouble(t, fleetdouble.Config{Hosts: []fleetdouble.Host{{ID: 1, Hostname: "a", Offline: true}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sum, err := c.Hunt(ctx, fleet.HuntOptions{SQL: "SELECT 1;", Targets: fleet.Targets{Hosts: []string{"a"}}, Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if sum.TimedOut || sum.Silent != 1 || sum.Offline != 1 {
		t.Errorf("timedOut=%v silent=%d offline=%d, want false 1 1", sum.TimedOut, sum.Silent, sum.Offline)
	}
}

func TestHuntStreamErrors(t *testing.T) {
	hosts := []fleetdouble.Host{{ID: 1, Hostname: "a", Rows: []map[string]string{alertRow("a", "low")}}}
	t.Run("error message then results", func(t *testing.T) {
		_, c := newDouble(t, fleetdouble.Config{Hosts: hosts, StreamErrors: []string{"pubsub error: flaky"}, MalformedMessage: true})
		sum, err := c.Hunt(context.Background(), fleet.HuntOptions{SQL: "SELECT 1;", Targets: fleet.Targets{Hosts: []string{"a"}}})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Answered != 1 || len(sum.StreamErrors) != 2 || sum.StreamErrors[0] != "pubsub error: flaky" {
			t.Errorf("answered=%d stream errors=%q", sum.Answered, sum.StreamErrors)
		}
		if !strings.Contains(sum.StreamErrors[1], "malformed") {
			t.Errorf("second stream error %q does not name the malformed message", sum.StreamErrors[1])
		}
		if sum.Complete() {
			t.Error("a hunt with server errors says complete")
		}
	})
	t.Run("server closes after error", func(t *testing.T) {
		_, c := newDouble(t, fleetdouble.Config{Hosts: hosts, StreamErrors: []string{"pubsub error: gone"}, CloseAfterErrors: true})
		sum, err := c.Hunt(context.Background(), fleet.HuntOptions{SQL: "SELECT 1;", Targets: fleet.Targets{Hosts: []string{"a"}}, Timeout: time.Hour})
		if err == nil || !strings.Contains(err.Error(), "pubsub error: gone") {
			t.Fatalf("stream closed before any answer: %v", err)
		}
		if sum == nil || sum.Answered != 0 || sum.Silent != 1 || len(sum.StreamErrors) != 1 {
			t.Errorf("summary %+v", sum)
		}
	})
}

func TestHuntByTeamUsesIDForm(t *testing.T) {
	hosts := []fleetdouble.Host{
		{ID: 1, Hostname: "a", TeamID: 3, Rows: []map[string]string{alertRow("a", "low")}},
		{ID: 2, Hostname: "b", TeamID: 4},
		{ID: 3, Hostname: "c", Labels: []string{"L"}},
	}
	for _, paths := range []fleetdouble.PathStyle{fleetdouble.PathsBoth, fleetdouble.PathsOldOnly, fleetdouble.PathsNewOnly} {
		srv, c := newDouble(t, fleetdouble.Config{
			Hosts: hosts, Paths: paths,
			Teams:  []fleetdouble.Team{{ID: 3, Name: "Servers"}, {ID: 4, Name: "Laptops"}},
			Labels: []fleetdouble.Label{{ID: 9, Name: "L"}},
		})
		sum, err := c.Hunt(context.Background(), fleet.HuntOptions{SQL: "SELECT 1;", Targets: fleet.Targets{Teams: []string{"servers"}, Labels: []string{"L"}}})
		if err != nil {
			t.Fatalf("paths %d: %v", paths, err)
		}
		if sum.Targeted != 2 || sum.Answered != 2 {
			t.Errorf("paths %d: targeted %d answered %d, want 2 2", paths, sum.Targeted, sum.Answered)
		}
		reqs := strings.Join(srv.Requests(), "\n")
		if paths == fleetdouble.PathsNewOnly && !strings.Contains(reqs, "POST /api/latest/fleet/reports/run") {
			t.Errorf("paths new-only: no fallback to /reports/run:\n%s", reqs)
		}
		if paths != fleetdouble.PathsNewOnly && strings.Contains(reqs, "/reports/") {
			t.Errorf("paths %d: used the new name although the old one works:\n%s", paths, reqs)
		}
	}
}

func TestHuntFailures(t *testing.T) {
	hosts := []fleetdouble.Host{{ID: 1, Hostname: "a"}}
	cases := []struct {
		name    string
		cfg     fleetdouble.Config
		targets fleet.Targets
		is      error
		text    string
	}{
		{"bad token", fleetdouble.Config{Token: "other", Hosts: hosts}, fleet.Targets{Hosts: []string{"a"}}, fleet.ErrUnauthorized, "Authentication failed"},
		{"unknown label", fleetdouble.Config{Hosts: hosts}, fleet.Targets{Labels: []string{"nope"}}, fleet.ErrBadRequest, "Invalid label"},
		{"no host targeted", fleetdouble.Config{Hosts: hosts, Labels: []fleetdouble.Label{{ID: 1, Name: "empty"}}}, fleet.Targets{Labels: []string{"empty"}}, fleet.ErrBadRequest, "no hosts targeted"},
		{"only unknown hosts", fleetdouble.Config{Hosts: hosts}, fleet.Targets{Hosts: []string{"ghost"}}, nil, `no host has the identifier "ghost"`},
		{"unknown team", fleetdouble.Config{Hosts: hosts}, fleet.Targets{Teams: []string{"nope"}}, nil, `no team named "nope"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newDouble(t, tc.cfg)
			_, err := c.Hunt(context.Background(), fleet.HuntOptions{SQL: "SELECT 1;", Targets: tc.targets})
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not contain %q", err, tc.text)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

// notAnswered lists "identifier outcome" for the summary's hosts that did
// not answer.
func notAnswered(sum *fleet.HuntSummary) []string {
	var out []string
	for _, h := range sum.Hosts {
		if h.Status == fleet.StatusOffline || h.Status == fleet.StatusTimedOut || h.Status == fleet.StatusUnknown {
			out = append(out, strings.Join(h.Identifiers, ",")+" "+h.Status.String())
		}
	}
	slices.Sort(out)
	return out
}

// Fleet's by-identifier campaign ignores an identifier that matches no
// host (seen on Fleet 4.69), and its results name hosts by hostname; the
// hunt looks every identifier up first (Fleet's host lookup accepts
// hostname, UUID, hardware serial, osquery host id and node key:
// HostByIdentifier in fleetdm/fleet server/datastore/mysql/hosts.go), so
// each answer goes back to what the user typed and a typo is named.
func TestHuntAccountsForEveryIdentifier(t *testing.T) {
	hosts := []fleetdouble.Host{
		{ID: 1, Hostname: "web-01", UUID: "4c4c4544-0001", Rows: []map[string]string{alertRow("a", "high")}},
		{ID: 2, Hostname: "db-01", Serial: "C02XK1"},
		{ID: 3, Hostname: "app-01", NodeKey: "nk-3", MissingExtension: true},
		{ID: 4, Hostname: "laptop", OsqueryHostID: "oq-4", Offline: true},
		{ID: 5, Hostname: "hung", Silent: true},
	}
	_, c := newDouble(t, fleetdouble.Config{Hosts: hosts})
	sum, err := c.Hunt(context.Background(), fleet.HuntOptions{
		SQL:     "SELECT * FROM alerts;",
		Targets: fleet.Targets{Hosts: []string{"4c4c4544-0001", "C02XK1", "nk-3", "oq-4", "hung", "nosuchhost", "web-01"}},
		Timeout: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, h := range sum.Hosts {
		got[strings.Join(h.Identifiers, ",")] = h.Status.String()
	}
	want := map[string]string{
		"4c4c4544-0001,web-01": "rows", "C02XK1": "empty", "nk-3": "extension missing",
		"oq-4": "offline", "hung": "timed out", "nosuchhost": "unknown",
	}
	if !maps.Equal(got, want) {
		t.Errorf("outcomes by identifier %v, want %v", got, want)
	}
	if sum.Targeted != 5 || sum.Answered != 3 || sum.Count(fleet.StatusUnknown) != 1 || sum.Complete() {
		t.Errorf("targeted %d answered %d unknown %d complete %v", sum.Targeted, sum.Answered, sum.Count(fleet.StatusUnknown), sum.Complete())
	}
}

func TestExtensionMissing(t *testing.T) {
	for in, want := range map[string]bool{
		"no such table: alerts":               true,
		"no such table: detection_health":     true,
		"Error: no such table: alerts_x":      false,
		"no such table: os_version":           false,
		"query failed: no such table: alerts": true,
		"":                                    false,
	} {
		if got := fleet.ExtensionMissing(in); got != want {
			t.Errorf("ExtensionMissing(%q) = %v, want %v", in, got, want)
		}
	}
}
