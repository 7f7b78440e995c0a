package osqcore

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseScenario(t *testing.T) {
	input := `# comment
{"table":"process_events","delay_ms":5,"row":{"pid":42,"path":"/bin/sh","cmdline":"sh -c \"x\""}}

{"table":"processes","row":{"pid":"1","on_disk":true}}
`
	steps, err := ParseScenario(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	want := []ScenarioStep{
		{Line: 2, Table: "process_events", DelayMS: 5, Row: map[string]string{"pid": "42", "path": "/bin/sh", "cmdline": `sh -c "x"`}},
		{Line: 4, Table: "processes", Row: map[string]string{"pid": "1", "on_disk": "1"}},
	}
	if !reflect.DeepEqual(steps, want) {
		t.Errorf("steps %+v\nwant %+v", steps, want)
	}
}

func TestParseScenarioErrors(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		{"not json", "{nope}", "scenario line 1: invalid JSON"},
		{"unknown table", `{"table":"files","row":{}}`, `scenario line 1: unknown table "files"`},
		{"missing table", `{"row":{}}`, `scenario line 1: missing "table"`},
		{"missing row", `{"table":"socket_events"}`, `scenario line 1: missing "row"`},
		{"unknown key", `{"table":"socket_events","row":{},"delay":1}`, `unknown field "delay"`},
		{"negative delay", `{"table":"socket_events","delay_ms":-1,"row":{}}`, "delay_ms -1: want an integer"},
		{"fractional delay", `{"table":"socket_events","delay_ms":1.5,"row":{}}`, "delay_ms 1.5: want an integer"},
		{"nested value", `{"table":"socket_events","row":{"pid":{"a":1}}}`, `row column "pid": want a string, number or boolean`},
		{"null value", `{"table":"socket_events","row":{"pid":null}}`, `row column "pid": want a string, number or boolean`},
		{"unknown column", "\n" + `{"table":"socket_events","row":{"pidd":"1"}}`, `scenario line 2: socket_events: no such column "pidd"`},
		{"bad integer", `{"table":"process_events","row":{"pid":"x"}}`, `column pid wants an integer, got "x"`},
		{"eid given", `{"table":"process_events","row":{"eid":"1"}}`, "eid is assigned by the core"},
		{"process without pid", `{"table":"processes","row":{"path":"/x"}}`, "processes row without pid"},
		{"trailing data", `{"table":"processes","row":{"pid":1}} {}`, "trailing data"},
		{"too long", `{"table":"processes","row":{"path":"` + strings.Repeat("a", maxScenarioLine) + `"}}`, "scenario line 1: longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseScenario(strings.NewReader(tc.input))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func FuzzParseScenario(f *testing.F) {
	f.Add(`{"table":"process_events","delay_ms":5,"row":{"pid":42,"path":"/bin/sh"}}`)
	f.Add(`{"table":"socket_events","row":{"action":"connect","remote_port":4444,"family":2}}`)
	f.Add("# c\n\n{\"table\":\"processes\",\"row\":{\"pid\":\"1\",\"on_disk\":true}}")
	f.Add(`{"table":"processes","row":{"pid":1e99}}`)
	f.Fuzz(func(t *testing.T, input string) {
		steps, err := ParseScenario(strings.NewReader(input))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "scenario line ") && !strings.HasPrefix(err.Error(), "reading scenario") {
				t.Fatalf("error does not name its line: %v", err)
			}
			return
		}
		for _, s := range steps {
			if s.Row == nil || scenarioSchemas[s.Table] == nil || s.DelayMS < 0 || s.Line < 1 {
				t.Fatalf("invalid step accepted: %+v", s)
			}
		}
	})
}

