package extension

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	gen "github.com/osquery/osquery-go/gen/osquery"

	"github.com/osqdetect/osqdetect/detect/normalize"
	"github.com/osqdetect/osqdetect/tests/osqcore"
)

// encodeQueryResult writes a query call's result struct with thrift's own
// generated code and binary protocol, as osqueryd sends it.
func encodeQueryResult(t testing.TB, resp *gen.ExtensionResponse) []byte {
	t.Helper()
	var buf bytes.Buffer
	trans := thrift.NewStreamTransportW(&buf)
	proto := thrift.NewTBinaryProtocolConf(trans, nil)
	res := gen.ExtensionManagerQueryResult{Success: resp}
	if err := res.Write(context.Background(), proto); err != nil {
		t.Fatal(err)
	}
	if err := proto.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// encodeSortedQueryResult writes the same bytes osqueryd does: its rows
// are std::maps (osquery/core/sql/row.h), so each row's keys go out
// sorted by name (thrift's Go code writes a Go map's keys in random
// order).
func encodeSortedQueryResult(t testing.TB, resp *gen.ExtensionResponse) []byte {
	t.Helper()
	var buf bytes.Buffer
	ctx := context.Background()
	p := thrift.NewTBinaryProtocolConf(thrift.NewStreamTransportW(&buf), nil)
	check := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	check(p.WriteStructBegin(ctx, "ExtensionManagerQueryResult"))
	check(p.WriteFieldBegin(ctx, "success", thrift.STRUCT, 0))
	check(p.WriteStructBegin(ctx, "ExtensionResponse"))
	if resp.Status != nil {
		check(p.WriteFieldBegin(ctx, "status", thrift.STRUCT, 1))
		check(resp.Status.Write(ctx, p))
		check(p.WriteFieldEnd(ctx))
	}
	check(p.WriteFieldBegin(ctx, "response", thrift.LIST, 2))
	check(p.WriteListBegin(ctx, thrift.MAP, len(resp.Response)))
	for _, row := range resp.Response {
		keys := make([]string, 0, len(row))
		for k := range row {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		check(p.WriteMapBegin(ctx, thrift.STRING, thrift.STRING, len(row)))
		for _, k := range keys {
			check(p.WriteString(ctx, k))
			check(p.WriteString(ctx, row[k]))
		}
		check(p.WriteMapEnd(ctx))
	}
	check(p.WriteListEnd(ctx))
	check(p.WriteFieldEnd(ctx))
	check(p.WriteFieldStop(ctx))
	check(p.WriteStructEnd(ctx))
	check(p.WriteFieldEnd(ctx))
	check(p.WriteFieldStop(ctx))
	check(p.WriteStructEnd(ctx))
	check(p.Flush(ctx))
	return buf.Bytes()
}

func decodeQueryResult(b []byte, columns []string) (*columnsResult, error) {
	res := newColumnsResult(bufio.NewReaderSize(bytes.NewReader(b), 64), columns)
	err := res.Read(context.Background(), nil)
	return res, err
}

func TestColumnsDecodeWhatThriftEncodes(t *testing.T) {
	long := strings.Repeat("x", 300) // longer than the decoder's buffer
	tests := []struct {
		name    string
		columns []string
		rows    []map[string]string
		want    [][]string
	}{
		{"rows", []string{"eid", "time", "pid"},
			[]map[string]string{{"eid": "0000000001", "time": "100", "pid": "7"}, {"eid": "0000000002", "time": "101", "pid": ""}},
			[][]string{{"0000000001", "100", "7"}, {"0000000002", "101", ""}}},
		{"missing and extra columns", []string{"eid", "cmdline"},
			[]map[string]string{{"eid": "1", "other": "x", long: "y"}, {"cmdline": long}},
			[][]string{{"1", ""}, {"", long}}},
		{"no rows", []string{"eid"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 0, Message: "OK"}, Response: tt.rows}
			for _, b := range [][]byte{encodeQueryResult(t, resp), encodeSortedQueryResult(t, resp)} {
				res, err := decodeQueryResult(b, tt.columns)
				if err != nil {
					t.Fatal(err)
				}
				if !res.success || !res.hasStatus || res.code != 0 {
					t.Fatalf("result %+v", res)
				}
				if got := valuesOf(res.out); !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("rows %q, want %q", got, tt.want)
				}
			}
			res, err := decodeQueryResult(encodeSortedQueryResult(t, resp), tt.columns)
			if err != nil {
				t.Fatal(err)
			}
			if !res.success || !res.hasStatus || res.code != 0 {
				t.Fatalf("result %+v", res)
			}
			if got := valuesOf(res.out); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("rows %q, want %q", got, tt.want)
			}
		})
	}
}

func TestColumnsDecodeStatusAndBadInput(t *testing.T) {
	b := encodeQueryResult(t, &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 1, Message: "no such table: x"}})
	res, err := decodeQueryResult(b, []string{"eid"})
	if err != nil || res.code != 1 || res.message != "no such table: x" {
		t.Fatalf("status %d %q, err %v", res.code, res.message, err)
	}
	ok := encodeQueryResult(t, &gen.ExtensionResponse{Status: &gen.ExtensionStatus{}, Response: []map[string]string{{"eid": "1"}}})
	for cut := 0; cut < len(ok)-1; cut++ {
		if _, err := decodeQueryResult(ok[:cut], []string{"eid"}); err == nil {
			t.Fatalf("an answer cut at byte %d of %d decoded without error", cut, len(ok))
		}
	}
	huge := append([]byte{tStruct, 0, 0, tList, 0, 2, tMap}, 0x7f, 0xff, 0xff, 0xff)
	if _, err := decodeQueryResult(huge, []string{"eid"}); !errors.Is(err, errThriftLimit) {
		t.Fatalf("2^31 rows: %v, want the limit error", err)
	}
}

