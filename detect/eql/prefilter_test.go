package eql

import (
	"strings"
	"testing"
)

func TestPrefilters(t *testing.T) {
	tests := []struct {
		query string
		want  string // "field fold? v1,v2" per prefilter joined by " | ", "" for none
	}{
		{`process where process.name == "ln"`, "process.name false ln"},
		{`process where event.type == "start" and process.name in ("a", "b")`, "process.name false a,b"},
		{`process where process.name : ("Bash", "sh")`, "process.name true Bash,sh"},
		{`process where process.name : ("ba*", "sh")`, "process.name true sh prefix ba"},
		{`process where process.name : ("*.sh", "x?y")`, "process.name true  prefix x suffix .sh"},
		{`process where process.name : ("*x*")`, ""},
		{`process where process.name like "x"`, "process.name false x"},
		{`process where process.name in~ ("X")`, "process.name true X"},
		{`process where process.name == "a" or process.name == "b"`, "process.name false a,b"},
		{`process where process.name == "a" or process.parent.name == "b"`, "process.name false a | process.parent.name false b"},
		{`process where process.name == "a" or process.parent.name : "b*"`, "process.name false a | process.parent.name true  prefix b"},
		{`process where process.name == "a" or process.parent.name : "*b*"`, ""},
		{`process where process.name == "a" or process.name : "B"`, "process.name false a | process.name true B"},
		{`process where not process.name == "a"`, ""},
		{`process where process.name != "a"`, ""},
		{`process where process.name not in ("a")`, ""},
		{`process where event.action == "exec"`, "event.action false exec"},
		{`process where event.action == "exec" and process.name == "x"`, "process.name false x"},
		{`process where event.action == "exec" and (process.name == "x" or process.parent.name == "y")`, "process.name false x | process.parent.name false y"},
		{`network where destination.ip == "10.0.0.1"`, ""},
		{`process where process.args_count == "3"`, ""},
		{`process where process.parent.name == "bash" and process.name == "nc"`, "process.name false nc"},
		{`process where process.executable == "/bin/x" and process.name in ("a", "b", "c")`, "process.name false a,b,c"},
		{`sequence [process where process.name == "a"] [network where process.name == "b"]`, "process.name false a,b"},
		{`sequence [process where process.name == "a"] [network where process.parent.name == "b"]`, "process.name false a | process.parent.name false b"},
		{`sequence [process where process.name == "a"] [network where true]`, ""},
		{`sequence [process where process.name == "a"] [process where process.name == "b"] until [process where true]`, ""},
		// A regex states what its precheck knows: a long prefix, an inner
		// text, a short prefix, the few bytes a value can end with.
		{`process where process.executable regex~ """/var/run/\w+\.(pid|lock|reboot)"""`, "process.executable true  prefix /var/run/"},
		{`process where process.command_line regex """.*curl.*"""`, "process.command_line false  contains curl"},
		{`process where process.name regex~ """php?[0-9]?\.?[0-9]{0,2}"""`, "process.name true  prefix ph"},
		{`process where process.executable regex """/[a-z0-9]+\s"""`, "process.executable false  suffix \t,\n,\f,\r, "},
		{`process where process.name regex ("[a-z]+", "x.*")`, ""},
		{`process where process.name regex ("abcd.*", ".*wxyz")`, "process.name false  prefix abcd suffix wxyz"},
		{`process where not process.name regex "abcd.*"`, ""},
		{`network where destination.ip regex """10\..*"""`, ""},
	}
	for _, tt := range tests {
		q, err := Compile(tt.query, Options{})
		if err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		var parts []string
		for _, p := range q.Prefilters {
			fold := "false"
			if p.Fold {
				fold = "true"
			}
			part := p.Field + " " + fold + " " + strings.Join(p.Values, ",")
			if len(p.Prefixes) > 0 {
				part += " prefix " + strings.Join(p.Prefixes, ",")
			}
			if len(p.Suffixes) > 0 {
				part += " suffix " + strings.Join(p.Suffixes, ",")
			}
			if len(p.Contains) > 0 {
				part += " contains " + strings.Join(p.Contains, ",")
			}
			parts = append(parts, part)
		}
		if got := strings.Join(parts, " | "); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.query, got, tt.want)
		}
	}
}
