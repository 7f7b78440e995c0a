package extension

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/detect/normalize"
	"github.com/osqdetect/osqdetect/extension/store"
	"github.com/osqdetect/osqdetect/rules"
)

// BenchmarkCommitPerPoll measures what one poll's commit costs with a
// process cache of 1k, 10k and 100k entries, the poll being 20 execs of
// processes the cache knows. "snapshot" is how the process cache was
// stored before: re-serialised whole (it was, every 30 s); "journal" is
// the per-commit delta the runner stores now, with the cursor, the poller
// state and the engine's delta. Reported: time, allocations and the bytes
// handed to the store per commit (commit-bytes/op). The journal's cost must
// not grow with the cache. The store runs without fsync, which would
// otherwise dominate and is the same in both.
func BenchmarkCommitPerPoll(b *testing.B) {
	set, err := rules.Load(nil, rules.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{1000, 10000, 100000} {
		for _, mode := range []string{"snapshot", "journal"} {
			b.Run(fmt.Sprintf("cache=%d/%s", size, mode), func(b *testing.B) {
				sensor := detect.NewSensor(set.Rules, detect.SensorOptions{MaxProcesses: size})
				fill := make([]normalize.Row, 0, size)
				for i := 0; i < size; i++ {
					fill = append(fill, benchExecRow(10000+i, 1700000000, i))
				}
				sensor.Ingest(fill, func(*detect.Alert) {})
				st, _, err := store.Open(context.Background(), b.TempDir(), store.Options{NoSync: true})
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				sources := []Source{ProcessEventsSource, SocketEventsSource}
				commit := func(sec int64) int {
					state := pollState{Cursor: Cursor{Time: sec}, Delivered: map[string]int64{"process_events": sec}}
					poll, err := json.Marshal(state)
					if err != nil {
						b.Fatal(err)
					}
					var batch store.Batch
					d, err := sensor.TakeDelta()
					if err != nil {
						b.Fatal(err)
					}
					if mode == "snapshot" {
						procs, err := sensor.ProcessState()
						if err != nil {
							b.Fatal(err)
						}
						batch = store.Batch{Terms: d.Engine.Terms, Cursors: cursorToStore(state.Cursor, sources),
							State: map[string][]byte{blobPoller: poll, blobProcesses: procs}}
					} else {
						batch = newPendingCommit(nil, d, cursorToStore(state.Cursor, sources), poll, nil).batch()
					}
					if _, err := st.Commit(context.Background(), batch); err != nil {
						b.Fatal(err)
					}
					n := 0
					for _, v := range batch.State {
						n += len(v)
					}
					for _, recs := range batch.Records {
						for _, r := range recs {
							n += len(r.Key) + len(r.Value)
						}
					}
					return n
				}
				commit(1700000000)
				page := make([]normalize.Row, 20)
				bytes := 0
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					sec := int64(1700000001 + i)
					for j := range page {
						page[j] = benchExecRow(10000+(i*20+j)*7919%size, sec, size+i*20+j)
					}
					sensor.Ingest(page, func(*detect.Alert) {})
					b.StartTimer()
					bytes += commit(sec)
				}
				b.ReportMetric(float64(bytes)/float64(b.N), "commit-bytes/op")
			})
		}
	}
}

func benchExecRow(pid int, sec int64, eid int) normalize.Row {
	cols := benchExec(pid)
	cols["time"] = strconv.FormatInt(sec, 10)
	cols["eid"] = strconv.Itoa(eid)
	return normalize.Row{Table: normalize.TableProcessEvents, Host: "bench-host", Cols: cols, Seq: uint64(eid)}
}
