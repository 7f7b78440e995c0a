package kql

import (
	"errors"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// ev builds an event from dotted field names: strings, ints, float64s,
// bools, nil (an explicit null) and []any (an array of those).
func ev(t testing.TB, fields map[string]any) *ecs.Event {
	t.Helper()
	e := &ecs.Event{}
	for name, raw := range fields {
		f, ok := ecs.FieldOf(name)
		if !ok {
			t.Fatalf("registering field %q", name)
		}
		e.Set(f, toValue(t, raw))
	}
	return e
}

func toValue(t testing.TB, raw any) ecs.Value {
	switch x := raw.(type) {
	case nil:
		return ecs.NullVal()
	case string:
		return ecs.Str(x)
	case int:
		return ecs.IntVal(int64(x))
	case int64:
		return ecs.IntVal(x)
	case float64:
		return ecs.FloatVal(x)
	case bool:
		return ecs.BoolVal(x)
	case []any:
		elems := make([]ecs.Value, len(x))
		for i, el := range x {
			elems[i] = toValue(t, el)
		}
		return ecs.ArrayOf(elems...)
	}
	t.Fatalf("unsupported test value %T", raw)
	return ecs.Value{}
}

func mustCompile(t testing.TB, src string) *Query {
	t.Helper()
	q, err := Compile(src)
	if err != nil {
		t.Fatalf("Compile(%q): %v", src, err)
	}
	return q
}

type matchCase struct {
	name  string
	query string
	event map[string]any
	want  bool
}

func runMatchCases(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := mustCompile(t, c.query)
			if got := q.Match(ev(t, c.event)); got != c.want {
				t.Errorf("query %q on %v: got %v, want %v\ncompiled:\n%s", c.query, c.event, got, c.want, q)
			}
		})
	}
}

func TestKeywordMatch(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"exact", `process.name:ln`, map[string]any{"process.name": "ln"}, true},
		{"case sensitive", `process.name:ln`, map[string]any{"process.name": "LN"}, false},
		{"not a substring", `process.name:ln`, map[string]any{"process.name": "lnx"}, false},
		{"missing field", `process.name:ln`, map[string]any{"process.pid": 1}, false},
		{"quoted", `process.name:"ln"`, map[string]any{"process.name": "ln"}, true},
		{"quoted with space", `process.title:"runc init"`, map[string]any{"process.title": "runc init"}, true},
		{"quoted star is literal", `process.name:"py*"`, map[string]any{"process.name": "python"}, false},
		{"quoted star matches star", `process.name:"py*"`, map[string]any{"process.name": "py*"}, true},
		{"quoted question mark literal", `process.name:"a?"`, map[string]any{"process.name": "a?"}, true},
		{"space around colon", `process.name : ln`, map[string]any{"process.name": "ln"}, true},
		{"quoted escapes", `process.name:"a\"b\\c"`, map[string]any{"process.name": `a"b\c`}, true},
		{"quoted lone backslash kept", `process.executable:"C:\Windows"`, map[string]any{"process.executable": `C:\Windows`}, true},
		{"quoted field name", `"process.name":ln`, map[string]any{"process.name": "ln"}, true},
		{"empty string quoted", `process.name:""`, map[string]any{"process.name": ""}, true},
		{"empty string not matched by value", `process.name:x`, map[string]any{"process.name": ""}, false},
	})
}

