package normalize

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

const host = "4c4c4544-0042-3610-8052-b4c04f4a4d32"

// cols builds a column map from "k=v" pairs.
func cols(kv ...string) map[string]string {
	m := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return m
}

func execRow(pid, parent, path, cmdline, t, eid string) Row {
	return Row{Table: TableProcessEvents, Host: host, Cols: cols(
		"syscall=execve", "pid="+pid, "parent="+parent, "path="+path, "cmdline="+cmdline,
		"cwd=/home/u", "uid=1000", "gid=1001", "euid=0", "egid=0", "suid=0", "sgid=0", "auid=1000",
		"time="+t, "eid="+eid)}
}

func socketRow(action, pid, path, t, eid string, more ...string) Row {
	c := cols(append([]string{"action=" + action, "pid=" + pid, "path=" + path, "time=" + t, "eid=" + eid, "auid=1000"}, more...)...)
	return Row{Table: TableSocketEvents, Host: host, Cols: c}
}

func mustNormalize(t *testing.T, n *Normalizer, r Row) *ecs.Event {
	t.Helper()
	ev := &ecs.Event{}
	if err := n.Normalize(r, ev); err != nil {
		t.Fatalf("Normalize(%v): %v", r.Cols, err)
	}
	return ev
}

func str(ev *ecs.Event, f ecs.Field) string {
	v := ev.Get(f)
	s, _ := v.Text()
	return s
}

func strs(ev *ecs.Event, f ecs.Field) []string {
	v := ev.Get(f)
	var out []string
	for _, e := range v.Elems() {
		s, _ := e.Text()
		out = append(out, s)
	}
	return out
}

func seedBash(t *testing.T, n *Normalizer) {
	t.Helper()
	_, err := n.Seed(host, []map[string]string{
		cols("pid=1", "parent=0", "name=systemd", "path=/usr/lib/systemd/systemd", "cmdline=/sbin/init splash", "cwd=/", "uid=0", "gid=0", "euid=0", "egid=0", "start_time=1699000000"),
		cols("pid=100", "parent=1", "name=bash", "path=/usr/bin/bash", "cmdline=-bash", "cwd=/home/u", "uid=1000", "gid=1000", "euid=1000", "egid=1000", "start_time=1699990000"),
		cols("pid=101", "parent=1", "name=zsh", "path=/usr/bin/zsh", "cmdline=zsh -l", "cwd=/root", "uid=0", "gid=0", "euid=0", "egid=0", "start_time=1699990001"),
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestExecFields(t *testing.T) {
	n := New(Options{})
	seedBash(t, n)
	ev := mustNormalize(t, n, execRow("300", "100", "/usr/bin/ln", "ln -s /usr/bin/id /tmp/.x", "1700000000", "0000000042"))
	want := map[ecs.Field]string{
		ecs.EventKind: "event", ecs.EventCategory: "process", ecs.EventType: "start", ecs.EventAction: "exec",
		ecs.EventModule: "osquery", ecs.EventDataset: "osquery.process_events", ecs.OsqueryTable: "process_events",
		ecs.EventID: host + ":process_events:0000000042:69fe3864715c4d88", ecs.OsqueryEID: "0000000042", ecs.OsquerySyscall: "execve",
		ecs.HostID: host, ecs.HostOSType: "linux",
		ecs.ProcessPid: "300", ecs.ProcessExecutable: "/usr/bin/ln", ecs.ProcessName: "ln",
		ecs.ProcessCommandLine: "ln -s /usr/bin/id /tmp/.x", ecs.ProcessTitle: "ln -s /usr/bin/id /tmp/.x",
		ecs.ProcessArgsCount: "4", ecs.ProcessWorkingDirectory: "/home/u",
		ecs.UserID: "1000", ecs.GroupID: "1001", ecs.ProcessUserID: "0", ecs.ProcessGroupID: "0",
		ecs.UserEffectiveID: "0", ecs.GroupEffectiveID: "0", ecs.UserExtRealID: "1000", ecs.GroupExtRealID: "1001",
		ecs.ProcessRealUserID: "1000", ecs.ProcessRealGroupID: "1001", ecs.ProcessSavedUserID: "0",
		ecs.ProcessSavedGroupID: "0", ecs.AuditUserID: "1000",
		ecs.ParentPid: "100", ecs.ParentExecutable: "/usr/bin/bash", ecs.ParentName: "bash",
		ecs.ParentCommandLine: "-bash", ecs.ParentArgsCount: "1", ecs.ParentWorkingDirectory: "/home/u",
		ecs.ParentUserID: "1000", ecs.ParentGroupID: "1000",
	}
	for f, w := range want {
		if got := str(ev, f); got != w {
			t.Errorf("%s = %q, want %q", f.Name(), got, w)
		}
	}
	if ev.Time != 1700000000000 {
		t.Errorf("Time = %d, want 1700000000000", ev.Time)
	}
	if got := strs(ev, ecs.ProcessArgs); strings.Join(got, "|") != "ln|-s|/usr/bin/id|/tmp/.x" {
		t.Errorf("process.args = %q", got)
	}
	if ev.Get(ecs.ProcessEntityID).Str == "" || ev.Get(ecs.ParentEntityID).Str == "" {
		t.Errorf("entity ids missing: %q %q", str(ev, ecs.ProcessEntityID), str(ev, ecs.ParentEntityID))
	}
	if ev.Get(ecs.ProcessPreviousExe).Kind != ecs.Missing {
		t.Errorf("previous.executable set on a first exec: %q", str(ev, ecs.ProcessPreviousExe))
	}
}

func TestSplitArgs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"ls", []string{"ls"}},
		{"ls -la /tmp", []string{"ls", "-la", "/tmp"}},
		{"a  b", []string{"a", "", "b"}},
		{"sh -c echo hi", []string{"sh", "-c", "echo", "hi"}},
	} {
		v, n := splitArgs(tc.in)
		var got []string
		for _, e := range v.Arr {
			got = append(got, e.Str)
		}
		if strings.Join(got, "\x00") != strings.Join(tc.want, "\x00") || int(n) != len(tc.want) {
			t.Errorf("splitArgs(%q) = %q (%d), want %q", tc.in, got, n, tc.want)
		}
	}
}

