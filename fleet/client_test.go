package fleet_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/fleet"
	"github.com/osqdetect/osqdetect/tests/fleetdouble"
)

func TestNewClientAddressRules(t *testing.T) {
	cases := []struct {
		addr, errText string
		opts          []fleet.Option
	}{
		{"https://fleet.example.com", "", nil},
		{"fleet.example.com", "", nil},
		{"http://127.0.0.1:8080", "", nil},
		{"http://localhost:8080", "", nil},
		{"http://fleet.example.com", "plain http", nil},
		{"http://fleet.example.com", "", []fleet.Option{fleet.WithPlainHTTP()}},
		{"ftp://fleet.example.com", "scheme must be https", nil},
		{"https://user:pw@fleet.example.com", "user credentials", nil},
		{"", "empty", nil},
		{"https://x", "Authorization", []fleet.Option{fleet.WithHeader("Authorization", "Bearer other")}},
	}
	for _, tc := range cases {
		_, err := fleet.NewClient(tc.addr, tc.opts...)
		switch {
		case tc.errText == "" && err != nil:
			t.Errorf("NewClient(%q): %v", tc.addr, err)
		case tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText)):
			t.Errorf("NewClient(%q) = %v, want error containing %q", tc.addr, err, tc.errText)
		}
	}
}

func TestErrorResponseShapeAndSentinels(t *testing.T) {
	_, c := newDouble(t, fleetdouble.Config{Token: "right", Hosts: []fleetdouble.Host{{ID: 1, Hostname: "a"}}})
	_, err := c.ListLabels(context.Background())
	var er *fleet.ErrorResponse
	if !errors.As(err, &er) {
		t.Fatalf("error %v is not an *ErrorResponse", err)
	}
	if er.StatusCode != 401 || er.Message != "Authentication failed" || er.UUID == "" || len(er.Errors) != 1 || er.Errors[0].Name != "base" {
		t.Errorf("error response %+v does not keep Fleet's body", er)
	}
	if !errors.Is(err, fleet.ErrUnauthorized) || errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("errors.Is mismatch for %v", err)
	}
	if !strings.Contains(err.Error(), "GET /labels") || !strings.Contains(err.Error(), "401") {
		t.Errorf("error text %q does not name the request and status", err)
	}
}

func TestTokenNeverInErrorsOrLogs(t *testing.T) {
	// The double repeats the presented token in its error bodies and
	// websocket errors, like a careless proxy.
	srv := fleetdouble.New(fleetdouble.Config{Token: "the-right-one", EchoToken: true, Hosts: []fleetdouble.Host{{ID: 1, Hostname: "a"}}})
	defer srv.Close()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := fleet.NewClient(srv.URL, fleet.WithToken(token), fleet.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var errs []error
	_, err = c.ListLabels(ctx)
	errs = append(errs, err)
	_, err = c.Hunt(ctx, fleet.HuntOptions{SQL: "SELECT 1;", Targets: fleet.Targets{Hosts: []string{"a"}}})
	errs = append(errs, err)
	_, err = c.RunSavedQuery(ctx, 1, []uint{1})
	errs = append(errs, err)
	// The websocket opens; the double answers the bad auth message with an
	// error message that repeats the token.
	stream, err := c.StreamCampaign(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.Next(ctx)
	stream.Close()
	if err != nil || msg.Type != "error" || msg.Error == "" {
		t.Fatalf("websocket with a wrong token: %+v, %v", msg, err)
	}
	if strings.Contains(msg.Error, token) || !strings.Contains(msg.Error, "<redacted>") {
		t.Errorf("websocket error message %q shows the token", msg.Error)
	}
	for i, err := range errs {
		if err == nil {
			t.Fatalf("call %d: no error with a wrong token", i)
		}
		if strings.Contains(err.Error(), token) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), token) {
			t.Errorf("call %d: error shows the token: %v", i, err)
		}
		var er *fleet.ErrorResponse
		if errors.As(err, &er) && (strings.Contains(er.Message, token) || strings.Contains(fmt.Sprint(er.Errors), token)) {
			t.Errorf("call %d: ErrorResponse fields show the token: %+v", i, er)
		}
		if !errors.Is(err, fleet.ErrUnauthorized) {
			t.Errorf("call %d: %v is not ErrUnauthorized", i, err)
		}
	}
	if logs.Len() == 0 {
		t.Error("debug logger got nothing")
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("logs show the token:\n%s", logs.String())
	}
}

func TestTransportErrorHidesToken(t *testing.T) {
	// A closed port makes the transport fail; its error must not carry the
	// token either (it never should, but the scrub is the guarantee).
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	c, err := fleet.NewClient(addr, fleet.WithToken(token), fleet.WithRequestTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListTeams(context.Background())
	if err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("error %v", err)
	}
}