// Against the osquery stand-in's real Thrift server: QueryColumns returns
// exactly what the map-per-row QueryRows returns, and a failing query's
// status becomes an error.
func TestQueryColumnsMatchesQueryRows(t *testing.T) {
	core := startTestCore(t, osqcore.Options{})
	if _, err := core.InjectProcessEvents(benchExec(100), benchExec(101)); err != nil {
		t.Fatal(err)
	}
	client := NewCoreClient(core.Socket(), 10*time.Second)
	defer client.Close()
	ctx := context.Background()
	sql := "SELECT eid, time, uptime, pid, path, cmdline, cwd, syscall, env FROM process_events WHERE time >= 0 ORDER BY eid"
	maps, err := client.QueryRows(ctx, sql)
	if err != nil {
		t.Fatal(err)
	}
	cols := []string{"eid", "time", "uptime", "pid", "path", "cmdline", "cwd", "syscall", "env", "absent"}
	// The second call reuses the connection and the size hint, and the
	// first answer's buffers.
	var prev ColumnRows
	var fs []normalize.Fields
	var views []normalize.View
	for range 2 {
		got, err := client.QueryColumns(ctx, sql, cols, prev)
		if err != nil {
			t.Fatal(err)
		}
		prev = got
		if !reflect.DeepEqual(valuesOf(got), valuesOf(ColumnsFromMaps(cols, maps))) || got.Len() != 2 {
			t.Fatalf("QueryColumns %q, QueryRows %q", valuesOf(got), maps)
		}
		fs, views = got.FieldsInto(fs, views)
		if len(fs) != 2 || fs[1].Get(normalize.ColCmdline) != maps[1]["cmdline"] || fs[0].Get(normalize.ColEID) != maps[0]["eid"] {
			t.Fatalf("fields %v %v, rows %v", fs[0].Map(), fs[1].Map(), maps)
		}
		for i := range fs {
			if m := fs[i].Map(); !reflect.DeepEqual(m, maps[i]) {
				t.Fatalf("row %d as fields %v, as a map %v", i, m, maps[i])
			}
		}
	}
	if _, err := client.QueryColumns(ctx, "SELECT x FROM no_such_table", []string{"x"}, ColumnRows{}); !errors.Is(err, ErrNotOK) ||
		!strings.Contains(err.Error(), "no such table") {
		t.Fatalf("bad query: %v", err)
	}
	if _, err := client.QueryColumns(ctx, sql, cols, ColumnRows{}); err != nil {
		t.Fatalf("the connection did not survive a failed query: %v", err)
	}
}

// FuzzColumnsDecode feeds arbitrary bytes to the answer decoder: it never
// panics, and what thrift's own encoder writes it decodes exactly.
func FuzzColumnsDecode(f *testing.F) {
	f.Add(encodeQueryResult(f, &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Message: "OK"},
		Response: []map[string]string{{"eid": "1", "time": "2"}, {"eid": "3", "x": "y"}}}), "eid", "a")
	f.Add([]byte{tStruct, 0, 0, tList, 0, 2, tMap, 0, 0, 0, 1, tStop}, "", "b")
	f.Fuzz(func(t *testing.T, data []byte, key, val string) {
		fast, fastErr := decodeQueryResult(data, []string{"eid", "time", key})
		rowFastPath = false
		slow, slowErr := decodeQueryResult(data, []string{"eid", "time", key})
		rowFastPath = true
		if (fastErr == nil) != (slowErr == nil) || fastErr == nil && !reflect.DeepEqual(valuesOf(fast.out), valuesOf(slow.out)) {
			t.Fatalf("in place: %q %v; value by value: %q %v", valuesOf(fast.out), fastErr, valuesOf(slow.out), slowErr)
		}
		rows := []map[string]string{{key: val, "eid": val + key}, {}}
		b := encodeQueryResult(t, &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 3, Message: val}, Response: rows})
		res, err := decodeQueryResult(b, []string{"eid", key})
		if err != nil {
			t.Fatal(err)
		}
		sorted, err := decodeQueryResult(encodeSortedQueryResult(t, &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 3, Message: val}, Response: rows}), []string{key, "eid"})
		if err != nil || !reflect.DeepEqual(valuesOf(sorted.out), valuesOf(ColumnsFromMaps([]string{key, "eid"}, rows))) {
			t.Fatalf("sorted keys decoded %q, %v", valuesOf(sorted.out), err)
		}
		if want := valuesOf(ColumnsFromMaps([]string{"eid", key}, rows)); !reflect.DeepEqual(valuesOf(res.out), want) || res.code != 3 || res.message != val {
			t.Fatalf("decoded %q (%d %q), want %q", valuesOf(res.out), res.code, res.message, want)
		}
	})
}

// valuesOf lists every row's values in column order.
func valuesOf(c ColumnRows) [][]string {
	var out [][]string
	for i := range c.Len() {
		row := make([]string, len(c.Columns))
		for j := range row {
			row[j] = c.Value(i, j)
		}
		out = append(out, row)
	}
	return out
}