func TestWildcards(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"trailing", `process.name:python*`, map[string]any{"process.name": "python3"}, true},
		{"trailing anchored", `process.name:python*`, map[string]any{"process.name": "xpython3"}, false},
		{"leading", `process.name:*.sh`, map[string]any{"process.name": "a.sh"}, true},
		{"inner", `process.args:*NOPASSWD*ALL*`, map[string]any{"process.args": "x NOPASSWD: ALL y"}, true},
		{"inner order", `process.args:*NOPASSWD*ALL*`, map[string]any{"process.args": "ALL NOPASSWD"}, false},
		{"case sensitive", `process.name:python*`, map[string]any{"process.name": "Python3"}, false},
		{"question mark is literal", `process.name:a?c*`, map[string]any{"process.name": "abc"}, false},
		{"question mark literal match", `process.name:a?c*`, map[string]any{"process.name": "a?cd"}, true},
		{"escaped star is literal", `process.name:a\*`, map[string]any{"process.name": "a*"}, true},
		{"escaped star not wildcard", `process.name:a\*`, map[string]any{"process.name": "ab"}, false},
		{"escaped and real star", `process.name:a\**`, map[string]any{"process.name": "a*bc"}, true},
		{"escaped and real star 2", `process.name:a\**`, map[string]any{"process.name": "abc"}, false},
		{"dot dir", `process.args:/*/.*`, map[string]any{"process.args": "/tmp/.hidden"}, true},
		{"dot dir needs slash dot", `process.args:/*/.*`, map[string]any{"process.args": "/tmp/x"}, false},
		{"value with spaces and star", `process.args:(* curl* or *wget*)`, map[string]any{"process.args": "sh -c curl http://x"}, true},
		{"value with spaces needs the space", `process.args:(* curl* or *wget*)`, map[string]any{"process.args": "curl"}, false},
		{"spaced value then keyword", `process.args:* curl* and process.name:sh`, map[string]any{"process.args": "a curl", "process.name": "sh"}, true},
		{"backslash escapes", `process.executable:C\:\\ProgramData\\*\\updater.exe`, map[string]any{"process.executable": `C:\ProgramData\x\updater.exe`}, true},
		{"escaped backslash then n", `process.args:*System32\\ntoskrnl.exe*`, map[string]any{"process.args": `C:\Windows\System32\ntoskrnl.exe`}, true},
		{"escaped quote", `process.args:\"/usr/bin/7za*`, map[string]any{"process.args": `"/usr/bin/7za" x`}, true},
		{"escaped space", `process.title:runc\ init`, map[string]any{"process.title": "runc init"}, true},
		{"escaped parens", `process.name:\(sd-pam\)`, map[string]any{"process.name": "(sd-pam)"}, true},
		{"escaped keyword", `process.args:\or`, map[string]any{"process.args": "or"}, true},
		{"escaped keyword and", `process.args:\AND`, map[string]any{"process.args": "AND"}, true},
		{"escaped tab", `process.args:a\tb`, map[string]any{"process.args": "a\tb"}, true},
		{"unicode escape", `process.args:caf\u00e9`, map[string]any{"process.args": "café"}, true},
		{"wildcard on number", `process.pid:1*`, map[string]any{"process.pid": 123}, true},
		{"wildcard on number no", `process.pid:1*`, map[string]any{"process.pid": 23}, false},
		{"wildcard on bool", `process.interactive:t*`, map[string]any{"process.interactive": true}, true},
	})
}

func TestExistence(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"present", `process.parent.executable:*`, map[string]any{"process.parent.executable": "/bin/sh"}, true},
		{"empty string counts", `process.parent.executable:*`, map[string]any{"process.parent.executable": ""}, true},
		{"missing", `process.parent.executable:*`, map[string]any{"process.name": "x"}, false},
		{"null", `process.parent.executable:*`, map[string]any{"process.parent.executable": nil}, false},
		{"empty array", `process.args:*`, map[string]any{"process.args": []any{}}, false},
		{"array of nulls", `process.args:*`, map[string]any{"process.args": []any{nil}}, false},
		{"array", `process.args:*`, map[string]any{"process.args": []any{"a"}}, true},
		{"number", `process.pid:*`, map[string]any{"process.pid": 0}, true},
		{"bool false", `process.interactive:*`, map[string]any{"process.interactive": false}, true},
		{"double star", `process.name:**`, map[string]any{"process.name": ""}, true},
		{"not exists on missing", `not process.parent.executable:*`, map[string]any{"process.name": "x"}, true},
		{"exists and not", `user.id:(* and not 0)`, map[string]any{"user.id": "1000"}, true},
		{"exists and not excluded", `user.id:(* and not 0)`, map[string]any{"user.id": "0"}, false},
		{"exists and not missing", `user.id:(* and not 0)`, map[string]any{"user.name": "x"}, false},
		{"exists and not int", `user.id:(* and not 0)`, map[string]any{"user.id": 0}, false},
		{"seed parent exclusions", `process.parent.executable:(* and not (/bin/make or /usr/bin/make))`, map[string]any{"process.parent.executable": "/usr/bin/make"}, false},
		{"seed parent exclusions pass", `process.parent.executable:(* and not (/bin/make or /usr/bin/make))`, map[string]any{"process.parent.executable": "/usr/bin/bash"}, true},
	})
}

