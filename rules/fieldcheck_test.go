package rules

import (
	"os"
	"strings"
	"testing"
)

// Fields and values are checked against the schema Elastic's tooling
// validates with: ECS 9.4.0 plus its non-ECS schemas.
func TestParseFieldSchema(t *testing.T) {
	eqlRule, err := os.ReadFile("builtin/execution_shell_via_suspicious_binary.toml")
	if err != nil {
		t.Fatal(err)
	}
	kqlRule, err := os.ReadFile("builtin/defense_evasion_symlink_binary_to_writable_dir.toml")
	if err != nil {
		t.Fatal(err)
	}
	edit := func(base []byte, old, new string) []byte {
		if !strings.Contains(string(base), old) {
			t.Fatalf("%q is not in the rule", old)
		}
		return []byte(strings.Replace(string(base), old, new, 1))
	}
	tests := []struct {
		name string
		data []byte
		want string // in the rejection; "" = loads
	}{
		{"eql misspelled field", edit(eqlRule, `process.parent.name : ("bash"`, `process.parent.nme : ("bash"`),
			`line 42: unknown field "process.parent.nme" (not in ECS 9.4.0 or Elastic's non-ECS schemas); did you mean "process.parent.name"?`},
		{"kql misspelled field", edit(kqlRule, `process.name:ln or`, `process.nme:ln or`),
			`line 38: unknown field "process.nme"`},
		{"new_terms field", edit(kqlRule, `value = ["host.id", "process.parent.name"]`, `value = ["host.id", "process.parnet.name"]`),
			`unknown field "process.parnet.name"`},
		{"optional eql field is not checked", edit(eqlRule, `process.parent.name : ("bash"`, `?process.parent.nme : ("bash"`), ""},
		{"non-ECS auditd field", edit(eqlRule, `process.parent.name : ("bash"`, `auditd.data.syscall : ("bash"`), ""},
		{"endpoint field", edit(eqlRule, `process.parent.name : ("bash"`, `process.Ext.ancestry : ("bash"`), ""},
		{"multi-field", edit(eqlRule, `process.parent.name : ("bash"`, `process.command_line.text : ("bash"`), ""},
		{"eql number on a keyword field", edit(eqlRule, `destination.ip != "::1"`, `destination.ip != "::1" and process.name == 5`),
			`process.name is a keyword field; compare it with the string "5", not the number 5`},
		{"eql string on a numeric field", edit(eqlRule, `destination.ip != "::1"`, `destination.ip != "::1" and process.pid == "one"`),
			`process.pid is a long field; "one" is not a number`},
		{"eql numeric string on a numeric field", edit(eqlRule, `destination.ip != "::1"`, `destination.ip != "::1" and process.pid == "1"`), ""},
		{"eql cidrMatch on a keyword field", edit(eqlRule, `destination.ip != "::1"`, `destination.ip != "::1" and cidrMatch(process.name, "10.0.0.0/8")`),
			`cidrMatch needs an ip field; process.name is keyword`},
		{"kql text on a numeric field", edit(kqlRule, `process.name:ln or`, `process.pid:ln or`),
			`process.pid is a long field; "ln" is not a number`},
		{"kql non-address on an ip field", edit(kqlRule, `process.name:ln or`, `destination.ip:localhost or process.name:ln or`),
			`destination.ip is an ip field; "localhost" is neither an address nor a CIDR block`},
		{"kql CIDR on an ip field", edit(kqlRule, `process.name:ln or`, `destination.ip:10.0.0.0/8 or process.name:ln or`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, st := Parse(tt.data, "x.toml")
			if tt.want == "" {
				if r == nil || st.Rejected {
					t.Fatalf("rejected: %s", st.Error)
				}
				return
			}
			if r != nil || !st.Rejected {
				t.Fatalf("accepted: %+v", st)
			}
			if !strings.HasPrefix(st.Error, "x.toml: ") || !strings.Contains(st.Error, tt.want) {
				t.Errorf("rejection %q\nlacks %q", st.Error, tt.want)
			}
		})
	}
}
