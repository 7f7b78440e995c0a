package tables

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/plugin/table"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/extension/store"
	"github.com/osqdetect/osqdetect/internal/testutil"
	"github.com/osqdetect/osqdetect/tables/detectionhealth"
	"github.com/osqdetect/osqdetect/tables/detectionrules"
	"github.com/osqdetect/osqdetect/tables/tablewrap"
)

// TestSpecsGolden pins the tables' contract: a change to a name, a column
// or a type shows up here and in testdata/specs.json, which docs use.
func TestSpecsGolden(t *testing.T) {
	t.Parallel()
	got, err := json.MarshalIndent(Specs(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	testutil.Golden(t, filepath.Join("testdata", "specs.json"), got)
	if t.Failed() {
		t.Log("table specs changed; if intended, run go test -update and update the docs")
	}
}

func TestSpecsAreWellFormed(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, s := range Specs() {
		if names[s.Name] {
			t.Errorf("table %s declared twice", s.Name)
		}
		names[s.Name] = true
		if s.Description == "" {
			t.Errorf("table %s has no description", s.Name)
		}
		cols := map[string]bool{}
		for _, c := range s.Columns {
			if cols[c.Name] {
				t.Errorf("%s.%s declared twice", s.Name, c.Name)
			}
			cols[c.Name] = true
			switch c.Type {
			case table.ColumnTypeText, table.ColumnTypeInteger, table.ColumnTypeBigInt, table.ColumnTypeDouble:
			default:
				t.Errorf("%s.%s has type %q", s.Name, c.Name, c.Type)
			}
			if c.Description == "" {
				t.Errorf("%s.%s has no description", s.Name, c.Name)
			}
		}
	}
}

type noAlerts struct{}

func (noAlerts) Alerts(context.Context, store.AlertQuery) ([]*detect.Alert, error) { return nil, nil }

func (noAlerts) RuleAlertCounts(context.Context) (map[string]store.RuleCount, error) { return nil, nil }

func TestSetWiresTablesAndHealthSeesTableStats(t *testing.T) {
	t.Parallel()
	set := New(Sources{
		Alerts: noAlerts{},
		Rules:  func(context.Context) ([]detectionrules.Rule, error) { return nil, nil },
		Health: func(context.Context) (detectionhealth.Snapshot, error) { return detectionhealth.Snapshot{}, nil },
	}, tablewrap.Options{})
	plugins := set.Plugins()
	if len(plugins) != 3 {
		t.Fatalf("%d plugins", len(plugins))
	}
	for i, s := range Specs() {
		if plugins[i].Name() != s.Name || plugins[i].RegistryName() != "table" {
			t.Errorf("plugin %d is %s/%s, want table/%s", i, plugins[i].RegistryName(), plugins[i].Name(), s.Name)
		}
	}
	gen := osquery.ExtensionPluginRequest{"action": "generate", "context": "{}"}
	plugins[0].Call(context.Background(), gen)
	resp := plugins[2].Call(context.Background(), gen)
	found := false
	for _, row := range resp.Response {
		if row["component"] == "table" && row["subject"] == "alerts" && row["metric"] == "reads" {
			found = row["value"] == "1"
		}
	}
	if !found {
		t.Errorf("detection_health does not report the alerts table's read: %v", resp.Response)
	}
}
