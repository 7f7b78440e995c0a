package osqlog

import (
	"bytes"
	"io"
	"testing"

	"github.com/osqdetect/osqdetect/internal/benchlog"
)

// BenchmarkReadLines reads a generated results log from memory (20 hosts,
// unique command lines), as scan's parsers read their chunks: the line
// reader's part of scan alone.
func BenchmarkReadLines(b *testing.B) {
	var log bytes.Buffer
	const rows = 20000
	if _, err := benchlog.Write(&log, benchlog.Options{Rows: rows, AttackEvery: 1000, Unique: true}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(log.Len()))
	b.ReportAllocs()
	r := NewBytesReader(nil, "bench")
	for b.Loop() {
		r.ResetBytes(log.Bytes())
		n := 0
		for {
			rows, err := r.NextView()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += len(rows)
		}
		if n != rows {
			b.Fatalf("%d rows, want %d", n, rows)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}
