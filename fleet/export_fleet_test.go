package fleet_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/fleet"
	"github.com/osqdetect/osqdetect/tests/fleetdouble"
	"go.yaml.in/yaml/v3"
)

// exportFleet is the fleet of the trial on a real Fleet (4.69,
// Fleet Free): three Linux hosts of different distributions with the
// extension, one without, one offline. Fleet stores each Linux host's
// platform as its distribution.
func exportFleet(reports bool) *fleetdouble.Server {
	return fleetdouble.New(fleetdouble.Config{
		Token: "t0ken-value-1234",
		Teams: []fleetdouble.Team{{ID: 1, Name: "Servers"}},
		Hosts: []fleetdouble.Host{
			{ID: 1, Hostname: "web-01", Platform: "ubuntu"},
			{ID: 2, Hostname: "db-01", Platform: "rhel"},
			{ID: 3, Hostname: "build-01", Platform: "debian"},
			{ID: 4, Hostname: "plain-01", Platform: "ubuntu", MissingExtension: true},
			{ID: 5, Hostname: "laptop", Platform: "ubuntu", Offline: true},
		},
		GitOpsReports: reports,
	})
}

var withExtension = []string{"build-01", "db-01", "web-01"}

// checkReach asserts that the exported label holds exactly the hosts with
// the extension, that they run the alert-shipping query with automations
// on, and the policy, and that the host without the extension runs none.
func checkReach(t *testing.T, srv *fleetdouble.Server) {
	t.Helper()
	srv.RefreshLabels()
	if got := srv.LabelMembers("osqdetect extension running"); !reflect.DeepEqual(got, withExtension) {
		t.Errorf("label members %v, want %v", got, withExtension)
	}
	for _, h := range withExtension {
		q := srv.ScheduledFor(h)
		if ship, ok := q["osqdetect alerts stream"]; !ok || !ship {
			t.Errorf("%s: scheduled %v, want the alerts stream with automations on", h, q)
		}
		if p := srv.PoliciesFor(h); len(p) != 1 {
			t.Errorf("%s: policies %v, want the osqdetect policy", h, p)
		}
	}
	if q, p := srv.ScheduledFor("plain-01"), srv.PoliciesFor("plain-01"); len(q)+len(p) > 0 {
		t.Errorf("host without the extension runs %v and %v", q, p)
	}
}

func TestApplyFilesReachHostsOnFirstApply(t *testing.T) {
	srv := exportFleet(false)
	defer srv.Close()
	files, err := fleet.ApplyFiles(fleet.ExportOptions{Rules: sampleRules, Team: "Servers"})
	if err != nil {
		t.Fatal(err)
	}
	if files[0].Path != fleet.ApplyLabelsFile || files[1].Path != fleet.ApplySpecsFile {
		t.Fatalf("files %s, %s", files[0].Path, files[1].Path)
	}
	for _, f := range files {
		if err := srv.Apply(f.Content); err != nil {
			t.Fatalf("fleetctl apply -f %s on a fresh Fleet: %v", f.Path, err)
		}
	}
	checkReach(t, srv)
	// Applying again (an update) works too.
	for _, f := range files {
		if err := srv.Apply(f.Content); err != nil {
			t.Fatalf("second apply of %s: %v", f.Path, err)
		}
	}
}

// The double enforces what broke the single-file export on a real Fleet.
func TestDoubleEnforcesFleetApplyRules(t *testing.T) {
	files, err := fleet.ApplyFiles(fleet.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	label, specs := string(files[0].Content), string(files[1].Content)
	body := func(s string) string { return s[strings.Index(s, "apiVersion"):] }

	t.Run("one file, queries before labels", func(t *testing.T) {
		srv := exportFleet(false)
		defer srv.Close()
		err := srv.Apply([]byte(body(label) + "---\n" + body(specs)))
		if err == nil || !strings.Contains(err.Error(), "not found") {
			t.Fatalf("queries naming a label of the same file applied on a fresh Fleet: %v", err)
		}
	})
	t.Run("comment-only document", func(t *testing.T) {
		srv := exportFleet(false)
		defer srv.Close()
		err := srv.Apply([]byte("# header\n---\n" + body(label)))
		if err == nil || !strings.Contains(err.Error(), `Missing required fields ("spec", "kind")`) {
			t.Fatalf("comment-only document: %v", err)
		}
	})
	t.Run("label platform linux matches no host", func(t *testing.T) {
		srv := exportFleet(false)
		defer srv.Close()
		linux := strings.Replace(body(label), "label_membership_type:", "platform: linux\n  label_membership_type:", 1)
		if err := srv.Apply([]byte(linux)); err != nil {
			t.Fatal(err) // Fleet accepts it silently
		}
		srv.RefreshLabels()
		if got := srv.LabelMembers("osqdetect extension running"); len(got) != 0 {
			t.Errorf("label with platform linux holds %v; Fleet sends it to no Linux host", got)
		}
	})
	for _, f := range files {
		if strings.Contains(string(f.Content), "platform: linux\n  label_membership_type") || strings.HasPrefix(strings.TrimSpace(string(f.Content)), "---") {
			t.Errorf("%s:\n%s", f.Path, f.Content)
		}
	}
}

// refPaths returns the "- path:" lines a generated file's comments
// suggest, keyed by where they are written from ("root" or "team").
func refPaths(t *testing.T, content []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`#     - path: (\S+)`).FindAllStringSubmatch(string(content), -1) {
		if strings.HasPrefix(m[1], "../") {
			out["team"] = m[1]
		} else {
			out["root"] = m[1]
		}
	}
	return out
}

