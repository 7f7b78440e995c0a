package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/plugin/table"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/extension/store"
	"github.com/osqdetect/osqdetect/internal/testutil"
	"github.com/osqdetect/osqdetect/tables/tablewrap"
)

// sampleAlerts are three alerts of two rules over three seconds.
func sampleAlerts() []*detect.Alert {
	return []*detect.Alert{
		{
			ID: "0b7f1c3e-5d2a-5e4f-8a6b-1c2d3e4f5a6b", Time: 1700000100, RuleID: "a3ffb2e8-2b54-4ad2-bd47-5b2f4fd41d3a",
			RuleName: "Potential Reverse Shell via Suspicious Binary", RuleType: "eql", Severity: "high", RiskScore: 73,
			Tactics: "TA0002", Techniques: "T1059,T1071", HostID: "host-1", Pid: 4242,
			ProcessExecutable: "/usr/bin/bash", ProcessName: "bash", ProcessCommandLine: "bash -i",
			ParentPid: 4200, ParentExecutable: "/usr/bin/python3", ParentName: "python3", UserID: "1000",
			DestinationIP: "203.0.113.7", DestinationPort: 4444,
			Reason: "bash connected to 203.0.113.7:4444 right after it started",
			Events: json.RawMessage(`[{"event":{"action":"exec"}},{"event":{"action":"connection_attempted"}}]`),
		},
		{
			ID: "1c8a2d4f-6e3b-5f5a-9b7c-2d3e4f5a6b7c", Time: 1700000200, RuleID: "0b21ae7e-5c17-4c4d-8a72-07d2f1c6e1a4",
			RuleName: "System Binary Symlink to Suspicious Location", RuleType: "new_terms", Severity: "low", RiskScore: 21,
			Tactics: "TA0005", Techniques: "T1036", HostID: "host-1", Pid: 99, ProcessExecutable: "/usr/bin/ln",
			ProcessName: "ln", ProcessCommandLine: "ln -s /bin/bash /tmp/.x", ParentPid: 1, ParentName: "sh",
			UserID: "0", Reason: "ln linked /bin/bash into /tmp", Events: json.RawMessage(`[{"event":{"action":"exec"}}]`),
		},
		{
			ID: "2d9b3e5a-7f4c-5a6b-8c8d-3e4f5a6b7c8d", Time: 1700000300, RuleID: "a3ffb2e8-2b54-4ad2-bd47-5b2f4fd41d3a",
			RuleName: "Potential Reverse Shell via Suspicious Binary", RuleType: "eql", Severity: "high", RiskScore: 73,
			HostID: "host-1", Pid: 5151, ProcessExecutable: "/usr/bin/nc", ProcessName: "nc",
			Reason: "nc connected out", Events: json.RawMessage(`[]`),
		},
	}
}