func TestForkInheritsImageAndEntitySurvivesExec(t *testing.T) {
	n := New(Options{})
	seedBash(t, n)
	bash := mustNormalize(t, n, execRow("100", "1", "/usr/bin/bash", "-bash", "1700000000", "0000000001"))
	fork := mustNormalize(t, n, Row{Table: TableProcessEvents, Host: host, Cols: cols(
		"syscall=fork", "pid=200", "parent=100", "path=/usr/bin/bash", "uid=1000", "gid=1000", "euid=1000", "egid=1000",
		"time=1700000001", "eid=0000000002")})
	if got := str(fork, ecs.EventAction); got != "fork" {
		t.Fatalf("event.action = %q, want fork", got)
	}
	for f, w := range map[ecs.Field]string{
		ecs.ProcessPid: "200", ecs.ProcessExecutable: "/usr/bin/bash", ecs.ProcessName: "bash",
		ecs.ProcessCommandLine: "-bash", ecs.ProcessWorkingDirectory: "/home/u",
		ecs.ParentPid: "100", ecs.ParentName: "bash", ecs.OsquerySyscall: "fork",
		ecs.ParentEntityID: str(bash, ecs.ProcessEntityID),
	} {
		if got := str(fork, f); got != w {
			t.Errorf("fork %s = %q, want %q", f.Name(), got, w)
		}
	}
	child := str(fork, ecs.ProcessEntityID)
	if child == "" || child == str(bash, ecs.ProcessEntityID) {
		t.Fatalf("child entity id %q must be set and differ from the parent's", child)
	}

	exec := mustNormalize(t, n, execRow("200", "100", "/tmp/x", "/tmp/x 10.0.0.5 4444", "1700000002", "0000000003"))
	if got := str(exec, ecs.ProcessEntityID); got != child {
		t.Errorf("entity id after exec = %q, want the fork's %q", got, child)
	}
	if got := str(exec, ecs.ProcessPreviousExe); got != "/usr/bin/bash" {
		t.Errorf("previous.executable = %q, want /usr/bin/bash", got)
	}
	sock := mustNormalize(t, n, socketRow("connect", "200", "/tmp/x", "1700000002", "0000000009",
		"family=2", "remote_address=10.0.0.5", "remote_port=4444", "local_address=0", "local_port=0", "status=succeeded"))
	if got := str(sock, ecs.ProcessEntityID); got != child {
		t.Errorf("socket entity id = %q, want %q", got, child)
	}
	sh := mustNormalize(t, n, execRow("200", "100", "/bin/sh", "sh -i", "1700000002", "0000000004"))
	if got := str(sh, ecs.ProcessEntityID); got != child {
		t.Errorf("entity id after second exec = %q, want %q", got, child)
	}
	if got, w := str(sh, ecs.ParentName), "bash"; got != w {
		t.Errorf("parent.name = %q, want %q", got, w)
	}
	if got := str(sh, ecs.ProcessPreviousExe); got != "/tmp/x" {
		t.Errorf("previous.executable = %q, want /tmp/x", got)
	}
}