func TestContextJSONRoundTrip(t *testing.T) {
	cols := []Column{{Name: "time", Type: TypeBigInt}, {Name: "rule", Type: TypeText}}
	qc := &QueryContext{
		Constraints:    map[string][]Constraint{"time": {{Op: OpGreaterThan, Expr: "100"}}},
		ColsUsed:       []string{"rule"},
		ColsUsedBitset: 2,
	}
	got := ContextJSON(cols, qc)
	want := `{"constraints":[{"name":"rule","list":[],"affinity":"TEXT"},{"name":"time","list":[{"op":4,"expr":"100"}],"affinity":"BIGINT"}],"colsUsed":["rule"],"colsUsedBitset":2}`
	if got != want {
		t.Errorf("ContextJSON:\n got %s\nwant %s", got, want)
	}
	back, err := ParseContextJSON(got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, qc) {
		t.Errorf("round trip %+v, want %+v", back, qc)
	}
	// Older osqueryd sent "" for an unconstrained list and string ops.
	old, err := ParseContextJSON(`{"constraints":[{"name":"a","list":"","affinity":"TEXT"},{"name":"b","list":[{"op":"2","expr":"x"}],"affinity":"TEXT"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]Constraint{"b": {{Op: OpEquals, Expr: "x"}}}; !reflect.DeepEqual(old.Constraints, want) {
		t.Errorf("old-style context %+v", old.Constraints)
	}
}

func FuzzParseContextJSON(f *testing.F) {
	f.Add(`{"constraints":[{"name":"time","list":[{"op":4,"expr":"100"}],"affinity":"BIGINT"}],"colsUsed":["time"],"colsUsedBitset":1}`)
	f.Add(`{"constraints":[{"name":"a","list":"","affinity":"TEXT"}]}`)
	f.Add(`{"constraints":[{"name":"a","list":[{"op":"x"}]}]}`)
	f.Fuzz(func(t *testing.T, input string) {
		qc, err := ParseContextJSON(input)
		if err != nil {
			return
		}
		// Whatever parses must survive a render/parse round trip for its
		// constrained columns.
		var cols []Column
		for name := range qc.Constraints {
			cols = append(cols, Column{Name: name, Type: TypeText})
		}
		again, err := ParseContextJSON(ContextJSON(cols, &QueryContext{Constraints: qc.Constraints}))
		if err != nil {
			t.Fatalf("re-parsing rendered context: %v", err)
		}
		if len(again.Constraints) != len(qc.Constraints) {
			t.Fatalf("round trip changed constraints: %v vs %v", again.Constraints, qc.Constraints)
		}
		for name, list := range qc.Constraints {
			if !reflect.DeepEqual(again.Constraints[name], list) {
				t.Fatalf("column %q: %v vs %v", name, again.Constraints[name], list)
			}
		}
	})
}

func TestColumnsFromRoutes(t *testing.T) {
	cols, err := ColumnsFromRoutes("t", []map[string]string{
		{"id": "column", "name": "a", "type": "TEXT", "op": "0"},
		{"id": "column", "name": "b", "type": "bigint", "op": "16"},
		{"id": "alias", "alias": "c"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Column{{Name: "a", Type: TypeText}, {Name: "b", Type: TypeBigInt, Hidden: true}}; !reflect.DeepEqual(cols, want) {
		t.Errorf("columns %+v, want %+v", cols, want)
	}
	for _, bad := range [][]map[string]string{
		nil,
		{{"id": "column", "type": "TEXT"}},
		{{"id": "column", "name": "a", "type": "TEXT"}, {"id": "column", "name": "A", "type": "TEXT"}},
		{{"id": "column", "name": "a", "type": "TEXT", "op": "x"}},
	} {
		if _, err := ColumnsFromRoutes("t", bad); err == nil {
			t.Errorf("routes %v accepted", bad)
		}
	}
}

func FuzzColumnsFromRoutes(f *testing.F) {
	f.Add("a", "TEXT", "0", "b", "BIGINT", "16")
	f.Add("x\"y", "DOUBLE", "", "z", "integer", "4")
	f.Fuzz(func(t *testing.T, n1, t1, o1, n2, t2, o2 string) {
		cols, err := ColumnsFromRoutes("t", []map[string]string{
			{"id": "column", "name": n1, "type": t1, "op": o1},
			{"id": "column", "name": n2, "type": t2, "op": o2},
		})
		if err != nil {
			return
		}
		for _, c := range cols {
			if c.Name == "" || !validType(c.Type) {
				t.Fatalf("invalid column accepted: %+v", c)
			}
		}
		// The declaration must quote any name safely.
		if s := declareSQL("t", cols); !strings.HasPrefix(s, `CREATE TABLE "t"(`) {
			t.Fatalf("declaration %q", s)
		}
	})
}