func TestTLSVerification(t *testing.T) {
	srv := fleetdouble.NewTLS(fleetdouble.Config{Token: token, Teams: []fleetdouble.Team{{ID: 1, Name: "T"}}})
	defer srv.Close()
	ctx := context.Background()

	c, err := fleet.NewClient(srv.URL, fleet.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListTeams(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("self-signed server accepted without its CA: %v", err)
	}

	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = fleet.NewClient(srv.URL, fleet.WithToken(token), fleet.WithRootCA(caFile))
	if err != nil {
		t.Fatal(err)
	}
	teams, err := c.ListTeams(ctx)
	if err != nil || len(teams) != 1 {
		t.Errorf("with root CA: teams %v err %v", teams, err)
	}

	c, err = fleet.NewClient(srv.URL, fleet.WithToken(token), fleet.WithInsecureSkipVerify())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListTeams(ctx); err != nil {
		t.Errorf("insecure: %v", err)
	}

	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not a cert"), 0o600)
	if _, err := fleet.NewClient(srv.URL, fleet.WithToken(token), fleet.WithRootCA(bad)); err == nil {
		t.Error("root CA file without a certificate accepted")
	}
}

func TestHuntOverTLSWithRootCA(t *testing.T) {
	srv := fleetdouble.NewTLS(fleetdouble.Config{Token: token, Hosts: []fleetdouble.Host{{ID: 1, Hostname: "a", Rows: []map[string]string{{"x": "1"}}}}})
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	c, err := fleet.NewClient(srv.URL, fleet.WithToken(token), fleet.WithRootCA(caFile))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := c.Hunt(context.Background(), fleet.HuntOptions{SQL: "SELECT 1;", Targets: fleet.Targets{Hosts: []string{"a"}}})
	if err != nil || sum.Rows != 1 {
		t.Fatalf("hunt over wss: %v, %+v", err, sum)
	}
}

func TestRunSavedQuery(t *testing.T) {
	hosts := []fleetdouble.Host{
		{ID: 1, Hostname: "a", Rows: []map[string]string{{"id": "x"}}},
		{ID: 2, Hostname: "b", MissingExtension: true},
		{ID: 3, Hostname: "c", Offline: true},
	}
	for _, paths := range []fleetdouble.PathStyle{fleetdouble.PathsBoth, fleetdouble.PathsOldOnly, fleetdouble.PathsNewOnly} {
		srv, c := newDouble(t, fleetdouble.Config{Hosts: hosts, Paths: paths, SavedQueries: map[uint]string{42: "SELECT * FROM alerts;"}, RestPeriod: 10 * time.Millisecond})
		run, err := c.RunSavedQuery(context.Background(), 42, []uint{1, 2, 3, 1})
		if err != nil {
			t.Fatalf("paths %d: %v", paths, err)
		}
		if run.TargetedHostCount != 3 || run.RespondedHostCount != 2 || len(run.Results) != 2 {
			t.Errorf("paths %d: run %+v", paths, run)
		}
		for _, r := range run.Results {
			if r.HostID == 2 && (r.Error == nil || !fleet.ExtensionMissing(*r.Error)) {
				t.Errorf("host 2 error %v, want no such table", r.Error)
			}
			if r.HostID == 1 && (len(r.Rows) != 1 || r.Rows[0]["id"] != "x") {
				t.Errorf("host 1 rows %v", r.Rows)
			}
		}
		// A missing saved query is a resource 404 (Fleet's JSON body): it
		// must not make the client retry under the new path name.
		before := len(srv.Requests())
		_, err = c.RunSavedQuery(context.Background(), 7, []uint{1})
		if !errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("paths %d: missing query: %v", paths, err)
		}
		if n := len(srv.Requests()) - before; n != 1 {
			t.Errorf("paths %d: missing query took %d requests, want 1:\n%s", paths, n, strings.Join(srv.Requests(), "\n"))
		}
	}
}

func TestURLPrefixAndHeaders(t *testing.T) {
	var gotPath, gotHeader, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotHeader, gotAuth = r.URL.Path, r.Header.Get("X-Proxy"), r.Header.Get("Authorization")
		w.Write([]byte(`{"labels":[{"id":1,"name":"x"}]}`))
	}))
	defer srv.Close()
	c, err := fleet.NewClient(srv.URL, fleet.WithToken(token), fleet.WithURLPrefix("/fleet/"), fleet.WithHeader("X-Proxy", "yes"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListLabels(context.Background()); err != nil {
		t.Fatal(err)
	}
	if gotPath != "/fleet/api/latest/fleet/labels" || gotHeader != "yes" || gotAuth != "Bearer "+token {
		t.Errorf("path %q header %q auth ok=%v", gotPath, gotHeader, gotAuth == "Bearer "+token)
	}
}

func TestRowToleratesNonStringValues(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"query_id":1,"targeted_host_count":1,"responded_host_count":1,"results":[{"host_id":1,"rows":[{"a":"s","b":5,"c":null,"d":true}],"error":null}]}`))
	}))
	defer srv.Close()
	c, _ := fleet.NewClient(srv.URL, fleet.WithToken(token))
	run, err := c.RunSavedQuery(context.Background(), 1, []uint{1})
	if err != nil {
		t.Fatal(err)
	}
	row := run.Results[0].Rows[0]
	if row["a"] != "s" || row["b"] != "5" || row["c"] != "" || row["d"] != "true" {
		t.Errorf("row %v", row)
	}
}

func TestMalformedAnswerIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"campaign": 12`))
	}))
	defer srv.Close()
	c, _ := fleet.NewClient(srv.URL, fleet.WithToken(token))
	_, err := c.CreateCampaignByIdentifiers(context.Background(), "SELECT 1;", fleet.TargetNames{Hosts: []string{"a"}})
	if err == nil || !strings.Contains(err.Error(), "decoding answer") {
		t.Errorf("malformed answer: %v", err)
	}
}

func TestNoTokenIsAnError(t *testing.T) {
	c, err := fleet.NewClient("https://fleet.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListLabels(context.Background()); err == nil || !strings.Contains(err.Error(), "no Fleet API token") {
		t.Errorf("no token: %v", err)
	}
}