func TestForkOfUnknownParent(t *testing.T) {
	n := New(Options{})
	ev := mustNormalize(t, n, Row{Table: TableProcessEvents, Host: host, Cols: cols(
		"syscall=clone", "pid=500", "parent=499", "path=/usr/sbin/sshd", "uid=0", "gid=0", "time=1700000001", "eid=0000000002")})
	if got := str(ev, ecs.ProcessExecutable); got != "/usr/sbin/sshd" {
		t.Errorf("executable = %q", got)
	}
	if got := str(ev, ecs.ParentPid); got != "499" {
		t.Errorf("parent.pid = %q", got)
	}
	if ev.Get(ecs.ParentName).Kind != ecs.Missing || ev.Get(ecs.ProcessCommandLine).Kind != ecs.Missing {
		t.Errorf("unknown parent must not invent a name or command line")
	}
}

func TestPidReuseStartsNewProcess(t *testing.T) {
	n := New(Options{})
	seedBash(t, n)
	a := mustNormalize(t, n, execRow("300", "100", "/usr/bin/sleep", "sleep 1", "1700000000", "0000000001"))
	same := mustNormalize(t, n, execRow("300", "100", "/usr/bin/env", "env", "1700000000", "0000000002"))
	b := mustNormalize(t, n, execRow("300", "101", "/usr/bin/sleep", "sleep 2", "1700000005", "0000000003"))
	if str(a, ecs.ProcessEntityID) != str(same, ecs.ProcessEntityID) {
		t.Errorf("an exec with the same parent must keep the entity id")
	}
	if str(a, ecs.ProcessEntityID) == str(b, ecs.ProcessEntityID) {
		t.Errorf("an exec with a different parent must start a new process")
	}
	if b.Get(ecs.ProcessPreviousExe).Kind != ecs.Missing {
		t.Errorf("a new process has no previous executable, got %q", str(b, ecs.ProcessPreviousExe))
	}
	if got := str(b, ecs.ParentName); got != "zsh" {
		t.Errorf("parent.name = %q, want zsh", got)
	}
}

