package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/osqdetect/osqdetect/internal/benchlog"
	"github.com/osqdetect/osqdetect/internal/testutil"
)

// scanBenchRows is the size of the benchmark log: 20 hosts, every benign
// command line different, an attack every 1,000 rows.
const scanBenchRows = 100_000

var scanBenchLog = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "osqdetect-scan-bench")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "results.log")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = benchlog.Write(f, benchlog.Options{Rows: scanBenchRows, AttackEvery: 1000, Unique: true})
	return path, err
})

// benchmarkScan runs `osqdetect scan` in-process over the log: bytes of
// the results log in, alerts out (to io.Discard). One op is the whole log;
// events/s counts its rows.
func benchmarkScan(b *testing.B, args ...string) {
	path, err := scanBenchLog()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var errs strings.Builder
		code := run(context.Background(), append(append([]string{"scan"}, args...), path), stdio{in: strings.NewReader(""), out: io.Discard, err: &errs})
		if code != exitOK {
			b.Fatalf("exit %d: %s", code, errs.String())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*scanBenchRows)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkScanSeedRules: scan with the two bundled rules.
func BenchmarkScanSeedRules(b *testing.B) { benchmarkScan(b) }

// BenchmarkScanCorpusRules: scan with every corpus rule that loads.
func BenchmarkScanCorpusRules(b *testing.B) {
	dir := filepath.Join(testutil.SharedDir(), "elastic-rules", "rules")
	if _, err := os.Stat(dir); err != nil {
		b.Skip("elastic rule corpus not found:", err)
	}
	benchmarkScan(b, "--rules", dir)
}
