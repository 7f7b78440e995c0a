package fleet_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/fleet"
	"github.com/osqdetect/osqdetect/internal/testutil"
)

var sampleRules = []detect.RuleMeta{
	{ID: "fa3a59dc-33c3-43bf-80a9-e8437a922c7f", Name: "Potential Reverse Shell via Suspicious Binary", Severity: "high", RiskScore: 73, Techniques: []string{"T1059.004", "T1071"}},
	{ID: "d19a2399-f8e2-4b10-80d8-a561ce9d24d1", Name: "System Binary Symlink to Suspicious Location", Severity: "low", RiskScore: 21, Techniques: []string{"T1202", "T1564", "T1574"}},
}

// golden compares got with testdata/name.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testutil.Golden(t, filepath.Join("testdata", name), got)
}

func TestGitOpsFilesGolden(t *testing.T) {
	files, err := fleet.GitOpsFiles(fleet.ExportOptions{Rules: sampleRules})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Fatalf("%d files, want 4", len(files))
	}
	for _, f := range files {
		golden(t, filepath.Join("gitops", f.Path), f.Content)
	}
	again, _ := fleet.GitOpsFiles(fleet.ExportOptions{Rules: []detect.RuleMeta{sampleRules[1], sampleRules[0]}})
	for i := range files {
		if !bytes.Equal(files[i].Content, again[i].Content) {
			t.Errorf("%s depends on the order of the rules", files[i].Path)
		}
	}
}

func TestApplyFilesGolden(t *testing.T) {
	files, err := fleet.ApplyFiles(fleet.ExportOptions{Rules: sampleRules, Team: "Servers: prod"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		golden(t, filepath.Join("apply", f.Path), f.Content)
	}
	files, err = fleet.ApplyFiles(fleet.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		golden(t, filepath.Join("apply-defaults", f.Path), f.Content)
	}
}

// applySpecs is both apply files, for tests that look at the text.
func applySpecs(o fleet.ExportOptions) ([]byte, error) {
	files, err := fleet.ApplyFiles(o)
	if err != nil {
		return nil, err
	}
	return append(files[0].Content, files[1].Content...), nil
}

func TestPackGolden(t *testing.T) {
	b, err := fleet.Pack(fleet.ExportOptions{Rules: sampleRules})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "osqdetect.pack.json", b)
	var p struct {
		Discovery []string
		Queries   map[string]map[string]any
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.Queries["osqdetect_alerts"]["removed"] != false || p.Queries["osqdetect_health"]["snapshot"] != true {
		t.Errorf("pack queries %v", p.Queries)
	}
	if len(p.Discovery) != 1 || !strings.Contains(p.Discovery[0], "osquery_extensions") {
		t.Errorf("discovery %v", p.Discovery)
	}
}

func TestExportOptionsValidated(t *testing.T) {
	cases := map[string]fleet.ExportOptions{
		"severity": {PolicySeverity: "severe"},
		"platform": {Platform: "linux,beos"},
		"interval": {StreamInterval: 500 * time.Millisecond},
		"label":    {LabelName: "bad\nname"},
		"window":   {Window: time.Second},
		"team":     {Team: "a\nb"},
		"long":     {ReportInterval: 30 * 24 * time.Hour},
	}
	for name, o := range cases {
		if _, err := applySpecs(o); err == nil {
			t.Errorf("%s: %+v accepted", name, o)
		}
	}
}

func TestExportPolicySeverityAndWindow(t *testing.T) {
	b, err := applySpecs(fleet.ExportOptions{PolicySeverity: "critical", Window: 90 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"severity IN ('critical')", "- 5400", "in the last 90 minutes", "--since 1h30m"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}