func TestSocketRows(t *testing.T) {
	for _, tc := range []struct {
		name string
		row  Row
		want map[ecs.Field]string // "" means must be missing
	}{
		{"connect ipv4", socketRow("connect", "300", "/tmp/x", "1700000000", "0000000007",
			"family=2", "remote_address=10.0.0.5", "remote_port=4444", "local_address=0", "local_port=0", "status=succeeded"),
			map[ecs.Field]string{ecs.EventCategory: "network", ecs.EventType: "start", ecs.EventAction: "connection_attempted",
				ecs.DestinationIP: "10.0.0.5", ecs.DestinationPort: "4444", ecs.NetworkType: "ipv4", ecs.NetworkDirection: "egress",
				ecs.EventOutcome: "success", ecs.SourceIP: "", ecs.SourcePort: "", ecs.OsquerySyscall: "connect",
				ecs.EventDataset: "osquery.socket_events", ecs.EventID: host + ":socket_events:0000000007:69d3dc174d0ac6bf",
				ecs.ProcessExecutable: "/tmp/x", ecs.ProcessName: "x", ecs.ProcessPid: "300", ecs.AuditUserID: "1000"}},
		{"accept ipv6 full form", socketRow("accept", "301", "/usr/sbin/sshd", "1700000000", "0000000008",
			"family=10", "remote_address=2001:0db8:0000:0000:0000:0000:0000:0001", "remote_port=51000", "local_address=0", "local_port=0", "status=succeeded"),
			map[ecs.Field]string{ecs.EventAction: "connection_accepted", ecs.DestinationIP: "2001:db8::1", ecs.NetworkType: "ipv6",
				ecs.NetworkDirection: "ingress", ecs.DestinationPort: "51000"}},
		{"ipv4-mapped loopback", socketRow("connect", "302", "/usr/bin/curl", "1700000000", "0000000009",
			"family=10", "remote_address=0000:0000:0000:0000:0000:ffff:7f00:0001", "remote_port=80"),
			map[ecs.Field]string{ecs.DestinationIP: "127.0.0.1", ecs.NetworkType: "ipv6"}},
		{"bind", socketRow("bind", "303", "/usr/bin/nc", "1700000000", "0000000010",
			"family=2", "local_address=0.0.0.0", "local_port=8080", "remote_address=0", "remote_port=0", "status=succeeded"),
			map[ecs.Field]string{ecs.EventAction: "bind", ecs.EventType: "info", ecs.SourceIP: "0.0.0.0", ecs.SourcePort: "8080",
				ecs.DestinationIP: "", ecs.DestinationPort: "", ecs.NetworkDirection: ""}},
		{"missing remote", socketRow("connect", "304", "/usr/bin/x", "1700000000", "0000000011", "family=2", "status=in_progress"),
			map[ecs.Field]string{ecs.DestinationIP: "", ecs.DestinationPort: "", ecs.NetworkType: "ipv4", ecs.EventOutcome: "unknown"}},
		{"unix socket", socketRow("connect", "305", "/usr/bin/x", "1700000000", "0000000012", "family=1", "socket=/run/dbus/system_bus_socket", "status=failed"),
			map[ecs.Field]string{ecs.DestinationIP: "", ecs.NetworkType: "", ecs.OsquerySocketPath: "/run/dbus/system_bus_socket", ecs.EventOutcome: "failure"}},
		{"old ipv6 family 11", socketRow("connect", "306", "/usr/bin/x", "1700000000", "0000000013", "family=11", "remote_address=fe80::1", "success=1"),
			map[ecs.Field]string{ecs.NetworkType: "ipv6", ecs.DestinationIP: "fe80::1", ecs.EventOutcome: "success"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := New(Options{})
			ev := mustNormalize(t, n, tc.row)
			for f, w := range tc.want {
				if w == "" {
					if v := ev.Get(f); v.Kind != ecs.Missing {
						t.Errorf("%s = %q, want missing", f.Name(), str(ev, f))
					}
					continue
				}
				if got := str(ev, f); got != w {
					t.Errorf("%s = %q, want %q", f.Name(), got, w)
				}
			}
		})
	}
}

func TestSocketUsesCachedProcess(t *testing.T) {
	n := New(Options{})
	seedBash(t, n)
	ex := mustNormalize(t, n, execRow("300", "100", "/tmp/x", "/tmp/x -c", "1700000000", "0000000001"))
	s := mustNormalize(t, n, socketRow("connect", "300", "/tmp/x", "1700000000", "0000000001", "family=2", "remote_address=1.2.3.4", "remote_port=443"))
	for f, w := range map[ecs.Field]string{
		ecs.ProcessEntityID: str(ex, ecs.ProcessEntityID), ecs.ParentEntityID: str(ex, ecs.ParentEntityID),
		ecs.ParentName: "bash", ecs.ParentPid: "100", ecs.ProcessCommandLine: "/tmp/x -c",
	} {
		if got := str(s, f); got != w {
			t.Errorf("%s = %q, want %q", f.Name(), got, w)
		}
	}
	// A socket of a pid never seen creates the process.
	before := n.Stats().CacheSize
	u := mustNormalize(t, n, socketRow("connect", "777", "/usr/bin/wget", "1700000001", "0000000002", "family=2", "remote_address=1.2.3.4"))
	if n.Stats().CacheSize != before+1 || str(u, ecs.ProcessEntityID) == "" {
		t.Errorf("unknown pid: cache size %d (was %d), entity %q", n.Stats().CacheSize, before, str(u, ecs.ProcessEntityID))
	}
	again := mustNormalize(t, n, socketRow("connect", "777", "/usr/bin/wget", "1700000002", "0000000003", "family=2", "remote_address=1.2.3.4"))
	if str(again, ecs.ProcessEntityID) != str(u, ecs.ProcessEntityID) {
		t.Errorf("second socket of the same pid changed entity id")
	}
}