func TestBooleanLogic(t *testing.T) {
	e := map[string]any{"a": "1", "b": "2", "c": "3"}
	runMatchCases(t, []matchCase{
		{"and", `a:1 and b:2`, e, true},
		{"and false", `a:1 and b:9`, e, false},
		{"or", `a:9 or b:2`, e, true},
		{"or false", `a:9 or b:9`, e, false},
		{"not", `not a:9`, e, true},
		{"not true", `not a:1`, e, false},
		{"or binds looser than and", `a:9 and b:9 or c:3`, e, true},
		{"or binds looser than and 2", `c:3 or a:9 and b:9`, e, true},
		{"parens change it", `a:9 and (b:9 or c:3)`, e, false},
		{"not binds tighter than and", `not a:9 and b:2`, e, true},
		{"not binds tighter than or", `not a:1 or b:2`, e, true},
		{"not of group", `not (a:1 and b:2)`, e, false},
		{"double not", `not not a:1`, e, true},
		{"keywords any case", `a:1 AND b:2 Or c:9 aNd NOT c:9`, e, true},
		{"nested parens", `((a:1) and ((b:2)))`, e, true},
		{"field not value", `a:not 9`, e, true},
		{"field not value false", `a:not 1`, e, false},
		{"keyword-like words are values", `a:order or a:andy or a:nothing`, map[string]any{"a": "nothing"}, true},
		{"newlines are whitespace", "a:1\nand\r\n\tb:2", e, true},
	})
}

func TestValueLists(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"or list", `process.name:(bash or sh or zsh)`, map[string]any{"process.name": "sh"}, true},
		{"or list miss", `process.name:(bash or sh or zsh)`, map[string]any{"process.name": "ksh"}, false},
		{"big list uses set", `process.name:(a or b or c or d or e or f or g or h or i)`, map[string]any{"process.name": "h"}, true},
		{"big list miss", `process.name:(a or b or c or d or e or f or g or h or i)`, map[string]any{"process.name": "z"}, false},
		{"mixed list", `process.name:("bash" or python* or .*)`, map[string]any{"process.name": ".x"}, true},
		{"not in list", `process.name:(* and not (bash or sh))`, map[string]any{"process.name": "sh"}, false},
		{"not in list 2", `process.name:(* and not (bash or sh))`, map[string]any{"process.name": "zsh"}, true},
		{"nested value parens", `process.args:((a or b) and (c or d))`, map[string]any{"process.args": []any{"b", "c"}}, true},
		{"list with not first", `process.args:(not a)`, map[string]any{"process.args": []any{"b"}}, true},
		{"list with not on missing field", `process.args:(not a)`, map[string]any{"process.name": "x"}, true},
		{"and list on scalar", `process.args:(echo and *NOPASSWD*ALL*)`, map[string]any{"process.args": "echo"}, false},
		{"and list on array", `process.args:(echo and *NOPASSWD*ALL*)`, map[string]any{"process.args": []any{"echo", "x NOPASSWD: ALL"}}, true},
		{"nsenter list", `process.args:((-t or --target*) and not --net=/run/netns/* and not (--assertion and snap))`,
			map[string]any{"process.args": []any{"nsenter", "--target", "1", "--assertion"}}, true},
		{"nsenter list excluded", `process.args:((-t or --target*) and not --net=/run/netns/* and not (--assertion and snap))`,
			map[string]any{"process.args": []any{"nsenter", "--target", "1", "--assertion", "snap"}}, false},
		{"merged or across expressions", `process.name:a or process.name:b* or process.pid:1`, map[string]any{"process.name": "bx"}, true},
	})
}

