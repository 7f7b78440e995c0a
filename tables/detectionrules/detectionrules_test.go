package detectionrules

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osquery/osquery-go/gen/osquery"

	"github.com/osqdetect/osqdetect/internal/testutil"
	"github.com/osqdetect/osqdetect/tables/tablewrap"
)

func TestGenerateGolden(t *testing.T) {
	t.Parallel()
	rules := []Rule{
		{ID: "b", Name: "Broken", Type: "threshold", Language: "kuery", Severity: "medium", RiskScore: 47,
			Source: "/etc/osquery/osqdetect.rules.d/broken.toml", Error: "rule type threshold is not supported"},
		{ID: "a", Name: "Reverse shell", Type: "eql", Language: "eql", Severity: "high", RiskScore: 73,
			Enabled: true, Source: "builtin", Alerts: 3, LastAlertTime: 1700000300, Suppressed: 2},
	}
	tbl := New(func(context.Context) ([]Rule, error) { return rules, nil }, tablewrap.Options{})
	req := osquery.ExtensionPluginRequest{"action": "generate", "context": `{"constraints":[{"name":"enabled","list":[{"op":2,"expr":"0"}],"affinity":"INTEGER"}]}`}
	resp := tbl.Plugin().Call(context.Background(), req)
	got, _ := json.MarshalIndent(map[string]any{"request": req, "status": resp.Status, "rows": resp.Response}, "", "  ")
	testutil.Golden(t, filepath.Join("testdata", "rules.golden.json"), append(got, '\n'))
	if len(resp.Response) != 2 || resp.Response[0]["rule_id"] != "a" {
		t.Errorf("rows not sorted by rule id: %v", resp.Response)
	}
	for _, row := range resp.Response {
		if len(row) != len(Spec().Columns) {
			t.Errorf("row has %d columns, spec %d", len(row), len(Spec().Columns))
		}
	}
}

func TestSourceError(t *testing.T) {
	t.Parallel()
	tbl := New(func(context.Context) ([]Rule, error) { return nil, errors.New("not loaded yet") }, tablewrap.Options{})
	resp := tbl.Plugin().Call(context.Background(), osquery.ExtensionPluginRequest{"action": "generate", "context": "{}"})
	if resp.Status.Code != 1 || !strings.Contains(resp.Status.Message, "listing rules: not loaded yet") {
		t.Errorf("status = %+v", resp.Status)
	}
}