func TestSeededParentFields(t *testing.T) {
	n := New(Options{})
	seedBash(t, n)
	ev := mustNormalize(t, n, execRow("400", "101", "/usr/bin/id", "id", "1700000000", "0000000001"))
	for f, w := range map[ecs.Field]string{
		ecs.ParentPid: "101", ecs.ParentName: "zsh", ecs.ParentExecutable: "/usr/bin/zsh", ecs.ParentCommandLine: "zsh -l",
		ecs.ParentArgsCount: "2", ecs.ParentWorkingDirectory: "/root", ecs.ParentUserID: "0", ecs.ParentGroupID: "0",
	} {
		if got := str(ev, f); got != w {
			t.Errorf("%s = %q, want %q", f.Name(), got, w)
		}
	}
	if got := strs(ev, ecs.ParentArgs); strings.Join(got, " ") != "zsh -l" {
		t.Errorf("parent.args = %q", got)
	}
	// The seeded process's own exec keeps the seeded entity id.
	var zshEntity string
	n.cache.each(func(p *proc) {
		if p.key.pid == 101 {
			zshEntity = hexID(p.entity)
		}
	})
	if got := str(ev, ecs.ParentEntityID); got != zshEntity {
		t.Errorf("parent.entity_id = %q, want %q", got, zshEntity)
	}
	z := mustNormalize(t, n, execRow("101", "1", "/usr/bin/zsh", "zsh", "1700000001", "0000000002"))
	if got := str(z, ecs.ProcessEntityID); got != zshEntity {
		t.Errorf("exec of a seeded process changed its entity id: %q, want %q", got, zshEntity)
	}
}

func TestSeedSkipsBadRows(t *testing.T) {
	n := New(Options{})
	loaded, err := n.Seed(host, []map[string]string{cols("pid=1", "path=/sbin/init"), cols("pid=abc"), cols("name=x")})
	if loaded != 1 || err == nil {
		t.Fatalf("Seed = %d, %v; want 1 and an error", loaded, err)
	}
	var re *RowError
	if !errors.As(err, &re) || re.Field != "pid" {
		t.Errorf("error %v should wrap the first bad row's RowError", err)
	}
	if _, err := n.Seed("", nil); err == nil {
		t.Errorf("Seed without a host must fail")
	}
}

func TestLRUBound(t *testing.T) {
	n := New(Options{MaxProcesses: 3})
	var ids []string
	for i, pid := range []string{"10", "11", "12", "13", "14"} {
		ev := mustNormalize(t, n, execRow(pid, "1", "/bin/true", "true", "1700000000", "000000000"+string(rune('0'+i))))
		ids = append(ids, str(ev, ecs.ProcessEntityID))
	}
	st := n.Stats()
	if st.CacheSize != 3 || st.CacheCapacity != 3 || st.CacheEvictions != 2 {
		t.Fatalf("cache size %d cap %d evictions %d, want 3 3 2", st.CacheSize, st.CacheCapacity, st.CacheEvictions)
	}
	// pid 10 was evicted: its next exec starts a new process.
	again := mustNormalize(t, n, execRow("10", "1", "/bin/true", "true", "1700000001", "0000000009"))
	if str(again, ecs.ProcessEntityID) == ids[0] {
		t.Errorf("evicted process kept its entity id")
	}
	// pid 14 is still cached.
	still := mustNormalize(t, n, execRow("14", "1", "/bin/false", "false", "1700000001", "0000000010"))
	if str(still, ecs.ProcessEntityID) != ids[4] {
		t.Errorf("cached process lost its entity id")
	}
	if n.Stats().CacheSize != 3 {
		t.Errorf("cache grew past its bound: %d", n.Stats().CacheSize)
	}
	if st := n.Stats(); st.CacheHits == 0 || st.CacheMisses == 0 {
		t.Errorf("hits %d misses %d: both should be counted", st.CacheHits, st.CacheMisses)
	}
}

func TestMaxOneProcess(t *testing.T) {
	n := New(Options{MaxProcesses: 1})
	mustNormalize(t, n, execRow("10", "1", "/bin/bash", "bash", "1700000000", "1"))
	ev := mustNormalize(t, n, Row{Table: TableProcessEvents, Host: host, Cols: cols("syscall=fork", "pid=11", "parent=10", "path=/bin/bash", "time=1700000000", "eid=2")})
	if str(ev, ecs.ParentName) != "bash" || str(ev, ecs.ProcessCommandLine) != "bash" {
		t.Errorf("fork with a one-entry cache lost the parent: parent.name %q cmdline %q", str(ev, ecs.ParentName), str(ev, ecs.ProcessCommandLine))
	}
}