func newStore(t *testing.T) *store.Store {
	t.Helper()
	s, _, err := store.Open(context.Background(), t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Commit(context.Background(), store.Batch{Alerts: sampleAlerts()}); err != nil {
		t.Fatal(err)
	}
	return s
}

// contextJSON builds a query context the way osqueryd sends it: every
// declared column, sorted by name, with its constraint list (empty when
// none), plus colsUsed.
func contextJSON(constraints map[string][]table.Constraint) string {
	type entry struct {
		Op   int    `json:"op"`
		Expr string `json:"expr"`
	}
	type list struct {
		Name     string  `json:"name"`
		List     []entry `json:"list"`
		Affinity string  `json:"affinity"`
	}
	var lists []list
	for _, col := range Spec().Columns {
		l := list{Name: col.Name, Affinity: string(col.Type), List: []entry{}}
		for _, c := range constraints[col.Name] {
			l.List = append(l.List, entry{Op: int(c.Operator), Expr: c.Expression})
		}
		lists = append(lists, l)
	}
	sort.Slice(lists, func(i, j int) bool { return lists[i].Name < lists[j].Name })
	data, _ := json.Marshal(map[string]any{"constraints": lists, "colsUsed": Spec().ColumnNames(), "colsUsedBitset": 4194303})
	return string(data)
}

func con(op table.Operator, expr string) table.Constraint {
	return table.Constraint{Operator: op, Expression: expr}
}

var generateCases = []struct {
	name string
	cons map[string][]table.Constraint
}{
	{"all", nil},
	{"time_gt", map[string][]table.Constraint{"time": {con(4, "1700000100")}}},
	{"time_ge_lt", map[string][]table.Constraint{"time": {con(32, "1700000100"), con(16, "1700000300")}}},
	{"time_eq", map[string][]table.Constraint{"time": {con(2, "1700000200")}}},
	{"time_le", map[string][]table.Constraint{"time": {con(8, "1700000200")}}},
	{"time_contradiction", map[string][]table.Constraint{"time": {con(4, "1700000300"), con(16, "1700000100")}}},
	{"time_not_a_number", map[string][]table.Constraint{"time": {con(4, "yesterday")}}},
	{"rule_id", map[string][]table.Constraint{"rule_id": {con(2, "a3ffb2e8-2b54-4ad2-bd47-5b2f4fd41d3a")}}},
	{"rule_id_and_time", map[string][]table.Constraint{"rule_id": {con(2, "a3ffb2e8-2b54-4ad2-bd47-5b2f4fd41d3a")}, "time": {con(4, "1700000100")}}},
	{"severity", map[string][]table.Constraint{"severity": {con(2, "low")}}},
	{"severity_upper_case", map[string][]table.Constraint{"severity": {con(2, "HIGH")}}},
	{"severity_unknown", map[string][]table.Constraint{"severity": {con(2, "urgent")}}},
	{"rule_id_other_case", map[string][]table.Constraint{"rule_id": {con(2, "A3FFB2E8-2B54-4AD2-BD47-5B2F4FD41D3A")}}},
	{"id_upper_case", map[string][]table.Constraint{"id": {con(2, "1C8A2D4F-6E3B-5F5A-9B7C-2D3E4F5A6B7C")}}},
	{"id", map[string][]table.Constraint{"id": {con(2, "1c8a2d4f-6e3b-5f5a-9b7c-2d3e4f5a6b7c")}}},
	{"id_hostile", map[string][]table.Constraint{"id": {con(2, "' OR 1=1; --")}}},
	{"like_left_to_sqlite", map[string][]table.Constraint{"rule_name": {con(65, "%Shell%")}, "id": {con(65, "0b%")}}},
}

func TestGenerateGolden(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	tbl := New(s, tablewrap.Options{})
	for _, tt := range generateCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := osquery.ExtensionPluginRequest{"action": "generate", "context": contextJSON(tt.cons)}
			resp := tbl.Plugin().Call(context.Background(), req)
			got, err := json.MarshalIndent(map[string]any{"request": req, "status": resp.Status, "rows": resp.Response}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, filepath.Join("testdata", tt.name+".golden.json"), append(got, '\n'))
		})
	}
}

// recorder is a Source that remembers the queries it was asked. Its store
// holds alerts of the rules r1, R1 and Other.
type recorder struct {
	mu      sync.Mutex
	queries []store.AlertQuery
	err     error
}

func (r *recorder) RuleAlertCounts(context.Context) (map[string]store.RuleCount, error) {
	return map[string]store.RuleCount{"r1": {Count: 1}, "R1": {Count: 1}, "Other": {Count: 2}}, nil
}

func (r *recorder) Alerts(_ context.Context, q store.AlertQuery) ([]*detect.Alert, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = append(r.queries, q)
	return nil, r.err
}

