package kql

import (
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// symlinkMix is a mix of events a host produces: mostly unrelated execs,
// some network events, a few near misses and one true positive.
func symlinkMix(b testing.TB) []*ecs.Event {
	base := func(changes map[string]any) *ecs.Event { return ev(b, with(changes)) }
	return []*ecs.Event{
		base(map[string]any{"process.name": "bash", "process.args": []any{"bash", "-c", "make all"}}),
		base(map[string]any{"process.name": "git", "process.args": []any{"git", "status", "--porcelain"}}),
		base(map[string]any{"event.category": []any{"network"}, "event.type": []any{"connection"}, "event.action": "connect", "process.args": drop}),
		base(map[string]any{"process.name": "ls", "process.args": []any{"ls", "-la", "/tmp"}}),
		base(map[string]any{"process.args": []any{"ln", "-s", "/opt/app/bin", "/usr/local/bin/app"}}),
		base(map[string]any{"process.args": []any{"ln", "-s", "/bin/bash", "/tmp/mkinitcpio.1/sh"}}),
		base(map[string]any{"process.name": "busybox", "process.args": []any{"busybox", "ln", "-s", "/bin/sh", "/dev/shm/sh"}}),
		base(nil),
	}
}

func BenchmarkSymlinkRule(b *testing.B) {
	q := mustCompile(b, seedQuery)
	events := symlinkMix(b)
	matched := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if q.Match(events[i%len(events)]) {
			matched++
		}
	}
	if b.N >= len(events) && matched == 0 {
		b.Fatal("no event matched")
	}
}

func BenchmarkCompileSymlinkRule(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compile(seedQuery); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSymlinkRuleDoesNotAllocate(t *testing.T) {
	q := mustCompile(t, seedQuery)
	events := symlinkMix(t)
	n := testing.AllocsPerRun(50, func() {
		for _, e := range events {
			q.Match(e)
		}
	})
	if n != 0 {
		t.Errorf("matching the seed rule allocates %v times per pass", n)
	}
}