func TestRejections(t *testing.T) {
	for _, tc := range []struct {
		name  string
		row   Row
		field string
		in    string // substring of the message
	}{
		{"unknown table", Row{Table: "users", Host: host, Cols: cols("pid=1", "time=1")}, "table", `table "users" is not a table`},
		{"no host", Row{Table: TableProcessEvents, Cols: cols("pid=1", "time=1", "path=/x")}, "host", "host is missing"},
		{"pid missing", Row{Table: TableProcessEvents, Host: host, Cols: cols("time=1", "path=/x")}, "pid", "pid is missing"},
		{"pid not a number", Row{Table: TableProcessEvents, Host: host, Cols: cols("pid=12a", "time=1", "path=/x")}, "pid", `pid "12a" is not a number`},
		{"pid negative", Row{Table: TableSocketEvents, Host: host, Cols: cols("pid=-5", "time=1", "action=connect")}, "pid", "is negative"},
		{"time missing", Row{Table: TableProcessEvents, Host: host, Cols: cols("pid=1", "path=/x")}, "time", "time is missing"},
		{"time not a number", Row{Table: TableSocketEvents, Host: host, Cols: cols("pid=1", "time=1.5", "action=connect")}, "time", "is not a number"},
		{"unknown syscall", Row{Table: TableProcessEvents, Host: host, Cols: cols("pid=1", "time=1", "syscall=59", "path=/x")}, "syscall", `syscall "59" is not a process syscall`},
		{"kill", Row{Table: TableProcessEvents, Host: host, Cols: cols("pid=1", "time=1", "syscall=tgkill")}, "syscall", "kill syscall"},
		{"exec without path", Row{Table: TableProcessEvents, Host: host, Cols: cols("pid=1", "time=1", "syscall=execve", "cmdline=ls")}, "path", "path is missing"},
		{"parent not a number", Row{Table: TableProcessEvents, Host: host, Cols: cols("pid=1", "time=1", "syscall=execve", "path=/x", "parent=p")}, "parent", "is not a number"},
		{"unknown action", Row{Table: TableSocketEvents, Host: host, Cols: cols("pid=1", "time=1", "action=sendto")}, "action", `action "sendto" is not a socket action`},
		{"missing action", Row{Table: TableSocketEvents, Host: host, Cols: cols("pid=1", "time=1")}, "action", "action is missing"},
		{"bpf socket without syscall", Row{Table: TableBPFSocketEvents, Host: host, Cols: cols("pid=1", "time=1")}, "syscall", "syscall is missing"},
		{"processes row without pid", Row{Table: TableProcesses, Host: host, Cols: cols("name=x")}, "pid", "pid is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := New(Options{})
			ev := &ecs.Event{}
			err := n.Normalize(tc.row, ev)
			var re *RowError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a *RowError", err)
			}
			if re.Field != tc.field {
				t.Errorf("Field = %q, want %q", re.Field, tc.field)
			}
			if !strings.Contains(err.Error(), tc.in) {
				t.Errorf("message %q does not contain %q", err.Error(), tc.in)
			}
			if ev.Len() != 0 {
				t.Errorf("a rejected row left %d fields in the event", ev.Len())
			}
			st := n.Stats()
			if st.Rejected != 1 || st.RejectedBy[re.Field+" "+re.Reason] != 1 || st.LastReject != err.Error() || st.Events != 0 {
				t.Errorf("stats %+v do not count the rejection", st)
			}
		})
	}
}

func TestProcessesRowIsStateOnly(t *testing.T) {
	n := New(Options{})
	ev := &ecs.Event{}
	err := n.Normalize(Row{Table: TableProcesses, Host: host, Cols: cols("pid=100", "parent=1", "path=/usr/bin/bash", "cmdline=bash")}, ev)
	if !errors.Is(err, ErrStateOnly) {
		t.Fatalf("err = %v, want ErrStateOnly", err)
	}
	st := n.Stats()
	if st.StateOnly != 1 || st.Rejected != 0 || st.CacheSize != 1 {
		t.Errorf("stats %+v", st)
	}
	child := mustNormalize(t, n, execRow("200", "100", "/bin/ls", "ls", "1700000000", "1"))
	if str(child, ecs.ParentName) != "bash" {
		t.Errorf("processes row did not seed the cache")
	}
}

