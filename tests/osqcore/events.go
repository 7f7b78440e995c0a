package osqcore

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// eventTable is the buffer of one audit event subscriber: rows ordered by
// the second they were added, each with the subscriber's own eid.
type eventTable struct {
	name     string
	columns  []Column
	colIndex map[string]int
	timeCol  int
	lastEID  uint64
	total    uint64 // events added since start (osquery_events.events)
	batches  uint64
	rows     []eventRow // sorted by time, then eid
}

type eventRow struct {
	time int64
	vals []any
}

func newEventTable(name string, cols []Column) *eventTable {
	t := &eventTable{name: name, columns: cols, colIndex: map[string]int{}}
	for i, c := range cols {
		t.colIndex[c.Name] = i
	}
	t.timeCol = t.colIndex["time"]
	return t
}

// checkRow validates an injected row: known columns, numbers where the
// schema says so.
// i is the row's index in its batch, or -1 for a single row.
func checkRow(table string, cols []Column, index map[string]int, i int, row map[string]string) error {
	where := table
	if i >= 0 {
		where = fmt.Sprintf("%s row %d", table, i+1)
	}
	for k, v := range row {
		ci, ok := index[k]
		if !ok {
			return fmt.Errorf("%s: no such column %q", where, k)
		}
		if v != "" && cols[ci].isNumeric() && typedValue(cols[ci], v) == nil {
			return fmt.Errorf("%s: column %s wants an integer, got %q", where, k, v)
		}
	}
	return nil
}

// add appends one batch. batchTime is the second the core processed it;
// rows may carry their own "time". uptime is the system uptime at batchTime.
func (t *eventTable) add(rows []map[string]string, batchTime, uptime int64) []map[string]string {
	t.batches++
	out := make([]map[string]string, 0, len(rows))
	for _, in := range rows {
		r := make(map[string]string, len(t.columns))
		fillEventDefaults(t.name, r, in)
		for k, v := range in {
			r[k] = v
		}
		if _, ok := in["time"]; !ok {
			r["time"] = strconv.FormatInt(batchTime, 10)
		}
		if _, ok := in["uptime"]; !ok {
			r["uptime"] = strconv.FormatInt(uptime, 10)
		}
		t.lastEID++
		t.total++
		r["eid"] = fmt.Sprintf("%010d", t.lastEID)
		ev := eventRow{vals: make([]any, len(t.columns))}
		for i, c := range t.columns {
			if v, ok := r[c.Name]; ok {
				ev.vals[i] = typedValue(c, v)
			}
		}
		ev.time, _ = ev.vals[t.timeCol].(int64)
		t.insert(ev)
		out = append(out, r)
	}
	return out
}

func (t *eventTable) insert(ev eventRow) {
	n := len(t.rows)
	if n == 0 || t.rows[n-1].time <= ev.time {
		t.rows = append(t.rows, ev)
		return
	}
	i := sort.Search(n, func(i int) bool { return t.rows[i].time > ev.time })
	t.rows = append(t.rows, eventRow{})
	copy(t.rows[i+1:], t.rows[i:])
	t.rows[i] = ev
}

// expire drops events older than now-expiry, always keeping the newest
// second, and trims to at most maxBatches distinct seconds (events_max).
func (t *eventTable) expire(now int64, expiry, maxBatches uint64) {
	if len(t.rows) == 0 {
		return
	}
	newest := t.rows[len(t.rows)-1].time
	cutoff := now - int64(expiry)
	if newest < cutoff {
		cutoff = newest
	}
	drop := sort.Search(len(t.rows), func(i int) bool { return t.rows[i].time >= cutoff })
	if maxBatches > 0 {
		seconds := uint64(0)
		for i := len(t.rows) - 1; i >= drop; i-- {
			if i == len(t.rows)-1 || t.rows[i].time != t.rows[i+1].time {
				seconds++
				if seconds > maxBatches {
					drop = i + 1
					break
				}
			}
		}
	}
	if drop > 0 {
		t.rows = append([]eventRow(nil), t.rows[drop:]...)
	}
}

// selectRows narrows the scan by time the way osquery's subscriber lookup
// does: '=', '>' and '>=' bound the range; '<' and '<=' are left to SQLite.
func (t *eventTable) selectRows(qc *QueryContext) typedRows {
	start, stop := int64(0), int64(0)
	for _, c := range qc.Constraints["time"] {
		v, err := strconv.ParseInt(strings.TrimSpace(c.Expr), 10, 64)
		if err != nil {
			continue
		}
		switch c.Op {
		case OpEquals:
			start, stop = v, v
		case OpGreaterThan:
			start = max(start, v+1)
		case OpGreaterThanOrEqual:
			start = max(start, v)
		}
	}
	lo := sort.Search(len(t.rows), func(i int) bool { return t.rows[i].time >= start })
	out := make(typedRows, 0, len(t.rows)-lo)
	for _, r := range t.rows[lo:] {
		if stop != 0 && r.time > stop {
			break
		}
		out = append(out, r.vals)
	}
	return out
}

