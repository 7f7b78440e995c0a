package kql

import (
	"strings"
	"testing"
)

func TestPrefilters(t *testing.T) {
	tests := []struct{ query, want string }{
		{`process.name:ln`, "process.name ln"},
		{`event.category:process and process.name:(ln or cp)`, "process.name ln,cp"},
		{`process.name:ln or process.name:busybox and process.args:ln`, "process.name ln,busybox"},
		{`process.name:ln or process.parent.name:bash`, "process.name ln | process.parent.name bash"},
		{`process.name:ln or process.parent.name:ba*`, "process.name ln | process.parent.name  prefix ba"},
		{`process.name:ln or process.parent.name:*ba*`, ""},
		{`process.executable:(/tmp/* or *.sh or a\*b*)`, "process.executable  prefix /tmp/,a*b suffix .sh"},
		{`process.name:l*`, "process.name  prefix l"},
		{`process.name:*`, ""},
		{`not process.name:ln`, ""},
		{`event.action:exec`, "event.action exec"},
		{`destination.ip:10.0.0.1`, ""},
		{`process.args_count:3`, ""},
		{`process.name:"quoted value"`, "process.name quoted value"},
		{`process.parent.name:bash and process.name:(a or b or c)`, "process.name a,b,c"},
	}
	for _, tt := range tests {
		q, err := Compile(tt.query)
		if err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		var parts []string
		for _, p := range q.Prefilters {
			part := p.Field + " " + strings.Join(p.Values, ",")
			if len(p.Prefixes) > 0 {
				part += " prefix " + strings.Join(p.Prefixes, ",")
			}
			if len(p.Suffixes) > 0 {
				part += " suffix " + strings.Join(p.Suffixes, ",")
			}
			parts = append(parts, part)
		}
		got := strings.Join(parts, " | ")
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.query, got, tt.want)
		}
	}
}