func TestArraySemantics(t *testing.T) {
	const q = `process.args:((/bin/* or /usr/bin/*) and (/tmp/* or /home/*) and not (/usr/bin/coreutils or /tmp/mkinitcpio*))`
	cases := []struct {
		name string
		args []any
		want bool
	}{
		{"one element each", []any{"ln", "-s", "/bin/bash", "/tmp/bash"}, true},
		{"system path only", []any{"ln", "-s", "/bin/bash", "/opt/x"}, false},
		{"writable path only", []any{"ln", "-s", "/opt/bash", "/tmp/x"}, false},
		{"excluded element anywhere", []any{"ln", "/bin/bash", "/tmp/x", "/usr/bin/coreutils"}, false},
		{"excluded wildcard", []any{"ln", "/bin/bash", "/tmp/mkinitcpio.1"}, false},
		{"different elements", []any{"/usr/bin/a", "/home/u/a"}, true},
		{"no elements", []any{}, false},
	}
	query := mustCompile(t, q)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := query.Match(ev(t, map[string]any{"process.args": c.args})); got != c.want {
				t.Errorf("args %v: got %v, want %v", c.args, got, c.want)
			}
		})
	}
	// Expression-level not of an array field: no element matches.
	runMatchCases(t, []matchCase{
		{"not some element", `not process.args:(-h or --help)`, map[string]any{"process.args": []any{"cat", "--help"}}, false},
		{"not no element", `not process.args:(-h or --help)`, map[string]any{"process.args": []any{"cat", "x"}}, true},
		{"positive some element", `process.args:--help`, map[string]any{"process.args": []any{"cat", "--help"}}, true},
		{"and of separate clauses may use different elements", `process.args:a and process.args:b`, map[string]any{"process.args": []any{"a", "b"}}, true},
	})
}

func TestTypedValues(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"bool true", `process.interactive:true`, map[string]any{"process.interactive": true}, true},
		{"bool false value", `process.interactive:true`, map[string]any{"process.interactive": false}, false},
		{"bool as string", `process.interactive:true`, map[string]any{"process.interactive": "true"}, true},
		{"bool false literal", `process.interactive:false`, map[string]any{"process.interactive": false}, true},
		{"bool quoted", `process.interactive:"true"`, map[string]any{"process.interactive": true}, true},
		{"int literal on int", `user.id:0`, map[string]any{"user.id": 0}, true},
		{"int literal on string", `user.id:0`, map[string]any{"user.id": "0"}, true},
		{"int literal on other int", `user.id:0`, map[string]any{"user.id": 1000}, false},
		{"quoted number on int", `destination.port:"80"`, map[string]any{"destination.port": 80}, true},
		{"quoted number on string", `destination.port:"80"`, map[string]any{"destination.port": "80"}, true},
		{"number on float", `x.y:1.5`, map[string]any{"x.y": 1.5}, true},
		{"number string exact", `user.id:0`, map[string]any{"user.id": "00"}, false},
		{"text literal on int", `user.id:root`, map[string]any{"user.id": 0}, false},
		{"null never matches a value", `user.id:null`, map[string]any{"user.id": nil}, false},
	})
}

