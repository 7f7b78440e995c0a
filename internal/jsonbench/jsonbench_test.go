// Package jsonbench measures the ways to read osquery results log lines
// into rows that were weighed for osqdetect's scan: osqlog's own scanner
// (what scan uses), encoding/json into the line's struct (what scan used
// before), and github.com/valyala/fastjson, a well-kept fast parser. It is
// a module of its own so that the candidate stays out of osqdetect's
// dependencies:
//
//	cd internal/jsonbench && go test -bench . -benchmem -cpu 1
package jsonbench

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"testing"

	"github.com/valyala/fastjson"

	"github.com/osqdetect/osqdetect/detect/normalize"
	"github.com/osqdetect/osqdetect/detect/osqlog"
	"github.com/osqdetect/osqdetect/internal/benchlog"
)

const rows = 20_000

var logData = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	if _, err := benchlog.Write(&b, benchlog.Options{Rows: rows, AttackEvery: 1000, Unique: true}); err != nil {
		panic(err)
	}
	return b.Bytes()
})

func report(b *testing.B) {
	b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}

// BenchmarkOsqlogScanner: osqlog.Reader.NextView, lines to rows with
// Fields (the columns copied into each row's buffer).
func BenchmarkOsqlogScanner(b *testing.B) {
	data := logData()
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		r := osqlog.NewReader(bytes.NewReader(data), "bench")
		n := 0
		for {
			got, err := r.NextView()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += len(got)
		}
		if n != rows {
			b.Fatalf("%d rows", n)
		}
	}
	report(b)
}

// BenchmarkEncodingJSON: each line decoded by encoding/json into the
// line's struct with a map of raw columns, then the columns set into a
// Fields as the scanner does.
func BenchmarkEncodingJSON(b *testing.B) {
	data := logData()
	b.SetBytes(int64(len(data)))
	var f normalize.Fields
	for i := 0; i < b.N; i++ {
		for _, line := range bytes.Split(data[:len(data)-1], []byte{'\n'}) {
			var l struct {
				Name        string                     `json:"name"`
				Decorations map[string]json.RawMessage `json:"decorations"`
				Action      string                     `json:"action"`
				Columns     map[string]json.RawMessage `json:"columns"`
			}
			if err := json.Unmarshal(line, &l); err != nil {
				b.Fatal(err)
			}
			f.Reset()
			for k, v := range l.Columns {
				var s string
				if json.Unmarshal(v, &s) != nil {
					s = string(v)
				}
				f.Set(k, s)
			}
		}
	}
	report(b)
}

// BenchmarkFastjson: each line parsed by a reused fastjson.Parser, the
// columns visited into a Fields.
func BenchmarkFastjson(b *testing.B) {
	data := logData()
	b.SetBytes(int64(len(data)))
	var p fastjson.Parser
	var f normalize.Fields
	for i := 0; i < b.N; i++ {
		for _, line := range bytes.Split(data[:len(data)-1], []byte{'\n'}) {
			v, err := p.ParseBytes(line)
			if err != nil {
				b.Fatal(err)
			}
			_ = v.GetStringBytes("name")
			_ = v.GetStringBytes("decorations", "host_uuid")
			_ = v.GetStringBytes("action")
			f.Reset()
			v.GetObject("columns").Visit(func(k []byte, c *fastjson.Value) {
				if c.Type() == fastjson.TypeString {
					f.Set(string(k), string(c.GetStringBytes()))
				} else {
					f.Set(string(k), c.String())
				}
			})
		}
	}
	report(b)
}