func TestGitOpsFilesReachHostsWithTheCommentedPaths(t *testing.T) {
	files, err := fleet.GitOpsFiles(fleet.ExportOptions{Rules: sampleRules})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	refs := map[string]map[string]string{}
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
		refs[filepath.Base(f.Path)] = refPaths(t, f.Content)
	}
	write := func(name, content string) string {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Everything from default.yml, with the paths the comments give for it.
	def := write("default.yml", "labels:\n  - path: "+refs["labels.yml"]["root"]+
		"\nqueries:\n  - path: "+refs["queries.yml"]["root"]+
		"\npolicies:\n  - path: "+refs["policies.yml"]["root"]+"\n")
	srv := exportFleet(false)
	defer srv.Close()
	if err := srv.GitOps(def); err != nil {
		t.Fatalf("fleetctl gitops -f default.yml: %v", err)
	}
	checkReach(t, srv)

	// Label from default.yml, queries and policy from a team file.
	def = write("default.yml", "labels:\n  - path: "+refs["labels.yml"]["root"]+"\nqueries:\npolicies:\n")
	team := write("teams/servers.yml", "name: Servers\nqueries:\n  - path: "+refs["queries.yml"]["team"]+
		"\npolicies:\n  - path: "+refs["policies.yml"]["team"]+"\n")
	srv2 := exportFleet(false)
	defer srv2.Close()
	if err := srv2.GitOps(def, team); err != nil {
		t.Fatalf("fleetctl gitops -f default.yml -f teams/servers.yml: %v", err)
	}
	checkReach(t, srv2)

	// reports: only on a Fleet that knows it.
	rep := write("reports.yml", "labels:\n  - path: ./lib/osqdetect/labels.yml\nreports:\n  - path: ./lib/osqdetect/queries.yml\n")
	old := exportFleet(false)
	defer old.Close()
	if err := old.GitOps(rep); err == nil || !strings.Contains(err.Error(), "unknown top-level field: reports") {
		t.Errorf("reports: on an older Fleet: %v", err)
	}
	neu := exportFleet(true)
	defer neu.Close()
	if err := neu.GitOps(rep); err != nil {
		t.Errorf("reports: on Fleet 4.82+: %v", err)
	}
}

// The agent options fragment is YAML with the keys Fleet documents for
// fleetd (docs/Configuration/agent-configuration.md in fleetdm/fleet):
// extensions.<name>.{channel,platform} and command_line_flags.
func TestAgentOptionsFragment(t *testing.T) {
	files, err := fleet.GitOpsFiles(fleet.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var frag []byte
	for _, f := range files {
		if f.Path == "lib/osqdetect/agent-options.yml" {
			frag = f.Content
		}
	}
	var ao struct {
		Extensions map[string]struct {
			Channel, Platform string
		}
		CommandLineFlags map[string]any `yaml:"command_line_flags"`
	}
	if err := yaml.Unmarshal(frag, &ao); err != nil {
		t.Fatal(err)
	}
	if e := ao.Extensions["osqdetect"]; e.Channel != "stable" || e.Platform != "linux" {
		t.Errorf("extensions %+v", ao.Extensions)
	}
	for _, flag := range []string{"disable_events", "disable_audit", "audit_allow_process_events", "audit_allow_sockets"} {
		if _, ok := ao.CommandLineFlags[flag]; !ok {
			t.Errorf("command_line_flags lacks %s", flag)
		}
	}
}

// The settings script installs the file byte for byte and restarts the
// extension; run here with its paths moved into a temporary directory.
func TestSettingsScriptInstallsTheFile(t *testing.T) {
	settings := "# osqdetect settings\npoll_interval = \"5s\"\nrule_dirs = [\"/opt/rules\"]\n# a line with 'quotes' and $VARS and `backticks`\n"
	files, err := fleet.GitOpsFiles(fleet.ExportOptions{Settings: []byte(settings)})
	if err != nil {
		t.Fatal(err)
	}
	script := string(files[len(files)-1].Content)
	if files[len(files)-1].Path != "lib/osqdetect/install-osqdetect-conf.sh" {
		t.Fatalf("last file %s", files[len(files)-1].Path)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// A stand-in pkill records what it was asked to stop.
	if err := os.WriteFile(filepath.Join(bin, "pkill"), []byte("#!/bin/sh\necho \"$@\" > \""+dir+"/pkill.args\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	script = strings.ReplaceAll(script, "/etc/osquery", filepath.Join(dir, "etc"))
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("script: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "etc", "osqdetect.conf"))
	if err != nil || string(got) != settings {
		t.Errorf("installed %q (%v), want %q", got, err, settings)
	}
	if args, _ := os.ReadFile(filepath.Join(dir, "pkill.args")); strings.TrimSpace(string(args)) != "-x osqdetect.ext" {
		t.Errorf("pkill called with %q", args)
	}
	if _, err := fleet.GitOpsFiles(fleet.ExportOptions{Settings: []byte("a = 1\nOSQDETECT_SETTINGS_END\n")}); err == nil {
		t.Error("settings that end the here-document accepted")
	}
}
