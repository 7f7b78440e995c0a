package eventfile

import (
	"errors"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

func TestReadFormatsAndOrder(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		opts    Options
		wantIDs []string
		errs    []int // lines of bad events
	}{
		{"json lines ordered by timestamp",
			`{"@timestamp": 3000, "id": "c"}
{"@timestamp": "1970-01-01T00:00:01Z", "id": "a"}

{"@timestamp": "2000", "id": "b"}`, Options{}, []string{"a", "b", "c"}, nil},
		{"array with nested fields and a bad element",
			`[
  {"@timestamp": 2, "event": {"id": "y"}, "id": "y"},
  {"@timestamp": "yesterday", "id": "bad"},
  {"@timestamp": 1, "id": "x"}
]`, Options{}, []string{"x", "y"}, []int{3}},
		{"tiebreaker then file order",
			`{"t": 1, "tb": 2, "id": "b"}
{"t": 1, "tb": 1, "id": "a"}
{"t": 1, "id": "c"}
{"t": 0, "tb": 9, "id": "first"}`, Options{TimestampField: "t", TiebreakerField: "tb"}, []string{"first", "a", "b", "c"}, nil},
		{"missing timestamp required",
			`{"id": "no-ts"}
{"@timestamp": 5, "id": "ok"}
[1, 2]
not json`, Options{RequireTimestamp: true}, []string{"ok"}, []int{1, 3, 4}},
		{"array of objects and scalars between objects",
			`[{"@timestamp": 1, "id": "a", "x": [{"y": 1}, {"y": 2}]},
 "scalar",
 {"@timestamp": 2, "id": "b", "s": "a,]}\\\"["}, 7,
 {"@timestamp": 3, "id": "c"}]`, Options{}, []string{"a", "b", "c"}, []int{2, 3}},
		{"broken array keeps what came before",
			`[{"@timestamp": 1, "id": "a"}
 {"@timestamp": 2, "id": "b"}]`, Options{}, []string{"a"}, []int{2}},
		{"unterminated array", `[{"@timestamp": 1, "id": "a"},`, Options{}, []string{"a"}, []int{1}},
		{"empty array", ` [ ] `, Options{}, nil, nil},
		{"BOM and CRLF", "\ufeff{\"@timestamp\": 1, \"id\": \"a\"}\r\n{\"@timestamp\": 2, \"id\": \"b\"}\r\n", Options{}, []string{"a", "b"}, nil},
	}
	idField, _ := ecs.FieldOf("id")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, errs, err := Read(strings.NewReader(tt.input), "in.json", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, ev := range events {
				ids = append(ids, ev.Get(idField).Str)
			}
			if strings.Join(ids, ",") != strings.Join(tt.wantIDs, ",") {
				t.Errorf("order = %v, want %v", ids, tt.wantIDs)
			}
			var lines []int
			for _, e := range errs {
				var fe *Error
				if !errors.As(e, &fe) || fe.Source != "in.json" {
					t.Fatalf("error %v does not name the file", e)
				}
				lines = append(lines, fe.Line)
			}
			if len(lines) != len(tt.errs) {
				t.Fatalf("bad lines = %v (%v), want %v", lines, errs, tt.errs)
			}
			for i := range lines {
				if lines[i] != tt.errs[i] {
					t.Errorf("bad lines = %v, want %v", lines, tt.errs)
				}
			}
		})
	}
}

func TestReadLongLine(t *testing.T) {
	input := `{"@timestamp": 1, "x": "` + strings.Repeat("a", 200) + `"}` + "\n" + `{"@timestamp": 2}` + "\n"
	events, errs, err := Read(strings.NewReader(input), "f", Options{MaxLine: 100})
	if err != nil || len(events) != 1 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "longer than 100") {
		t.Fatalf("events %d errs %v err %v", len(events), errs, err)
	}
}

// An over-long array element is skipped without being held: the reader
// keeps at most MaxLine bytes of it.
func TestReadLongArrayElement(t *testing.T) {
	input := `[{"@timestamp": 1, "x": "` + strings.Repeat("a", 1000) + `"},` + "\n" + `{"@timestamp": 2, "y": [{"z": "]"}]}]`
	events, errs, err := Read(strings.NewReader(input), "f", Options{MaxLine: 100})
	if err != nil || len(events) != 1 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "f:1: array element longer than 100") {
		t.Fatalf("events %d errs %v err %v", len(events), errs, err)
	}
	if events[0].Line != 2 {
		t.Errorf("line = %d, want 2", events[0].Line)
	}
}

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		v    ecs.Value
		want int64
		ok   bool
	}{
		{ecs.IntVal(1700000000123), 1700000000123, true},
		{ecs.Str("2023-11-14T22:13:20.123Z"), 1700000000123, true},
		{ecs.Str("2023-11-14T22:13:20+00:00"), 1700000000000, true},
		{ecs.Str("1700000000123"), 1700000000123, true},
		{ecs.Str("2023-11-14"), 1699920000000, true},
		{ecs.Str("soon"), 0, false},
		{ecs.BoolVal(true), 0, false},
	}
	for _, tt := range tests {
		got, err := ParseTimestamp(tt.v)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseTimestamp(%+v) = %d, %v; want %d ok=%v", tt.v, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add(`[{"@timestamp": 1, "a": {"b": [1, 2]}}]`)
	f.Add("{\"@timestamp\": \"2020-01-01T00:00:00Z\"}\n{bad\n")
	f.Fuzz(func(t *testing.T, input string) {
		events, _, err := Read(strings.NewReader(input), "fuzz", Options{TiebreakerField: "tb"})
		if err != nil {
			return
		}
		for i := 1; i < len(events); i++ {
			if events[i].Time < events[i-1].Time {
				t.Fatalf("events out of time order")
			}
		}
	})
}

// All events are held to be ordered, so their total is bounded: one clear
// error, in both formats.
func TestReadTotalBound(t *testing.T) {
	line := `{"@timestamp": 1, "x": "` + strings.Repeat("a", 100) + `"}`
	for name, input := range map[string]string{
		"lines": strings.Repeat(line+"\n", 20),
		"array": "[" + strings.Repeat(line+",", 19) + line + "]",
	} {
		_, _, err := Read(strings.NewReader(input), "f", Options{MaxTotal: 1000})
		var tl *TooLargeError
		if !errors.As(err, &tl) || !strings.Contains(err.Error(), "f: more than") {
			t.Errorf("%s: err = %v, want a TooLargeError", name, err)
		}
		if _, _, err := Read(strings.NewReader(input), "f", Options{MaxTotal: 10000}); err != nil {
			t.Errorf("%s under the bound: %v", name, err)
		}
	}
}