func TestIPFields(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"cidr v4", `destination.ip:10.0.0.0/8`, map[string]any{"destination.ip": "10.1.2.3"}, true},
		{"cidr v4 miss", `destination.ip:10.0.0.0/8`, map[string]any{"destination.ip": "11.1.2.3"}, false},
		{"cidr quoted v6", `destination.ip:"FE80::/10"`, map[string]any{"destination.ip": "fe80::1"}, true},
		{"cidr v6 miss", `destination.ip:"FE80::/10"`, map[string]any{"destination.ip": "fec0::1"}, false},
		{"ip equal forms", `destination.ip:"::1"`, map[string]any{"destination.ip": "0:0::1"}, true},
		{"ip equal exact", `source.ip:"169.254.169.254"`, map[string]any{"source.ip": "169.254.169.254"}, true},
		{"v4 mapped", `host.ip:10.0.0.1`, map[string]any{"host.ip": "::ffff:10.0.0.1"}, true},
		{"v4 cidr holds mapped", `host.ip:10.0.0.0/8`, map[string]any{"host.ip": "::ffff:10.9.9.9"}, true},
		{"array of ips", `host.ip:192.168.0.0/16`, map[string]any{"host.ip": []any{"10.0.0.1", "192.168.1.1"}}, true},
		{"not a private range", `not destination.ip:(10.0.0.0/8 or 127.0.0.0/8 or "::1")`, map[string]any{"destination.ip": "8.8.8.8"}, true},
		{"not a private range hit", `not destination.ip:(10.0.0.0/8 or 127.0.0.0/8 or "::1")`, map[string]any{"destination.ip": "127.0.0.53"}, false},
		{"junk ip value", `destination.ip:10.0.0.0/8`, map[string]any{"destination.ip": "not an ip"}, false},
		{"cidr on non-ip field is text", `destination.address:10.0.0.0/8`, map[string]any{"destination.address": "10.1.1.1"}, false},
		{"cidr text on non-ip field", `destination.address:10.0.0.0/8`, map[string]any{"destination.address": "10.0.0.0/8"}, true},
		{"ip text not canonical elsewhere", `destination.address:"::1"`, map[string]any{"destination.address": "0:0::1"}, false},
		{"wildcard on ip field", `destination.ip:10.*`, map[string]any{"destination.ip": "10.0.0.1"}, true},
	})
}

func TestRanges(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"ge int", `process.args_count >= 3`, map[string]any{"process.args_count": 3}, true},
		{"ge int less", `process.args_count >= 3`, map[string]any{"process.args_count": 2}, false},
		{"gt", `process.args_count > 3`, map[string]any{"process.args_count": 3}, false},
		{"lt", `process.args_count < 3`, map[string]any{"process.args_count": 2}, true},
		{"le", `process.args_count <= 3`, map[string]any{"process.args_count": 3}, true},
		{"numeric string compares numerically", `process.args_count >= 3`, map[string]any{"process.args_count": "10"}, true},
		{"numeric string less", `process.args_count >= 3`, map[string]any{"process.args_count": "2"}, false},
		{"no space", `process.args_count>=3`, map[string]any{"process.args_count": 5}, true},
		{"float bound", `x.y < 1.5`, map[string]any{"x.y": 1.25}, true},
		{"missing", `process.args_count >= 3`, map[string]any{"process.name": "x"}, false},
		{"not range on missing", `not process.args_count >= 3`, map[string]any{"process.name": "x"}, true},
		{"array any element", `x.n > 5`, map[string]any{"x.n": []any{1, 9}}, true},
		{"string bound lexicographic", `event.created >= "2024-01-02"`, map[string]any{"event.created": "2024-01-10T00:00:00Z"}, true},
		{"string bound lexicographic less", `event.created >= "2024-01-02"`, map[string]any{"event.created": "2024-01-01T23:00:00Z"}, false},
		{"non-numeric string with numeric bound compares as text", `x.v >= 3`, map[string]any{"x.v": "abc"}, true},
		{"bool never in range", `x.v >= 0`, map[string]any{"x.v": true}, false},
		{"in the seed discovery rule", `process.name:"getent" and process.args:("passwd" or "group") and process.args_count >= 3`,
			map[string]any{"process.name": "getent", "process.args": []any{"getent", "passwd", "x"}, "process.args_count": 3}, true},
	})
}