func TestEventIDWithoutEID(t *testing.T) {
	n := New(Options{})
	r := socketRow("connect", "1", "/x", "1700000000", "", "remote_address=1.1.1.1")
	delete(r.Cols, "eid")
	a := str(mustNormalize(t, n, r), ecs.EventID)
	b := str(mustNormalize(t, New(Options{}), r), ecs.EventID)
	r.Cols["remote_port"] = "53"
	c := str(mustNormalize(t, n, r), ecs.EventID)
	if a == "" || a != b || a == c || len(a) != 32 {
		t.Errorf("hash ids: %q %q %q; want equal for equal rows, different otherwise, 32 hex digits", a, b, c)
	}
}

func TestBPFRows(t *testing.T) {
	n := New(Options{})
	seedBash(t, n)
	ex := mustNormalize(t, n, Row{Table: TableBPFProcessEvents, Host: host, Cols: cols(
		"syscall=exec", "pid=300", "tid=300", "parent=100", "uid=1000", "gid=1000", "path=/tmp/x", "cwd=/tmp",
		"cmdline=/tmp/x -v", "exit_code=0", "time=1700000000", "eid=12")})
	if str(ex, ecs.EventAction) != "exec" || str(ex, ecs.ParentName) != "bash" || str(ex, ecs.ProcessUserID) != "1000" ||
		str(ex, ecs.EventDataset) != "osquery.bpf_process_events" {
		t.Errorf("bpf exec mapped wrong: action %q parent %q user %q", str(ex, ecs.EventAction), str(ex, ecs.ParentName), str(ex, ecs.ProcessUserID))
	}
	so := mustNormalize(t, n, Row{Table: TableBPFSocketEvents, Host: host, Cols: cols(
		"syscall=connect", "pid=300", "parent=100", "uid=1000", "gid=1000", "path=/tmp/x", "family=2", "protocol=6",
		"remote_address=8.8.8.8", "remote_port=53", "local_address=10.0.0.2", "local_port=40000", "exit_code=-115",
		"time=1700000000", "eid=13")})
	for f, w := range map[ecs.Field]string{
		ecs.EventAction: "connection_attempted", ecs.NetworkTransport: "tcp", ecs.EventOutcome: "unknown",
		ecs.ProcessEntityID: str(ex, ecs.ProcessEntityID), ecs.SourceIP: "10.0.0.2", ecs.SourcePort: "40000",
	} {
		if got := str(so, f); got != w {
			t.Errorf("bpf socket %s = %q, want %q", f.Name(), got, w)
		}
	}
}

func TestSnapshotRestore(t *testing.T) {
	n := New(Options{MaxProcesses: 10})
	seedBash(t, n)
	ex := mustNormalize(t, n, execRow("300", "100", "/tmp/x", "/tmp/x a", "1700000000", "1"))
	data, err := n.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	m := New(Options{MaxProcesses: 10})
	if err := m.Restore(data); err != nil {
		t.Fatal(err)
	}
	if m.Stats().CacheSize != n.Stats().CacheSize {
		t.Fatalf("restored %d entries, want %d", m.Stats().CacheSize, n.Stats().CacheSize)
	}
	sh := mustNormalize(t, m, execRow("300", "100", "/bin/sh", "sh", "1700000001", "2"))
	if str(sh, ecs.ProcessEntityID) != str(ex, ecs.ProcessEntityID) || str(sh, ecs.ProcessPreviousExe) != "/tmp/x" ||
		str(sh, ecs.ParentCommandLine) != "-bash" {
		t.Errorf("restored cache lost state: entity %q previous %q parent cmdline %q",
			str(sh, ecs.ProcessEntityID), str(sh, ecs.ProcessPreviousExe), str(sh, ecs.ParentCommandLine))
	}
	// LRU order survives: the restored snapshot's newest entry is pid 300.
	again, _ := m.Snapshot()
	if len(again) == 0 {
		t.Fatal("empty snapshot")
	}
	for _, bad := range []string{"", "{", `{"v":2,"procs":[]}`, `{"v":1,"procs":[{"h":"","p":1,"e":"x"}]}`} {
		if err := m.Restore([]byte(bad)); err == nil {
			t.Errorf("Restore(%q) succeeded", bad)
		}
	}
	if m.Stats().CacheSize == 0 {
		t.Errorf("a failed Restore emptied the cache")
	}
	// Restoring into a smaller cache keeps the most recent entries.
	small := New(Options{MaxProcesses: 1})
	if err := small.Restore(data); err != nil {
		t.Fatal(err)
	}
	var full snapshot
	if err := json.Unmarshal(data, &full); err != nil {
		t.Fatal(err)
	}
	newest := full.Processes[len(full.Processes)-1]
	if small.Stats().CacheSize != 1 || small.cache.peek(newest.Host, newest.Pid) == nil {
		t.Errorf("smaller restore did not keep the most recent process (pid %d)", newest.Pid)
	}
}

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		in string
		v  int64
		ok bool
	}{
		{"0", 0, true}, {"42", 42, true}, {"-1", -1, true}, {"0000000042", 42, true},
		{"", 0, false}, {"-", 0, false}, {"1.5", 0, false}, {" 1", 0, false}, {"99999999999999999999", 0, false},
		{"000000000000000000000000007", 7, true},
	} {
		v, ok := parseInt(tc.in)
		if v != tc.v || ok != tc.ok {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tc.in, v, ok, tc.v, tc.ok)
		}
	}
}

