package fleet_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/fleet"
	"github.com/osqdetect/osqdetect/tests/fleetdouble"
)

// BenchmarkHunt5000Hosts hunts over 5,000 simulated hosts: 1 in 50
// offline, 1 in 40 without the extension, 1 in 70 failing, the rest
// answering two alert rows. The double runs in the same process, so its
// memory is included in the heap figures.
func BenchmarkHunt5000Hosts(b *testing.B) {
	rows := []map[string]string{
		{"id": "5e0c1f0a-1d7b-5b8e-9a57-6f2c0d5c9e11", "time": "1700000000", "rule_id": "fa3a59dc-33c3-43bf-80a9-e8437a922c7f",
			"rule_name": "Potential Reverse Shell via Suspicious Binary", "severity": "high", "risk_score": "73",
			"process_executable": "/tmp/x", "process_command_line": "/tmp/x -c 10.0.0.1 4444", "reason": "exec, connect, shell within 1s",
			"events": `[{"event":{"action":"exec"}},{"event":{"action":"connection_attempted"}},{"event":{"action":"exec"}}]`},
		{"id": "0b8f7e4c-3a2d-5c1b-8e9f-1a2b3c4d5e6f", "time": "1700000100", "rule_id": "d19a2399-f8e2-4b10-80d8-a561ce9d24d1",
			"rule_name": "System Binary Symlink to Suspicious Location", "severity": "low", "risk_score": "21",
			"process_executable": "/usr/bin/ln", "process_command_line": "ln -s /usr/bin/bash /tmp/b", "reason": "new parent", "events": `[]`},
	}
	hosts := fleetdouble.GenerateHosts(5000, fleetdouble.GenSpec{
		OfflineEvery: 50, MissingEvery: 40, ErrorEvery: 70, Rows: rows, Label: "osqdetect",
	})
	srv := fleetdouble.New(fleetdouble.Config{Token: token, Hosts: hosts, Labels: []fleetdouble.Label{{ID: 1, Name: "osqdetect"}}})
	defer srv.Close()
	c, err := fleet.NewClient(srv.URL, fleet.WithToken(token))
	if err != nil {
		b.Fatal(err)
	}
	var peak uint64
	var ms runtime.MemStats
	sample := func() {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var sum *fleet.HuntSummary
	for i := 0; i < b.N; i++ {
		var n int
		sum, err = c.Hunt(context.Background(), fleet.HuntOptions{
			SQL:     "SELECT * FROM alerts;",
			Targets: fleet.Targets{Labels: []string{"osqdetect"}},
			Timeout: 5 * time.Minute,
			OnResult: func(r fleet.HostResult) {
				n += len(r.Rows)
				if n%1000 == 0 {
					sample()
				}
			},
		})
		if err != nil {
			b.Fatal(err)
		}
		sample()
	}
	b.StopTimer()
	if sum.Targeted != 5000 || sum.Offline != 100 || sum.Answered != 4900 {
		b.Fatalf("targeted %d offline %d answered %d", sum.Targeted, sum.Offline, sum.Answered)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(sum.Rows), "rows/op")
	// Rows are streamed, not kept: the heap must stay far below what
	// holding every answer would need.
	if peak > 256<<20 {
		b.Errorf("peak heap %d MiB over 256 MiB", peak>>20)
	}
}