func TestUnsupported(t *testing.T) {
	cases := []struct {
		query, feature string
		line, col      int
	}{
		{`user:{ name:x }`, "nested field query user:{…}", 1, 6},
		{`a:x and user:({ name:x })`, "nested field query user:{…}", 1, 15},
		{`foo`, `free-text query "foo"`, 1, 1},
		{`a:x or "some text"`, `free-text query "some text"`, 1, 8},
		{"a:x and\n  foo*", `free-text query "foo*"`, 2, 3},
		{`process.*:{ name:x }`, "nested field query process.*:{…}", 1, 11},
	}
	for _, c := range cases {
		_, err := Compile(c.query)
		var ue *UnsupportedError
		if !errors.As(err, &ue) {
			t.Errorf("Compile(%q) = %v, want *UnsupportedError", c.query, err)
			continue
		}
		if !strings.HasPrefix(ue.Feature, c.feature) || ue.Line != c.line || ue.Col != c.col {
			t.Errorf("Compile(%q) = %+v, want feature %q at %d:%d", c.query, ue, c.feature, c.line, c.col)
		}
		if !strings.Contains(ue.Error(), "is not supported") || !strings.Contains(ue.Error(), c.feature) {
			t.Errorf("Error() = %q does not name the feature", ue.Error())
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		query     string
		line, col int
		msg       string
	}{
		{``, 1, 1, "empty query"},
		{"  \n ", 2, 2, "empty query"},
		{`a:(b or c`, 1, 10, "expected ')' to close '(' at line 1, column 3"},
		{`(a:b`, 1, 5, "expected ')' to close '(' at line 1, column 1"},
		{`a:b)`, 1, 4, "unbalanced ')'"},
		{`a:b or`, 1, 7, "unexpected end of query"},
		{`a:b and and c:d`, 1, 9, "found 'and'"},
		{`a:`, 1, 3, "expected a value after 'a:'"},
		{`a:(b or )`, 1, 9, "expected a value for field a, found ')'"},
		{`a:()`, 1, 4, "expected a value for field a"},
		{`a:b c`, 1, 5, `unexpected value "c" after value "b"`},
		{`a:b c:d`, 1, 5, `expected 'and', 'or' or end of query, found value "c"`},
		{`a:"unterminated`, 1, 3, "unterminated quoted value"},
		{`a:x\`, 1, 4, "escapes nothing"},
		{`a:x\q`, 1, 4, `invalid escape \q`},
		{`a:\u12`, 1, 3, `\u needs four hex digits`},
		{"a:b and\n  c:(d or\n  e", 3, 4, "expected ')' to close '(' at line 2, column 5"},
		{"a:b and\n  ) ", 2, 3, "expected a field name"},
		{`a >= *`, 1, 6, "cannot hold a wildcard"},
		{`a >= `, 1, 6, "expected a value after '>='"},
		{`a:b and c`, 1, 9, ""}, // free text: unsupported, checked below
		{`"":x`, 1, 1, "empty field name"},
		{`a:or`, 1, 3, "found 'or'"},
		{`}`, 1, 1, "found '}'"},
		{`é:x é`, 1, 5, `unexpected value "é"`},
		{strings.Repeat("(", 300) + "a:b" + strings.Repeat(")", 300), 1, 201, "nests deeper than"},
		{"a:" + strings.Repeat("(", 300) + "b" + strings.Repeat(")", 300), 1, 202, "nests deeper than"},
		{strings.Repeat("not ", 300) + "a:b", 1, 801, "nests deeper than"},
	}
	for _, c := range cases {
		_, err := Compile(c.query)
		if c.msg == "" {
			var ue *UnsupportedError
			if !errors.As(err, &ue) {
				t.Errorf("Compile(%q) = %v, want *UnsupportedError", c.query, err)
			}
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%.40q) = %v, want *SyntaxError", c.query, err)
			continue
		}
		if se.Line != c.line || se.Col != c.col || !strings.Contains(se.Msg, c.msg) {
			t.Errorf("Compile(%.40q) = %q (line %d col %d), want %q at line %d col %d", c.query, se.Msg, se.Line, se.Col, c.msg, c.line, c.col)
		}
		if want := "line "; !strings.HasPrefix(se.Error(), want) {
			t.Errorf("Error() = %q, want it to start with the position", se.Error())
		}
	}
}

func TestFields(t *testing.T) {
	q := mustCompile(t, `process.name:a and (user.id:0 or process.name:b) and not process.args:c and process.args_count > 1`)
	want := []string{"process.args", "process.args_count", "process.name", "user.id"}
	if strings.Join(q.Fields, ",") != strings.Join(want, ",") {
		t.Errorf("Fields = %v, want %v", q.Fields, want)
	}
	if q.Source() == "" {
		t.Error("Source() is empty")
	}
}

// TestSimplifyKeepsMeaning compares optimized and unoptimized trees on a
// grid of events, so reordering and merging are checked, not assumed.
func TestSimplifyKeepsMeaning(t *testing.T) {
	queries := []string{
		`a:1 or a:2 or b:1 and not a:3`,
		`a:(1 or 2*) or not a:1 or a:(* and not 2)`,
		`not not (a:1 or (a:2 or (b:1 or a:*)))`,
		`a:(1 and 2) or a:3 and b:(not 1)`,
		`host.ip:(10.0.0.0/8 or "::1") or host.ip:192.168.1.1 or a:1`,
		`not a:1 and not a:(2 or 3*) and b:* and not b:1 and a:(not 2 and not (1 or 3))`,
		`a:(* and not 1 and not 2x) or not (not a:3 and not b:3)`,
	}
	values := []any{nil, "1", "2", "3", "2x", []any{"1", "2"}, []any{"3"}, []any{}, "10.0.0.1", "::1"}
	for _, src := range queries {
		toks, err := lex(src)
		if err != nil {
			t.Fatal(err)
		}
		p := &parser{src: src, toks: toks, fields: map[string]bool{}}
		raw, err := p.parseQuery()
		if err != nil {
			t.Fatal(err)
		}
		finalize(raw)
		opt := mustCompile(t, src)
		for _, av := range values {
			for _, bv := range values {
				for _, hv := range values {
					fields := map[string]any{}
					for k, v := range map[string]any{"a": av, "b": bv, "host.ip": hv} {
						if v != nil {
							fields[k] = v
						}
					}
					e := ev(t, fields)
					if raw.match(e) != opt.Match(e) {
						t.Errorf("%q on %v: unoptimized %v, optimized %v", src, fields, raw.match(e), opt.Match(e))
					}
				}
			}
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	q := mustCompile(t, `host.ip:(10.0.0.0/8 or "::1") and process.pid:(1* or 5) and process.args:(a* or b or c or d or e or f or g or h) and x.n >= 2 and not x.s < "b"`)
	e := ev(t, map[string]any{
		"host.ip":      []any{"fe80::1", "10.2.3.4"},
		"process.pid":  int64(123),
		"process.args": []any{"z", "h"},
		"x.n":          "7",
		"x.s":          "c",
	})
	if !q.Match(e) {
		t.Fatalf("query does not match the test event:\n%s", q)
	}
	if n := testing.AllocsPerRun(100, func() { q.Match(e) }); n != 0 {
		t.Errorf("Match allocates %v times per call", n)
	}
}
