package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/detect/ecs"
)

// alertWith builds an alert whose every text holds s and whose events are
// written by the engine's own event writer, with s in them too.
func alertWith(s string, n int64) *detect.Alert {
	var ev ecs.Event
	ev.SetStr(ecs.ProcessCommandLine, s)
	ev.SetStr(ecs.ProcessName, "a<b>&c")
	ev.Set(ecs.ProcessPid, ecs.IntVal(n))
	events, err := ev.AppendJSON([]byte{'['})
	if err != nil {
		panic(err)
	}
	events = append(events, ']')
	return &detect.Alert{
		ID: s, Time: n, RuleID: s, RuleName: s, RuleType: "eql", Severity: s, RiskScore: int(n % 100),
		Tactics: s, Techniques: s, HostID: s, Pid: n, ProcessExecutable: s, ProcessName: s,
		ProcessCommandLine: s, ParentPid: -n, ParentExecutable: s, ParentName: s, UserID: s,
		DestinationIP: s, DestinationPort: n, Reason: s, Events: events, TimeMillis: n,
	}
}

// TestAlertJSONMatchesMarshal: scan's alert lines are json.Marshal's bytes.
func TestAlertJSONMatchesMarshal(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    string
		n    int64
	}{
		{"plain", "/bin/sh -c id", 42},
		{"html", `<script>&"quotes"</script>`, -7},
		{"control and separators", "a\x00b\x1f\t\n\u2028\u2029\x7f", 1 << 40},
		{"invalid utf-8", "\xff\xfe ok \xc3", 0},
		{"empty", "", -1 << 63},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := alertWith(tc.s, tc.n)
			want, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			if got := appendAlertJSON(nil, a); !bytes.Equal(got, want) {
				t.Fatalf("\ngot  %s\nwant %s", got, want)
			}
		})
	}
	if got, want := appendAlertJSON(nil, &detect.Alert{}), mustMarshal(t, &detect.Alert{}); !bytes.Equal(got, want) {
		t.Fatalf("no events:\ngot  %s\nwant %s", got, want)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzAlertJSONMatchesMarshal(f *testing.F) {
	f.Add("/bin/sh", int64(1))
	f.Add("<&>\u2028\xff", int64(-1))
	f.Fuzz(func(t *testing.T, s string, n int64) {
		a := alertWith(s, n)
		want, err := json.Marshal(a)
		if err != nil {
			t.Skip() // not an alert the engine writes
		}
		if got := appendAlertJSON(nil, a); !bytes.Equal(got, want) {
			t.Fatalf("\ngot  %s\nwant %s", got, want)
		}
	})
}
