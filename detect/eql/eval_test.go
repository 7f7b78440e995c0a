package eql

import (
	"strings"
	"testing"
)

func TestConditions(t *testing.T) {
	tests := []struct {
		cond  string
		event string
		want  bool
	}{
		// == is case-sensitive and literal.
		{`process.name == "bash"`, `{"process.name":"bash"}`, true},
		{`process.name == "bash"`, `{"process.name":"BASH"}`, false},
		{`process.name == "ba*"`, `{"process.name":"bash"}`, false},
		{`process.name == "ba*"`, `{"process.name":"ba*"}`, true},
		{`"bash" == process.name`, `{"process.name":"bash"}`, true},
		// != and missing fields (must_not).
		{`process.name != "bash"`, `{"process.name":"sh"}`, true},
		{`process.name != "bash"`, `{"process.name":"bash"}`, false},
		{`process.name != "bash"`, `{}`, true}, // must_not: a missing field does not equal,
		{`process.name == "bash"`, `{}`, false},
		{`not process.name == "bash"`, `{}`, true}, // must_not: a missing field does not equal,
		// null.
		{`destination.ip != null`, `{"destination.ip":"1.2.3.4"}`, true},
		{`destination.ip != null`, `{}`, false},
		{`destination.ip != null`, `{"destination.ip":null}`, false},
		{`destination.ip == null`, `{}`, true},
		{`destination.ip == null`, `{"destination.ip":"1.2.3.4"}`, false},
		{`null == destination.ip`, `{}`, true},
		// ?field.
		{`?process.foo == "x"`, `{"process.foo":"x"}`, true},
		{`?process.foo == "x"`, `{}`, false},
		{`?process.foo != "x"`, `{}`, true}, // must_not: a missing field does not equal,
		// ':' is like~: case-insensitive, wildcards.
		{`process.name : "BASH"`, `{"process.name":"bash"}`, true},
		{`process.name : "ba*"`, `{"process.name":"BASH"}`, true},
		{`process.name : "b?sh"`, `{"process.name":"bash"}`, true},
		{`process.name : "b?sh"`, `{"process.name":"bsh"}`, false},
		{`process.name : ("zsh", "ba*")`, `{"process.name":"bash"}`, true},
		{`process.name : ("zsh", "fish")`, `{"process.name":"bash"}`, false},
		{`process.executable : "/tmp/*"`, `{"process.executable":"/tmp/x/y"}`, true},
		{`process.executable : "/tmp/*"`, `{"process.executable":"/var/tmp/x"}`, false},
		{`process.name : "ÄB*"`, `{"process.name":"äbc"}`, true},
		{`process.name : ("x", "Äbc")`, `{"process.name":"äBC"}`, true},
		{`process.name in~ ("Äbc")`, `{"process.name":"äBC"}`, true},
		{`process.command_line : ("x", "*BASH -I*")`, `{"process.command_line":"` + strings.Repeat("a", 200) + ` bash -i"}`, true},
		{`process.command_line : ("x", "*BASH -X*")`, `{"process.command_line":"` + strings.Repeat("a", 200) + ` bash -i"}`, false},
		{`process.command_line : "` + strings.Repeat("A", 150) + `"`, `{"process.command_line":"` + strings.Repeat("a", 150) + `"}`, true},
		// like is case-sensitive, like~ not.
		{`process.name like "ba*"`, `{"process.name":"bash"}`, true},
		{`process.name like "ba*"`, `{"process.name":"BASH"}`, false},
		{`process.name like~ "ba*"`, `{"process.name":"BASH"}`, true},
		{`process.name like ("a", "b?")`, `{"process.name":"bc"}`, true},
		// in is case-sensitive and literal; in~ folds; not in.
		{`process.name in ("bash", "sh")`, `{"process.name":"sh"}`, true},
		{`process.name in ("bash", "sh")`, `{"process.name":"SH"}`, false},
		{`process.name in ("ba*")`, `{"process.name":"bash"}`, false},
		{`process.name in~ ("BASH", "sh")`, `{"process.name":"Bash"}`, true},
		{`process.name not in ("bash", "sh")`, `{"process.name":"zsh"}`, true},
		{`process.name not in ("bash", "sh")`, `{"process.name":"sh"}`, false},
		{`process.name not in ("bash", "sh")`, `{}`, true}, // must_not: a missing field does not equal,
		{`not process.name in ("bash", "sh")`, `{"process.name":"sh"}`, false},
		{`user.id in ("0", "1")`, `{"user.id":0}`, true},
		{`process.pid in (1, 2)`, `{"process.pid":"2"}`, true},
		{`process.pid in (1, 2)`, `{"process.pid":"3"}`, false},
		{`process.name in ("a", null)`, `{}`, true},
		// Arrays: any element; != true unless some element equals.
		{`process.args == "-c"`, `{"process.args":["bash","-c","id"]}`, true},
		{`process.args == "-x"`, `{"process.args":["bash","-c","id"]}`, false},
		{`process.args == "-in" and process.args == "-out"`, `{"process.args":["-in","-out"]}`, true},
		{`process.args != "-c"`, `{"process.args":["bash","-c"]}`, false},
		{`process.args != "-x"`, `{"process.args":["bash","-c"]}`, true},
		{`process.args : "*L*"`, `{"process.args":["nc","-lvp"]}`, true},
		{`process.args like "*L*"`, `{"process.args":["nc","-lvp"]}`, false},
		{`process.args in ("nc", "ncat")`, `{"process.args":["/bin/x","ncat"]}`, true},
		// Numbers, strings that read as numbers, ordering.
		{`process.args_count >= 4`, `{"process.args_count":4}`, true},
		{`process.args_count >= 4`, `{"process.args_count":3}`, false},
		{`process.args_count >= 4`, `{"process.args_count":"12"}`, true},
		{`process.args_count > 4`, `{}`, false},
		{`process.args_count < 4`, `{"process.args_count":"abc"}`, false},
		{`process.args_count == 2`, `{"process.args_count":2}`, true},
		{`process.args_count == 2.0`, `{"process.args_count":2}`, true},
		{`4 <= process.args_count`, `{"process.args_count":5}`, true},
		{`user.id == "0"`, `{"user.id":0}`, true},
		{`user.id != "0"`, `{"user.id":1000}`, true},
		{`process.pid == 5`, `{"process.pid":"5"}`, true},
		{`process.name < "b"`, `{"process.name":"a"}`, true},
		{`process.name < "b"`, `{"process.name":"B"}`, true},
		{`process.name > "b"`, `{"process.name":"B"}`, false},
		{`process.pid == -5`, `{"process.pid":-5}`, true},
		// Booleans.
		{`process.interactive == true`, `{"process.interactive":true}`, true},
		{`process.interactive == true`, `{"process.interactive":false}`, false},
		{`process.interactive == false`, `{"process.interactive":"false"}`, true},
		{`process.interactive`, `{"process.interactive":true}`, true},
		{`true`, `{}`, true},
		{`false or process.name == "x"`, `{"process.name":"x"}`, true},
		// String escapes and raw strings.
		{`process.command_line : "*\\x*"`, `{"process.command_line":"echo \\x41"}`, true},
		{`process.command_line == "a\"b"`, `{"process.command_line":"a\"b"}`, true},
		{`process.command_line == "a\tb"`, `{"process.command_line":"a\tb"}`, true},
		{`process.command_line == "\u{41}"`, `{"process.command_line":"A"}`, true},
		{`process.command_line == """a\tb"""`, `{"process.command_line":"a\\tb"}`, true},
		{`process.command_line like """bash -c "x*"""`, `{"process.command_line":"bash -c \"xyz"}`, true},
		// regex / regex~ (anchored).
		{`process.name regex "ba.h"`, `{"process.name":"bash"}`, true},
		{`process.name regex "ba"`, `{"process.name":"bash"}`, false},
		{`process.name regex "BA.H"`, `{"process.name":"bash"}`, false},
		{`process.name regex~ "BA.H"`, `{"process.name":"bash"}`, true},
		{`process.args regex "[24][0-9]{3}"`, `{"process.args":["chmod","4755","f"]}`, true},
		{`process.args regex "[24][0-9]{3}"`, `{"process.args":["chmod","755","f"]}`, false},
		{`process.executable regex~ """/var/run/\w+\.(pid|lock|reboot)"""`, `{"process.executable":"/var/run/X_1.PID"}`, true},
		{`process.executable regex~ """/var/run/\w+\.(pid|lock|reboot)"""`, `{"process.executable":"/var/run/a/b.pid"}`, false},
		{`process.command_line regex ".*[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}.*"`, `{"process.command_line":"nc 10.0.0.1 80"}`, true},
		{`process.command_line regex ".*a.*"`, `{"process.command_line":"x\nay"}`, true},
		{`process.name regex "^a$"`, `{"process.name":"a"}`, false},
		{`process.name regex "^a$"`, `{"process.name":"^a$"}`, true},
		{`process.name regex "a\"b.c\"d"`, `{"process.name":"ab.cd"}`, true},
		{`process.name regex "a\"b.c\"d"`, `{"process.name":"abxcd"}`, false},
		{`process.name regex """a\nb"""`, `{"process.name":"anb"}`, true},
		{`process.name regex ("x", "b.*")`, `{"process.name":"bash"}`, true},
		// Functions.
		{`cidrmatch(destination.ip, "10.0.0.0/8", "::1")`, `{"destination.ip":"10.1.2.3"}`, true},
		{`cidrMatch(destination.ip, "10.0.0.0/8", "::1")`, `{"destination.ip":"::1"}`, true},
		{`cidrmatch(destination.ip, "10.0.0.0/8", "::1")`, `{"destination.ip":"11.0.0.1"}`, false},
		{`cidrmatch(destination.ip, "fe80::/10")`, `{"destination.ip":"fe80::1"}`, true},
		{`cidrmatch(destination.ip, "127.0.0.0/8")`, `{"destination.ip":"::ffff:127.0.0.1"}`, true},
		{`cidrmatch(destination.ip, "127.0.0.0/8")`, `{"destination.ip":"not an ip"}`, false},
		{`not cidrmatch(destination.ip, "127.0.0.0/8")`, `{}`, true}, // must_not: a missing field does not equal,
		{`cidrmatch(destination.ip, "10.0.0.0/8")`, `{"destination.ip":["1.1.1.1","10.0.0.9"]}`, true},
		{`cidrmatch(destination.ip, "10.0.0.0/8") == false`, `{"destination.ip":"1.1.1.1"}`, true},
		{`startsWith(process.name, "ba")`, `{"process.name":"bash"}`, true},
		{`startswith(process.name, "BA")`, `{"process.name":"bash"}`, false},
		{`startsWith~(process.name, "BA")`, `{"process.name":"bash"}`, true},
		{`startsWith(process.executable, process.command_line)`, `{"process.executable":"/bin/sh -c id","process.command_line":"/bin/sh"}`, true},
		{`startsWith(process.executable, process.command_line)`, `{"process.executable":"/bin/sh"}`, false},
		{`not startsWith(process.executable, process.command_line)`, `{"process.executable":"/bin/sh"}`, false}, // a script: null,
		{`endsWith(process.name, "sh")`, `{"process.name":"bash"}`, true},
		{`endswith~(process.name, "SH")`, `{"process.name":"bash"}`, true},
		{`stringcontains(process.command_line, process.name)`, `{"process.command_line":"x bash y","process.name":"bash"}`, true},
		{`stringContains(process.command_line, "BASH")`, `{"process.command_line":"x bash y"}`, false},
		{`stringContains~(process.command_line, "BASH")`, `{"process.command_line":"x bash y"}`, true},
		{`startsWith(process.args, "-c")`, `{"process.args":["bash","-cx"]}`, true},
		{`length(process.command_line) > 5`, `{"process.command_line":"abcdef"}`, true},
		{`length(process.command_line) > 5`, `{"process.command_line":"abc"}`, false},
		{`length(process.command_line) > 5`, `{}`, false},
		{`length(process.command_line) == 3`, `{"process.command_line":"héé"}`, true},
		{`indexOf(process.name, "s") == 2`, `{"process.name":"bash"}`, true},
		{`indexOf(process.name, "s", 3) == null`, `{"process.name":"bash"}`, true},
		{`indexOf~(process.name, "S") == 2`, `{"process.name":"bash"}`, true},
		{`substring(process.name, 1, 3) == "as"`, `{"process.name":"bash"}`, true},
		{`substring(process.name, -2) == "sh"`, `{"process.name":"bash"}`, true},
		{`concat(process.name, "-", process.pid) == "bash-7"`, `{"process.name":"bash","process.pid":7}`, true},
		{`concat(process.name, process.pid) == null`, `{"process.name":"bash"}`, true},
		{`add(process.pid, 1) == 8`, `{"process.pid":7}`, true},
		{`subtract(process.pid, 1) == 6`, `{"process.pid":"7"}`, true},
		{`multiply(process.pid, 0.5) == 3.5`, `{"process.pid":7}`, true},
		{`divide(process.pid, 2) == 3`, `{"process.pid":7}`, true},
		{`divide(process.pid, 0) == null`, `{"process.pid":7}`, true},
		{`modulo(process.pid, 4) == 3`, `{"process.pid":7}`, true},
		{`process.pid + 1 == 8`, `{"process.pid":7}`, true},
		{`process.pid * 2 - 4 / 2 == 12`, `{"process.pid":7}`, true},
		{`-process.pid == -7`, `{"process.pid":7}`, true},
		{`process.pid % 4 == 3`, `{"process.pid":7}`, true},
		{`number(process.title) == 42`, `{"process.title":"42"}`, true},
		{`number(process.title, 16) == 255`, `{"process.title":"0xff"}`, true},
		{`number(process.title) == null`, `{"process.title":"x"}`, true},
		{`string(process.pid) == "7"`, `{"process.pid":7}`, true},
		{`between(process.command_line, "a", "c") == "b"`, `{"process.command_line":"xabcabc"}`, true},
		{`between(process.command_line, "a", "c", true) == "bcab"`, `{"process.command_line":"xabcabc"}`, true},
		{`between~(process.command_line, "A", "C") == "b"`, `{"process.command_line":"xabc"}`, true},
		{`between(process.command_line, "q", "c") == ""`, `{"process.command_line":"xabc"}`, true},
		// Precedence: not > and > or.
		{`process.name == "a" or process.name == "b" and process.pid == 1`, `{"process.name":"a","process.pid":2}`, true},
		{`(process.name == "a" or process.name == "b") and process.pid == 1`, `{"process.name":"a","process.pid":2}`, false},
		{`not process.name == "a" and process.pid == 1`, `{"process.name":"b","process.pid":1}`, true},
		{`not (process.name == "a" and process.pid == 1)`, `{"process.name":"a","process.pid":2}`, true},
		// Field-to-field comparison.
		{`process.executable == process.parent.executable`, `{"process.executable":"/a","process.parent.executable":"/a"}`, true},
		{`process.executable != process.parent.executable`, `{"process.executable":"/a","process.parent.executable":"/a"}`, false},
		{`process.executable != process.parent.executable`, `{"process.executable":"/a"}`, false}, // a script: null,
		// Comments.
		{"process.name == \"a\" /* or b */ // trailing\n and true", `{"process.name":"a"}`, true},
		// Back-quoted field names.
		{"`process.name` == \"a\"", `{"process.name":"a"}`, true},
	}
	for _, tt := range tests {
		q, err := Compile("any where "+tt.cond, Options{})
		if err != nil {
			t.Errorf("Compile(%q): %v", tt.cond, err)
			continue
		}
		if got := q.Event(event(t, tt.event)); got != tt.want {
			t.Errorf("%s on %s = %v, want %v", tt.cond, tt.event, got, tt.want)
		}
	}
}

