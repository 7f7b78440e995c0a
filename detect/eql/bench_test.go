package eql

import (
	"fmt"
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// benchStream is a mix of ordinary exec and network events, none of which
// starts or advances the seed sequence.
func benchStream(b *testing.B) []*ecs.Event {
	var objs []string
	exes := []string{"/usr/bin/ls", "/usr/bin/git", "/usr/sbin/sshd", "/usr/bin/python3", "/tmp/build/cc1"}
	for i := 0; i < 64; i++ {
		exe := exes[i%len(exes)]
		parent := "systemd"
		if i%3 == 0 {
			parent = "bash"
		}
		if exe == "/tmp/build/cc1" {
			parent = "make"
		}
		objs = append(objs,
			fmt.Sprintf(`{"event.category":"process","event.type":"start","event.action":"exec","host.os.type":"linux","host.id":"h%d","process.entity_id":"e%d","process.executable":%q,"process.name":"x","process.parent.name":%q,"process.args":["x","-v","--long-option"],"t":%d}`, i%4, i, exe, parent, i*10),
			fmt.Sprintf(`{"event.category":"network","event.type":"start","event.action":"connection_attempted","host.os.type":"linux","host.id":"h%d","process.entity_id":"e%d","process.executable":"/usr/bin/curl","destination.ip":"203.0.113.%d","t":%d}`, i%4, i, i, i*10+5),
		)
	}
	return stream(b, objs...)
}

func BenchmarkSeedSequenceNonMatching(b *testing.B) {
	q := seedQuery(b)
	m := q.Sequence.NewMatcher(Limits{})
	evs := benchStream(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if out := m.Push(evs[i%len(evs)]); out != nil {
			b.Fatal("unexpected match")
		}
	}
}

func BenchmarkSeedSequenceWithMatches(b *testing.B) {
	q := seedQuery(b)
	m := q.Sequence.NewMatcher(Limits{})
	evs := benchStream(b)
	shell := stream(b, reverseShell("h9", "e9", 0)...)
	b.ReportAllocs()
	b.ResetTimer()
	var t int64
	for i := 0; i < b.N; i++ {
		var ev *ecs.Event
		if i%100 < 3 {
			ev = shell[i%100]
		} else {
			ev = evs[i%len(evs)]
		}
		t += 10
		ev.Time = t
		m.Push(ev)
	}
}

const benchSingleRule = `process where host.os.type == "linux" and event.type == "start" and
  event.action in ("exec", "exec_event", "start", "ProcessRollup2", "executed", "process_started") and
  process.parent.name like~ ("bash", "dash", "sh", "tcsh", "csh", "zsh", "ksh", "fish") and
  process.args : ("*/dev/tcp/*", "*/dev/udp/*", "*nc -e*", "*mkfifo*") and
  not process.executable like ("/opt/*", "/usr/lib/*") and
  not cidrmatch(destination.ip, "127.0.0.0/8", "::1")`

func BenchmarkSingleEventRule(b *testing.B) {
	q, err := Compile(benchSingleRule, Options{})
	if err != nil {
		b.Fatal(err)
	}
	evs := benchStream(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q.Event(evs[i%len(evs)])
	}
}

func BenchmarkCompileSeed(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compile(SeedReverseShell, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