func fillEventDefaults(table string, r, in map[string]string) {
	switch table {
	case "process_events":
		r["syscall"] = "execve"
		r["cmdline_size"] = strconv.Itoa(len(in["cmdline"]))
		r["env"] = ""
		r["env_count"] = "0"
		r["env_size"] = "0"
		r["btime"] = "0"
		r["overflows"] = ""
		r["mode"] = ""
	case "socket_events":
		r["protocol"] = ""
		r["socket"] = ""
		r["status"] = "succeeded"
		switch in["action"] {
		case "connect", "accept":
			r["local_address"] = ""
			r["local_port"] = "0"
		case "bind":
			r["remote_address"] = ""
			r["remote_port"] = "0"
		}
		status := in["status"]
		if status == "" {
			status = "succeeded"
		}
		if status == "succeeded" {
			r["success"] = "1"
		} else {
			r["success"] = "0"
		}
	}
}

// processTable is the simulated kernel process table behind `processes`.
type processTable struct {
	byPID map[int64]map[string]string
}

var processColIndex = func() map[string]int {
	m := map[string]int{}
	for i, c := range processesColumns {
		m[c.Name] = i
	}
	return m
}()

func processDefaults(pid string) map[string]string {
	return map[string]string{
		"pid": pid, "state": "S", "root": "/", "on_disk": "1", "threads": "1", "nice": "0",
		"wired_size": "0", "resident_size": "0", "total_size": "0", "user_time": "0",
		"system_time": "0", "disk_bytes_read": "0", "disk_bytes_written": "0",
		"pgroup": pid, "cgroup_path": "", "start_time": "-1", "parent": "-1",
	}
}

// set upserts a process row; name defaults to the basename of path.
func (p *processTable) set(row map[string]string) error {
	pidText := strings.TrimSpace(row["pid"])
	pid, err := strconv.ParseInt(pidText, 10, 64)
	if err != nil {
		return fmt.Errorf("processes: pid %q is not an integer", row["pid"])
	}
	if err := checkRow("processes", processesColumns, processColIndex, -1, row); err != nil {
		return err
	}
	cur, ok := p.byPID[pid]
	if !ok {
		cur = processDefaults(pidText)
	}
	for k, v := range row {
		cur[k] = v
	}
	if _, ok := row["name"]; !ok && row["path"] != "" {
		cur["name"] = path.Base(row["path"])
	}
	p.byPID[pid] = cur
	return nil
}

// observe updates the process table from one process_events row, as the
// kernel's table would look after the syscall.
func (p *processTable) observe(ev map[string]string) {
	pid, err := strconv.ParseInt(ev["pid"], 10, 64)
	if err != nil {
		return
	}
	switch ev["syscall"] {
	case "execve", "execveat", "":
		row := map[string]string{"pid": ev["pid"], "start_time": ev["time"]}
		if old, ok := p.byPID[pid]; ok {
			row["start_time"] = old["start_time"]
		}
		for _, k := range []string{"path", "cmdline", "cwd", "uid", "gid", "euid", "egid", "suid", "sgid", "parent"} {
			if v, ok := ev[k]; ok {
				row[k] = v
			}
		}
		row["name"] = path.Base(ev["path"])
		_ = p.set(row)
	case "fork", "vfork", "clone":
		row := map[string]string{"pid": ev["pid"], "start_time": ev["time"], "parent": ev["parent"]}
		if ppid, err := strconv.ParseInt(ev["parent"], 10, 64); err == nil {
			if parent, ok := p.byPID[ppid]; ok {
				for _, k := range []string{"path", "name", "cmdline", "cwd", "uid", "gid", "euid", "egid", "suid", "sgid"} {
					row[k] = parent[k]
				}
			}
		}
		_ = p.set(row)
	}
}

func (p *processTable) rows() typedRows {
	pids := make([]int64, 0, len(p.byPID))
	for pid := range p.byPID {
		pids = append(pids, pid)
	}
	sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })
	out := make(typedRows, 0, len(pids))
	for _, pid := range pids {
		r := p.byPID[pid]
		vals := make([]any, len(processesColumns))
		for i, c := range processesColumns {
			if v, ok := r[c.Name]; ok {
				vals[i] = typedValue(c, v)
			}
		}
		out = append(out, vals)
	}
	return out
}