func TestCategory(t *testing.T) {
	tests := []struct {
		query string
		opts  Options
		event string
		want  bool
	}{
		{`process where true`, Options{}, `{"event.category":"process"}`, true},
		{`process where true`, Options{}, `{"event.category":["network","process"]}`, true},
		{`process where true`, Options{}, `{"event.category":"Process"}`, false},
		{`process where true`, Options{}, `{}`, false},
		{`network where true`, Options{}, `{"event.category":"process"}`, false},
		{`any where true`, Options{}, `{}`, true},
		{`"process" where true`, Options{}, `{"event.category":"process"}`, true},
		{`process where true`, Options{CategoryField: "event_type"}, `{"event_type":"process"}`, true},
		{`process where true`, Options{CategoryField: "event_type"}, `{"event.category":"process"}`, false},
		{`process where process.name == "a"`, Options{}, `{"event.category":"process","process.name":"b"}`, false},
	}
	for _, tt := range tests {
		q, err := Compile(tt.query, tt.opts)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.query, err)
		}
		if got := q.Event(event(t, tt.event)); got != tt.want {
			t.Errorf("%s on %s = %v, want %v", tt.query, tt.event, got, tt.want)
		}
	}
}

func TestFieldsAndPipes(t *testing.T) {
	q := mustCompile(t, `process where process.name == "a" and cidrmatch(destination.ip, "::1") and ?x.y != null | head 5`)
	want := []string{"destination.ip", "event.category", "process.name", "x.y"}
	if len(q.Fields) != len(want) {
		t.Fatalf("Fields = %v, want %v", q.Fields, want)
	}
	for i := range want {
		if q.Fields[i] != want[i] {
			t.Fatalf("Fields = %v, want %v", q.Fields, want)
		}
	}
	if q.Head != 5 || q.Tail != 0 || q.Sequence != nil || q.Event == nil {
		t.Errorf("got Head %d Tail %d Sequence %v", q.Head, q.Tail, q.Sequence)
	}
	q = mustCompile(t, `sequence by host.id [process where true] by process.pid [network where true] by source.ip | tail 3`)
	if q.Tail != 3 || q.Event != nil || q.Sequence == nil {
		t.Errorf("got Tail %d Event %v", q.Tail, q.Event != nil)
	}
	if got := q.Sequence.Steps[1].Keys; len(got) != 2 || got[0].Field != "host.id" || got[1].Field != "source.ip" || q.Sequence.Steps[0].Keys[1].Field != "process.pid" {
		t.Errorf("step keys = %+v", got)
	}
}

// Pipes apply in order, each to the results of the one before
// (https://www.elastic.co/guide/en/elasticsearch/reference/current/eql-pipe-ref.html;
// Elasticsearch's EQL QA has `| head 4 | tail 2` over sequences).
func TestApplyPipes(t *testing.T) {
	for _, tc := range []struct {
		query    string
		n        int
		from, to int
	}{
		{"any where true", 10, 0, 10},
		{"any where true | head 4", 10, 0, 4},
		{"any where true | tail 4", 10, 6, 10},
		{"any where true | head 4 | tail 2", 10, 2, 4},
		{"any where true | tail 4 | head 1", 10, 6, 7},
		{"any where true | head 2 | head 5", 10, 0, 2},
		{"any where true | head 4 | tail 2", 3, 1, 3},
		{"any where true | tail 1 | tail 1 | head 9", 0, 0, 0},
	} {
		q := mustCompile(t, tc.query)
		if from, to := ApplyPipes(q.Pipes, tc.n); from != tc.from || to != tc.to {
			t.Errorf("%s over %d: [%d,%d), want [%d,%d)", tc.query, tc.n, from, to, tc.from, tc.to)
		}
	}
}