func TestEvictedParentSlotIsNotMistaken(t *testing.T) {
	n := New(Options{MaxProcesses: 2})
	mustNormalize(t, n, execRow("100", "1", "/usr/bin/bash", "bash", "1700000000", "1"))
	child := mustNormalize(t, n, execRow("300", "100", "/usr/bin/sleep", "sleep 9", "1700000000", "2"))
	if str(child, ecs.ParentName) != "bash" {
		t.Fatalf("parent.name = %q, want bash", str(child, ecs.ParentName))
	}
	// Every event of 300 also touches its parent; touch 300 alone so that
	// 100 is the least recently used, then a new process evicts 100 and
	// takes its slot.
	n.cache.get(host, 300)
	mustNormalize(t, n, execRow("500", "1", "/usr/bin/python3", "python3", "1700000001", "4"))
	again := mustNormalize(t, n, socketRow("connect", "300", "/usr/bin/sleep", "1700000002", "5"))
	if got := str(again, ecs.ParentName); got != "" {
		t.Errorf("parent.name = %q after the parent was evicted and its slot reused, want none", got)
	}
	if str(again, ecs.ParentPid) != "100" || str(again, ecs.ParentEntityID) != str(child, ecs.ParentEntityID) {
		t.Errorf("parent pid %q entity %q should remain what the child recorded", str(again, ecs.ParentPid), str(again, ecs.ParentEntityID))
	}
}

// osquery's eid restarts near 1 when its database is wiped, so the same eid
// names different events before and after; re-reading one buffered row must
// still give one id (alert ids and the store's de-duplication rest on it).
func TestEventIDSurvivesEIDReset(t *testing.T) {
	base := socketRow("connect", "4242", "/tmp/x", "1700000000", "0000000007", "remote_address=203.0.113.9", "remote_port=4444")
	id := func(r Row) string { return str(mustNormalize(t, New(Options{}), r), ecs.EventID) }
	with := func(col, v string) Row {
		c := maps.Clone(base.Cols)
		c[col] = v
		return Row{Table: base.Table, Host: base.Host, Cols: c}
	}
	first := id(base)
	for _, tt := range []struct {
		name string
		row  Row
		same bool
	}{
		{"the same row read again", with("eid", "0000000007"), true},
		{"a column outside the identity (a wider query)", with("uptime_unrelated", "1"), true},
		{"same eid, later second (after a restart)", with("time", "1700000900"), false},
		{"same eid, another pid", with("pid", "4243"), false},
		{"same eid, other content", with("remote_port", "4445"), false},
		{"same content, another eid", with("eid", "0000000008"), false},
		{"same eid, other host", Row{Table: base.Table, Host: "other", Cols: base.Cols}, false},
	} {
		got := id(tt.row)
		if (got == first) != tt.same {
			t.Errorf("%s: id %q vs %q, want same=%v", tt.name, got, first, tt.same)
		}
	}
}
