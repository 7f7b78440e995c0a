package osqcore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/osquery/osquery-go"
	gen "github.com/osquery/osquery-go/gen/osquery"
)

// BenchmarkProcessEventsPoll measures the extension's poll path: a
// time-bounded SELECT on process_events through Thrift, reported as rows/s.
// "osquery-go" is the pinned osquery-go client (unbuffered socket: one read
// syscall per field, which dominates); "buffered" is the generated client
// over a buffered transport, isolating the core's own cost.
func BenchmarkProcessEventsPoll(b *testing.B) {
	for _, buffered := range []int{1000, 10000} {
		for _, client := range []string{"osquery-go", "buffered"} {
			b.Run(fmt.Sprintf("%d_buffered/%s", buffered, client), func(b *testing.B) {
				benchmarkPoll(b, buffered, client)
			})
		}
	}
}

func benchmarkPoll(b *testing.B, buffered int, clientKind string) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	core := startCore(b, Options{Clock: clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	batch := make([]map[string]string, 100)
	for i := 0; i < buffered; i += len(batch) {
		clock.Set(1_700_000_000 + int64(i/len(batch)))
		for j := range batch {
			pid := strconv.Itoa(1000 + i + j)
			batch[j] = map[string]string{"pid": pid, "path": "/usr/bin/curl", "cmdline": "curl -s http://example.invalid/" + pid, "parent": "1", "uid": "1000", "cwd": "/tmp"}
		}
		if _, err := core.InjectProcessEvents(batch...); err != nil {
			b.Fatal(err)
		}
	}
	var query func(ctx context.Context, sql string) (int, error)
	switch clientKind {
	case "osquery-go":
		client, err := osquery.NewClient(core.Socket(), 30*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		defer client.Close()
		query = func(ctx context.Context, sql string) (int, error) {
			rows, err := client.QueryRowsContext(ctx, sql)
			return len(rows), err
		}
	case "buffered":
		conn, err := net.Dial("unix", core.Socket())
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		trans := thrift.NewTBufferedTransport(thrift.NewTSocketFromConnConf(conn, nil), 64*1024)
		client := gen.NewExtensionManagerClientFactory(trans, thrift.NewTBinaryProtocolFactoryConf(nil))
		query = func(ctx context.Context, sql string) (int, error) {
			resp, err := client.Query(ctx, sql)
			if err != nil {
				return 0, err
			}
			if resp.Status.Code != 0 {
				return 0, fmt.Errorf("query: %s", resp.Status.Message)
			}
			return len(resp.Response), nil
		}
	}
	// The newest half of the buffer matches.
	since := 1_700_000_000 + int64(buffered/len(batch)/2)
	sql := "SELECT eid, time, pid, parent, path, cmdline, cwd, uid FROM process_events WHERE time >= " + strconv.FormatInt(since, 10)
	b.ReportAllocs()
	b.ResetTimer()
	rows := 0
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		n, err := query(ctx, sql)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		rows += n
	}
	b.StopTimer()
	if rows != b.N*buffered/2 {
		b.Fatalf("read %d rows in %d polls, want %d per poll", rows, b.N, buffered/2)
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
