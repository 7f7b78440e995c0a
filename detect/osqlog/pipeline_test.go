package osqlog

import (
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/detect/ecs"
	"github.com/osqdetect/osqdetect/detect/normalize"
)

// TestLogsToEvents reads the snapshot log (processes) and the event log
// through a Reorderer into the normalizer: the reverse shell's exec and
// connect on web-1 must share one entity id and name bash as the parent.
func TestLogsToEvents(t *testing.T) {
	n := normalize.New(normalize.Options{})
	o := normalize.NewReorderer(time.Second, 0)
	var events []*ecs.Event
	emit := func(r normalize.Row) {
		var ev ecs.Event
		err := n.Normalize(r, &ev)
		switch {
		case errors.Is(err, normalize.ErrStateOnly):
		case err != nil:
			t.Errorf("row %d: %v", r.Seq, err)
		default:
			events = append(events, ev.Clone())
		}
	}
	var seq uint64
	for _, path := range []string{"testdata/snapshot.log", "testdata/event.log"} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r := NewReader(f, path)
		r.SetSeq(seq)
		for {
			rows, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range rows {
				o.Push(row, emit)
				seq = row.Seq + 1
			}
		}
		f.Close()
	}
	o.Flush(emit)
	var exec, conn *ecs.Event
	execAt, connAt := -1, -1
	for i, ev := range events {
		if ev.Get(ecs.ProcessPid).Int() != 2201 {
			continue
		}
		switch ev.Get(ecs.EventAction).Str {
		case "exec":
			exec, execAt = ev, i
		case "connection_attempted":
			conn, connAt = ev, i
		}
	}
	if exec == nil || conn == nil {
		t.Fatalf("missing events: exec %v connect %v (of %d)", exec != nil, conn != nil, len(events))
	}
	if exec.Get(ecs.ProcessEntityID).Str != conn.Get(ecs.ProcessEntityID).Str {
		t.Errorf("entity ids differ: %q %q", exec.Get(ecs.ProcessEntityID).Str, conn.Get(ecs.ProcessEntityID).Str)
	}
	if exec.Get(ecs.ParentName).Str != "bash" || conn.Get(ecs.ParentName).Str != "bash" {
		t.Errorf("parent names %q %q, want bash from the processes snapshot", exec.Get(ecs.ParentName).Str, conn.Get(ecs.ParentName).Str)
	}
	if execAt > connAt {
		t.Errorf("the connect was emitted before the exec of its image")
	}
	if events[0].Get(ecs.EventID).Str == "" {
		t.Errorf("events need ids")
	}
}
