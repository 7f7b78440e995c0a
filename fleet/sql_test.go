package fleet

import (
	"go.yaml.in/yaml/v3"

	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/detect"
	_ "modernc.org/sqlite"
)

// TestGeneratedSQLRunsOnSQLite runs every generated statement on SQLite
// (osquery's SQL engine) over tables shaped like osqdetect's, and checks
// the policy and alert filters select what they say.
func TestGeneratedSQLRunsOnSQLite(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	cols := make([]string, len(detect.AlertColumns))
	for i, c := range detect.AlertColumns {
		cols[i] = c + " TEXT"
		if c == "time" || c == "pid" || c == "risk_score" || c == "parent_pid" || c == "destination_port" {
			cols[i] = c + " INTEGER"
		}
	}
	for _, stmt := range []string{
		"CREATE TABLE alerts (" + strings.Join(cols, ", ") + ")",
		"CREATE TABLE detection_health (name TEXT, value TEXT)",
		"CREATE TABLE osquery_extensions (uuid INTEGER, name TEXT, type TEXT)",
		"INSERT INTO osquery_extensions VALUES (0, 'core', 'core'), (1, 'osqdetect', 'extension')",
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	p, err := plan(ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	count := func(q string) int {
		t.Helper()
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
		}
		return n
	}
	if n := count(p.label.Query); n != 1 {
		t.Errorf("label query returns %d rows on a host with the extension, want 1", n)
	}
	if n := count(p.policy.Query); n != 1 {
		t.Errorf("policy fails (%d rows) on a host without alerts", n)
	}
	now := time.Now().Unix()
	ins := "INSERT INTO alerts (id, time, rule_id, severity) VALUES (?, ?, ?, ?)"
	for _, a := range []struct {
		id, rule, sev string
		age           int64
	}{{"old-high", "r1", "high", 2 * 86400}, {"new-low", "r2", "low", 60}, {"new-o'q", "it's", "medium", 60}} {
		if _, err := db.Exec(ins, a.id, now-a.age, a.rule, a.sev); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(p.policy.Query); n != 1 {
		t.Errorf("policy fails on an old high alert and a recent low one")
	}
	for _, q := range p.queries {
		count(q.Query)
	}
	if n := count(p.queries[0].Query); n != 2 {
		t.Errorf("stream query returns %d rows, want the 2 recent alerts", n)
	}
	if _, err := db.Exec(ins, "new-crit", now-10, "r3", "critical"); err != nil {
		t.Fatal(err)
	}
	if n := count(p.policy.Query); n != 0 {
		t.Errorf("policy passes with a recent critical alert")
	}

	for _, tc := range []struct {
		f    AlertFilter
		want int
	}{
		{AlertFilter{RuleID: "it's"}, 1},
		{AlertFilter{RuleID: "x' OR '1'='1"}, 0},
		{AlertFilter{MinSeverity: "medium"}, 3},
		{AlertFilter{MinSeverity: "critical", Since: time.Hour}, 1},
		{AlertFilter{Since: time.Hour}, 3},
		{AlertFilter{}, 4},
	} {
		q, err := AlertsQuery(tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if n := count(q); n != tc.want {
			t.Errorf("%s: %d rows, want %d", q, n, tc.want)
		}
	}
}

func FuzzQuoteLiteral(f *testing.F) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	f.Add("it's")
	f.Add("'; DROP TABLE x; --")
	f.Add("\x00")
	f.Fuzz(func(t *testing.T, s string) {
		q, err := QuoteLiteral(s)
		if err != nil {
			if !strings.Contains(s, "\x00") {
				t.Fatalf("QuoteLiteral(%q): %v", s, err)
			}
			return
		}
		var got string
		if err := db.QueryRow("SELECT " + q).Scan(&got); err != nil {
			t.Fatalf("SELECT %s: %v", q, err)
		}
		if got != s && strings.ToValidUTF8(s, "\uFFFD") == s {
			t.Fatalf("literal %s reads back %q, want %q", q, got, s)
		}
	})
}

func FuzzYAMLStringRoundTrip(f *testing.F) {
	f.Add("osqdetect extension running")
	f.Add("Servers: prod")
	f.Add("yes")
	f.Add("a #b")
	f.Add("tab\there\nnewline")
	f.Fuzz(func(t *testing.T, s string) {
		if !strings.HasPrefix(strings.ToValidUTF8(s, ""), s) || s == "" {
			return
		}
		doc := "k: " + yamlString(s) + "\n"
		var m map[string]string
		err := yaml.Unmarshal([]byte(doc), &m)
		if err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		if m["k"] != s {
			t.Fatalf("%q reads back %q, want %q", doc, m["k"], s)
		}
	})
}
