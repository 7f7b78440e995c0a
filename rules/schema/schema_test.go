package schema

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestType(t *testing.T) {
	for _, tc := range []struct {
		name, typ string
		ok        bool
	}{
		{"process.name", "keyword", true},
		{"?process.name", "keyword", true},
		{"process.pid", "long", true},
		{"destination.ip", "ip", true},
		{"@timestamp", "date", true},
		{"process.command_line.text", "match_only_text", true},
		{"labels.anything", "object", true},
		{"auditd.data.syscall", "keyword", true},
		{"process.Ext.ancestry", "keyword", true},
		{"user.Ext.real.id", "keyword", true},
		{"process.nme", "", false},
		{"process.name.nope", "", false},
	} {
		typ, ok := Type(tc.name)
		if typ != tc.typ || ok != tc.ok {
			t.Errorf("Type(%q) = %q, %v; want %q, %v", tc.name, typ, ok, tc.typ, tc.ok)
		}
	}
}

func TestClosest(t *testing.T) {
	for in, want := range map[string]string{
		"process.nme":        "process.name",
		"proces.parent.name": "process.parent.name",
		"destination.pot":    "destination.port",
	} {
		if got := Closest(in); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}

// fields_gen.go is what the generator makes of Elastic's files today.
func TestGeneratedIsCurrent(t *testing.T) {
	src := filepath.Join("..", "..", "..", "shared", "ecs")
	if dir := os.Getenv("OSQDETECT_SHARED"); dir != "" {
		src = filepath.Join(dir, "ecs")
	}
	if _, err := os.Stat(filepath.Join(src, "ecs-fields-9.4.0.csv")); err != nil {
		t.Skipf("schema sources not present: %v", err)
	}
	out := filepath.Join(t.TempDir(), "fields_gen.go")
	cmd := exec.Command("go", "run", "./internal/gen", "-src", src, "-out", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generator: %v\n%s", err, msg)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("fields_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("fields_gen.go is stale: run go generate ./rules/schema")
	}
}