func TestPushDown(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("r", store.MaxRuleIDLen+1)
	many := make([]table.Constraint, 100)
	for i := range many {
		many[i] = con(4, fmt.Sprint(i))
	}
	tests := []struct {
		name string
		cons map[string][]table.Constraint
		want *store.AlertQuery // nil: the store is not read at all
	}{
		{"no constraints", nil, &store.AlertQuery{}},
		{"time > X", map[string][]table.Constraint{"time": {con(4, "100")}},
			&store.AlertQuery{MinTime: 101, MaxTime: 1<<63 - 1, HasMinTime: true, HasMaxTime: true}},
		{"time window", map[string][]table.Constraint{"time": {con(32, "100"), con(16, "200")}},
			&store.AlertQuery{MinTime: 100, MaxTime: 199, HasMinTime: true, HasMaxTime: true}},
		{"time = X", map[string][]table.Constraint{"time": {con(2, "150")}},
			&store.AlertQuery{MinTime: 150, MaxTime: 150, HasMinTime: true, HasMaxTime: true}},
		{"time <= X", map[string][]table.Constraint{"time": {con(8, "150")}},
			&store.AlertQuery{MinTime: -1 << 63, MaxTime: 150, HasMinTime: true, HasMaxTime: true}},
		{"time contradiction", map[string][]table.Constraint{"time": {con(4, "200"), con(8, "100")}}, nil},
		{"time garbage ignored", map[string][]table.Constraint{"time": {con(4, "1e9"), con(4, "'x'")}}, &store.AlertQuery{}},
		{"too many time constraints", map[string][]table.Constraint{"time": many}, &store.AlertQuery{}},
		{"rule and severity", map[string][]table.Constraint{"rule_id": {con(2, "Other")}, "severity": {con(2, "critical")}},
			&store.AlertQuery{RuleIDs: []string{"Other"}, Severities: []string{"critical"}}},
		// SQLite does not pass the collation: `= 'HIGH' COLLATE NOCASE` and
		// `= 'high ' COLLATE RTRIM` arrive as plain equality.
		{"severity in another case", map[string][]table.Constraint{"severity": {con(2, "HIGH")}}, &store.AlertQuery{Severities: []string{"high"}}},
		{"severity with trailing spaces", map[string][]table.Constraint{"severity": {con(2, "High  ")}}, &store.AlertQuery{Severities: []string{"high"}}},
		{"rule id in any case", map[string][]table.Constraint{"rule_id": {con(2, "r1")}}, &store.AlertQuery{RuleIDs: []string{"R1", "r1"}}},
		{"rule id of no stored alert", map[string][]table.Constraint{"rule_id": {con(2, "r2")}}, nil},
		{"id in upper case", map[string][]table.Constraint{"id": {con(2, "0B7F1C3E-5D2A-5E4F-8A6B-1C2D3E4F5A6B")}},
			&store.AlertQuery{IDs: []string{"0b7f1c3e-5d2a-5e4f-8a6b-1c2d3e4f5a6b"}}},
		{"empty rule id", map[string][]table.Constraint{"rule_id": {con(2, "")}}, nil},
		{"overlong rule id", map[string][]table.Constraint{"rule_id": {con(2, long)}}, nil},
		{"unknown severity", map[string][]table.Constraint{"severity": {con(2, "urgent")}}, nil},
		{"id", map[string][]table.Constraint{"id": {con(2, "0b7f1c3e-5d2a-5e4f-8a6b-1c2d3e4f5a6b")}},
			&store.AlertQuery{IDs: []string{"0b7f1c3e-5d2a-5e4f-8a6b-1c2d3e4f5a6b"}}},
		{"id not a uuid", map[string][]table.Constraint{"id": {con(2, strings.Repeat("a", 100000))}}, nil},
		{"glob on rule id left to sqlite", map[string][]table.Constraint{"rule_id": {con(66, "a*")}}, &store.AlertQuery{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			resp := New(rec, tablewrap.Options{}).Plugin().Call(context.Background(),
				osquery.ExtensionPluginRequest{"action": "generate", "context": contextJSON(tt.cons)})
			if resp.Status.Code != 0 {
				t.Fatalf("status = %+v", resp.Status)
			}
			if tt.want == nil {
				if len(rec.queries) != 0 {
					t.Errorf("store was read with %+v; no row can match", rec.queries)
				}
				return
			}
			if len(rec.queries) != 1 || !reflect.DeepEqual(rec.queries[0], *tt.want) {
				t.Errorf("store queries = %+v, want [%+v]", rec.queries, *tt.want)
			}
		})
	}
}

func TestSourceError(t *testing.T) {
	t.Parallel()
	rec := &recorder{err: errors.New("disk on fire")}
	resp := New(rec, tablewrap.Options{}).Plugin().Call(context.Background(),
		osquery.ExtensionPluginRequest{"action": "generate", "context": contextJSON(nil)})
	if resp.Status.Code != 1 || !strings.Contains(resp.Status.Message, "reading alerts: disk on fire") {
		t.Errorf("status = %+v", resp.Status)
	}
}

func TestColumnsAreTheContract(t *testing.T) {
	t.Parallel()
	names := Spec().ColumnNames()
	if !reflect.DeepEqual(names[:len(detect.AlertColumns)], detect.AlertColumns) {
		t.Errorf("columns %v do not start with detect.AlertColumns %v", names, detect.AlertColumns)
	}
	row := sampleAlerts()[0].Row()
	keys := make([]string, 0, len(row))
	for k := range row {
		keys = append(keys, k)
	}
	sorted := append([]string(nil), names...)
	sort.Strings(keys)
	sort.Strings(sorted)
	if !reflect.DeepEqual(keys, sorted) {
		t.Errorf("Alert.Row() keys %v differ from the columns %v", keys, sorted)
	}
}

