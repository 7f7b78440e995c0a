package extension

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/extension/config"
)

// newTestRunner is a runner over q with its own store, without a core:
// enough to drive pollPage.
func newTestRunner(t *testing.T, q ColumnQuerier, now func() time.Time) *runner {
	t.Helper()
	cfg := config.Defaults()
	cfg.StateDir = t.TempDir()
	r, err := newRunner(Options{Socket: "/nonexistent/osquery.em", Config: cfg, Now: now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	deps, err := openWiring(context.Background(), r.opts, r.health, r.log)
	if err != nil {
		t.Fatal(err)
	}
	r.deps = deps
	t.Cleanup(r.close)
	r.host = "test-host"
	r.sensor = detect.NewSensor(deps.rules.Rules, deps.sensorOptions())
	r.setup = EventsSetup{Sources: []Source{ProcessEventsSource}, ExpirySeconds: 3600}
	r.poller = NewPoller(q, r.setup.Sources)
	r.poller.Now = now
	return r
}

// While polling fails with rows waiting, health says stalled and why, and
// the lag grows with the clock; once reading works again both clear.
func TestHealthReportsAStalledCursor(t *testing.T) {
	f := newSQLEvents(t, ProcessEventsSource)
	f.add("process_events", 1000, 3)
	clock := int64(1005)
	now := func() time.Time { return time.Unix(clock, 0) }
	r := newTestRunner(t, f, now)
	if _, err := r.pollPage(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.add("process_events", 1006, 2)
	f.mu.Lock()
	f.fail = errors.New("socket closed")
	f.mu.Unlock()
	for clock = 1010; clock < 1040; clock += 10 {
		_, _ = r.pollPage(context.Background())
		r.publishPoll(now())
	}
	src := sourceHealth(t, r, "process_events")
	if src.StalledSince.IsZero() || !strings.Contains(src.StallReason, "socket closed") || src.LagSeconds < 25 {
		t.Fatalf("stalled since %v (%q), lag %d: want stalled, naming the error, lag >= 25 s", src.StalledSince, src.StallReason, src.LagSeconds)
	}
	f.mu.Lock()
	f.fail = nil
	f.mu.Unlock()
	if _, err := r.pollPage(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.publishPoll(now())
	src = sourceHealth(t, r, "process_events")
	if !src.StalledSince.IsZero() || src.LagSeconds > 2 || src.RowsDelivered != 5 {
		t.Fatalf("after recovery: stalled since %v, lag %d, delivered %d", src.StalledSince, src.LagSeconds, src.RowsDelivered)
	}
}

func sourceHealth(t *testing.T, r *runner, table string) SourceHealth {
	t.Helper()
	for _, s := range r.health.Snapshot().Sources {
		if s.Table == table {
			return s
		}
	}
	t.Fatalf("no health for %s", table)
	return SourceHealth{}
}
