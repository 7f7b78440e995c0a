package kql

import (
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// Over-long input is refused before any value is compiled.
func TestLimits(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"process.name:" + strings.Repeat("a", MaxValueLen+1), "value longer than"},
		{`process.name:"` + strings.Repeat("a*", MaxValueLen) + `"`, "value longer than"},
		{strings.Repeat("a:b or ", MaxQueryLen/7+1) + "a:b", "query longer than"},
	} {
		if _, err := Compile(tc.src); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compile(%.30q...) = %v, want %q", tc.src, err, tc.want)
		}
	}
	if _, err := Compile("process.name:" + strings.Repeat("a", MaxValueLen)); err != nil {
		t.Errorf("a value at the limit: %v", err)
	}
}

// Wildcards in field names: the query holds when it holds on some field
// whose name matches (https://www.elastic.co/guide/en/kibana/current/kuery-query.html).
func TestWildcardFieldNames(t *testing.T) {
	ev := &ecs.Event{}
	for name, v := range map[string]ecs.Value{
		"process.name":        ecs.Str("bash"),
		"process.parent.name": ecs.Str("sshd"),
		"process.pid":         ecs.IntVal(42),
		"destination.ip":      ecs.Str("10.1.2.3"),
	} {
		f, _ := ecs.FieldOf(name)
		ev.Set(f, v)
	}
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{`process.*:bash`, true},
		{`process.*:sshd`, true},
		{`process.*name:(zsh or sshd)`, true},
		{`process.*:zsh`, false},
		{`not process.*:zsh`, true},
		{`not process.*:bash`, false},
		{`process.* > 40`, true},
		{`process.pi* >= 43`, false},
		{`*.ip:10.0.0.0/8`, true},
		{`*.ip:11.0.0.0/8`, false},
		{`user.*:*`, false},
		{`process.p*:*`, true},
	} {
		q, err := Compile(tc.query)
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		if got := q.Match(ev); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.query, got, tc.want)
		}
	}
}

// Ranges compare dates as dates and addresses as addresses.
func TestTypedRanges(t *testing.T) {
	ev := &ecs.Event{}
	for name, v := range map[string]ecs.Value{
		"@timestamp":     ecs.IntVal(1700000000000), // 2023-11-14T22:13:20Z
		"event.created":  ecs.Str("2023-11-14T22:13:20.000Z"),
		"destination.ip": ecs.Str("10.0.0.20"),
	} {
		f, _ := ecs.FieldOf(name)
		ev.Set(f, v)
	}
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{`@timestamp >= "2023-11-14"`, true},
		{`@timestamp < "2023-11-14T22:13:20Z"`, false},
		{`@timestamp <= "2023-11-14T22:13:20Z"`, true},
		{`event.created > "2023-11-14T23:13:20+02:00"`, true},
		{`event.created > "2023-11-15"`, false},
		{`destination.ip >= 10.0.0.3 and destination.ip < 10.0.0.100`, true},
		{`destination.ip > 10.0.0.3 and destination.ip < 10.0.0.19`, false},
	} {
		q, err := Compile(tc.query)
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		if got := q.Match(ev); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.query, got, tc.want)
		}
	}
}