func FuzzQuery(f *testing.F) {
	f.Add("time", uint8(4), "100", "id", uint8(2), "0b7f1c3e-5d2a-5e4f-8a6b-1c2d3e4f5a6b")
	f.Add("severity", uint8(2), "high", "rule_id", uint8(2), "")
	f.Add("severity", uint8(2), "HIGH ", "id", uint8(2), "0B7F1C3E-5D2A-5E4F-8A6B-1C2D3E4F5A6B")
	f.Add("rule_id", uint8(2), "A3FFB2E8-2B54-4AD2-BD47-5B2F4FD41D3A", "time", uint8(4), "1")
	f.Add("time", uint8(16), "-9223372036854775808", "time", uint8(4), "9223372036854775807")
	s := func() *store.Store {
		st, _, err := store.Open(context.Background(), f.TempDir(), store.Options{NoSync: true})
		if err != nil {
			f.Fatal(err)
		}
		if _, err := st.Commit(context.Background(), store.Batch{Alerts: sampleAlerts()}); err != nil {
			f.Fatal(err)
		}
		return st
	}()
	defer s.Close()
	all := sampleAlerts()
	f.Fuzz(func(t *testing.T, col1 string, op1 uint8, e1 string, col2 string, op2 uint8, e2 string) {
		qc := table.QueryContext{Constraints: map[string]table.ConstraintList{}}
		add := func(col string, op uint8, e string) {
			l := qc.Constraints[col]
			l.Constraints = append(l.Constraints, table.Constraint{Operator: table.Operator(op), Expression: e})
			qc.Constraints[col] = l
		}
		add(col1, op1, e1)
		add(col2, op2, e2)
		rows, err := generate(context.Background(), s, qc)
		if err != nil {
			t.Fatalf("generate: %v", err)
		}
		// Superset rule: every alert that satisfies the constraints (as SQLite
		// would judge them, where this test can) is among the rows.
		got := map[string]bool{}
		for _, r := range rows {
			got[r["id"]] = true
		}
		for _, a := range all {
			if matchesAll(a.Row(), qc) && !got[a.ID] {
				t.Fatalf("alert %s satisfies %+v but was not returned", a.ID, qc.Constraints)
			}
		}
	})
}

// matchesAll judges = on any column and integer comparisons on integer
// columns; constraints it cannot judge count as satisfied.
func matchesAll(row map[string]string, qc table.QueryContext) bool {
	for col, l := range qc.Constraints {
		v, ok := row[col]
		if !ok {
			continue
		}
		for _, c := range l.Constraints {
			// SQLite gives a well-formed integer text (sign, leading zeros)
			// numeric affinity when compared with an integer column.
			x, errX := strconv.ParseInt(v, 10, 64)
			y, errY := strconv.ParseInt(c.Expression, 10, 64)
			numeric := errX == nil && errY == nil && (col == "time" || col == "pid")
			switch c.Operator {
			case table.OperatorEquals:
				// The most permissive collation SQLite may apply: NOCASE
				// and RTRIM at once.
				if fold(v) != fold(c.Expression) && !(numeric && x == y) {
					return false
				}
			case table.OperatorGreaterThan:
				if numeric && !(x > y) {
					return false
				}
			case table.OperatorGreaterThanOrEquals:
				if numeric && !(x >= y) {
					return false
				}
			case table.OperatorLessThan:
				if numeric && !(x < y) {
					return false
				}
			case table.OperatorLessThanOrEquals:
				if numeric && !(x <= y) {
					return false
				}
			}
		}
	}
	return true
}

// Columns the query does not use are not built, and the events of an
// alert are not even decoded unless selected.
func TestOnlyUsedColumnsAreBuilt(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	tbl := New(s, tablewrap.Options{})
	for _, tt := range []struct {
		name string
		used []string
	}{
		{"count(*)", []string{}},
		{"id and time", []string{"id", "time"}},
		{"events", []string{"id", "events"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, _ := json.Marshal(map[string]any{"constraints": []any{}, "colsUsed": tt.used, "colsUsedBitset": 0})
			resp := tbl.Plugin().Call(context.Background(), osquery.ExtensionPluginRequest{"action": "generate", "context": string(ctx)})
			if resp.Status.Code != 0 || len(resp.Response) != 3 {
				t.Fatalf("status %+v, %d rows, want 3", resp.Status, len(resp.Response))
			}
			for _, r := range resp.Response {
				keys := make([]string, 0, len(r))
				for k := range r {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				want := append([]string(nil), tt.used...)
				sort.Strings(want)
				if strings.Join(keys, ",") != strings.Join(want, ",") {
					t.Errorf("row columns %v, want %v", keys, want)
				}
				if ev, ok := r["events"]; ok && !strings.HasPrefix(ev, "[") {
					t.Errorf("events %q", ev)
				}
			}
		})
	}
	rec := &recorder{}
	ctx, _ := json.Marshal(map[string]any{"constraints": []any{}, "colsUsed": []string{"id", "reason"}, "colsUsedBitset": 0})
	New(rec, tablewrap.Options{}).Plugin().Call(context.Background(), osquery.ExtensionPluginRequest{"action": "generate", "context": string(ctx)})
	if len(rec.queries) != 1 || !rec.queries[0].WithoutEvents {
		t.Errorf("store queries %+v, want one WithoutEvents", rec.queries)
	}
}
