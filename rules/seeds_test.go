package rules_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/detect/normalize"
	"github.com/osqdetect/osqdetect/rules"
)

const (
	symlinkRule = "d19a2399-f8e2-4b10-80d8-a561ce9d24d1"
	revShell    = "fa3a59dc-33c3-43bf-80a9-e8437a922c7f"
	hostA       = "host-a"
	hostB       = "host-b"
	t0          = int64(1763800000)
	day         = int64(86400)
)

// rowsBuilder makes osquery rows with per-host, per-table eid counters.
type rowsBuilder struct {
	eids map[string]int
	rows []normalize.Row
}

func (b *rowsBuilder) add(host, table string, t int64, cols map[string]string) *rowsBuilder {
	if b.eids == nil {
		b.eids = map[string]int{}
	}
	b.eids[host+table]++
	cols["time"] = strconv.FormatInt(t, 10)
	cols["eid"] = fmt.Sprintf("%010d", b.eids[host+table])
	b.rows = append(b.rows, normalize.Row{Table: table, Host: host, Cols: cols, Seq: uint64(len(b.rows) + 1)})
	return b
}

func (b *rowsBuilder) exec(host string, t int64, pid, ppid int, path, cmdline string) *rowsBuilder {
	return b.add(host, "process_events", t, map[string]string{
		"pid": strconv.Itoa(pid), "parent": strconv.Itoa(ppid), "path": path, "cmdline": cmdline,
		"cwd": "/home/u", "uid": "1000", "euid": "1000", "gid": "1000", "egid": "1000", "auid": "1000",
		"syscall": "execve",
	})
}

func (b *rowsBuilder) sock(host string, t int64, pid int, path, action, ip, port string) *rowsBuilder {
	return b.add(host, "socket_events", t, map[string]string{
		"pid": strconv.Itoa(pid), "path": path, "action": action, "family": "2",
		"remote_address": ip, "remote_port": port, "local_address": "", "local_port": "0",
		"status": "succeeded", "auid": "1000", "fd": "3",
	})
}

// shells are seeded as pid 100 (bash), and pid 200 (python3) on both hosts.
func newSensor(t *testing.T) *detect.Sensor {
	t.Helper()
	set, err := rules.Load(nil, rules.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Rules) != 2 {
		t.Fatalf("want the 2 bundled rules, got %d", len(set.Rules))
	}
	s := detect.NewSensor(set.Rules, detect.SensorOptions{})
	for _, h := range []string{hostA, hostB} {
		if n, err := s.Seed(h, []map[string]string{
			{"pid": "100", "parent": "1", "name": "bash", "path": "/usr/bin/bash", "cmdline": "-bash", "start_time": "1763700000", "uid": "1000", "gid": "1000", "euid": "1000", "egid": "1000", "cwd": "/home/u"},
			{"pid": "200", "parent": "1", "name": "python3", "path": "/usr/bin/python3", "cmdline": "python3 app.py", "start_time": "1763700000", "uid": "33", "gid": "33", "euid": "33", "egid": "33", "cwd": "/srv"},
		}); n != 2 || err != nil {
			t.Fatalf("seeding: %d loaded: %v", n, err)
		}
	}
	return s
}

func run(t *testing.T, s *detect.Sensor, rows []normalize.Row) map[string]int {
	t.Helper()
	got := map[string]int{}
	errs := s.Ingest(rows, func(a *detect.Alert) { got[a.RuleID]++ })
	for _, err := range errs {
		t.Errorf("row rejected: %v", err)
	}
	return got
}

func TestSymlinkRule(t *testing.T) {
	ln := func(args string) []normalize.Row {
		return new(rowsBuilder).exec(hostA, t0, 300, 100, "/usr/bin/ln", "ln "+args).rows
	}
	tests := []struct {
		name string
		rows []normalize.Row
		want int
	}{
		{"ln -s system binary to /tmp", ln("-s /bin/bash /tmp/x"), 1},
		{"to /var/tmp", ln("-s /usr/bin/python3 /var/tmp/py"), 1},
		{"to /dev/shm", ln("-s /usr/bin/python3 /dev/shm/py"), 1},
		{"to /home", ln("-s /usr/sbin/sshd /home/u/sshd"), 1},
		{"to /root", ln("-s /sbin/init /root/init"), 1},
		{"to a dot directory under a top-level dir", ln("-s /usr/bin/id /opt/.hidden"), 1},
		{"to a non-writable location", ln("-s /usr/bin/python3 /usr/local/share/py"), 0},
		{"from /lib", ln("-s /lib/x.so /tmp/x.so"), 1},
		{"from /lib64", ln("-s /lib64/ld.so /tmp/ld.so"), 1},
		{"from /usr/lib", ln("-s /usr/lib/x /tmp/x"), 1},
		{"from /usr/lib64", ln("-s /usr/lib64/x /tmp/x"), 1},
		{"from /usr/local/bin", ln("-s /usr/local/bin/x /tmp/x"), 1},
		{"from /usr/local/lib", ln("-s /usr/local/lib/x /tmp/x"), 1},
		{"from /usr/local/lib64", ln("-s /usr/local/lib64/x /tmp/x"), 1},
		{"from /usr/local/sbin", ln("-s /usr/local/sbin/x /tmp/x"), 1},
		{"from /usr/sbin", ln("-s /usr/sbin/x /tmp/x"), 1},
		{"from a non-system location", ln("-s /opt/app/bin/x /tmp/x"), 0},
		{"excluded /usr/bin/coreutils", ln("-s /usr/bin/coreutils /tmp/x"), 0},
		{"excluded /tmp/mkinitcpio*", ln("-s /usr/bin/x /tmp/mkinitcpio.abc"), 0},
		{"excluded /var/tmp/dracut*", ln("-s /usr/bin/x /var/tmp/dracut.abc"), 0},
		{"excluded /var/tmp/mkinitramfs*", ln("-s /usr/bin/x /var/tmp/mkinitramfs_x"), 0},
		{"relative system path", ln("-s bash /tmp/x"), 0},
		{"relative target", ln("-s /bin/bash x"), 0},
		{"busybox ln", new(rowsBuilder).exec(hostA, t0, 300, 100, "/usr/bin/busybox", "busybox ln -s /bin/sh /tmp/sh").rows, 1},
		{"busybox without ln", new(rowsBuilder).exec(hostA, t0, 300, 100, "/usr/bin/busybox", "busybox cp /bin/sh /tmp/sh").rows, 0},
		{"cp --symbolic-link", new(rowsBuilder).exec(hostA, t0, 300, 100, "/usr/bin/cp", "cp --symbolic-link /bin/bash /tmp/b").rows, 1},
		{"cp without --symbolic-link", new(rowsBuilder).exec(hostA, t0, 300, 100, "/usr/bin/cp", "cp /bin/bash /tmp/b").rows, 0},
		{"another program", new(rowsBuilder).exec(hostA, t0, 300, 100, "/usr/bin/lnx", "lnx -s /bin/bash /tmp/x").rows, 0},
		{"name is case-sensitive", new(rowsBuilder).exec(hostA, t0, 300, 100, "/usr/bin/LN", "LN -s /bin/bash /tmp/x").rows, 0},
		{"unknown parent has no executable", new(rowsBuilder).exec(hostA, t0, 300, 999, "/usr/bin/ln", "ln -s /bin/bash /tmp/x").rows, 0},
		{"same parent twice alerts once",
			new(rowsBuilder).exec(hostA, t0, 300, 100, "/usr/bin/ln", "ln -s /bin/bash /tmp/x").
				exec(hostA, t0+60, 301, 100, "/usr/bin/ln", "ln -s /bin/sh /tmp/y").rows, 1},
		{"same parent on another host is new",
			new(rowsBuilder).exec(hostA, t0, 300, 100, "/usr/bin/ln", "ln -s /bin/bash /tmp/x").
				exec(hostB, t0+60, 300, 100, "/usr/bin/ln", "ln -s /bin/bash /tmp/x").rows, 2},
		{"another parent on the same host is new",
			new(rowsBuilder).exec(hostA, t0, 300, 100, "/usr/bin/ln", "ln -s /bin/bash /tmp/x").
				exec(hostA, t0+60, 301, 200, "/usr/bin/ln", "ln -s /bin/bash /tmp/x").rows, 2},
		{"seen again within the 10 day history",
			new(rowsBuilder).exec(hostA, t0, 300, 100, "/usr/bin/ln", "ln -s /bin/bash /tmp/x").
				exec(hostA, t0+9*day, 301, 100, "/usr/bin/ln", "ln -s /bin/bash /tmp/x").rows, 1},
		{"new again after the history window expired",
			new(rowsBuilder).exec(hostA, t0, 300, 100, "/usr/bin/ln", "ln -s /bin/bash /tmp/x").
				exec(hostA, t0+10*day+1, 301, 100, "/usr/bin/ln", "ln -s /bin/bash /tmp/x").rows, 2},
		{"non-matching events do not build history",
			new(rowsBuilder).exec(hostA, t0, 300, 100, "/usr/bin/ln", "ln -s /opt/x /opt/y").
				exec(hostA, t0+60, 301, 100, "/usr/bin/ln", "ln -s /bin/bash /tmp/x").rows, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, newSensor(t), tt.rows)
			if got[symlinkRule] != tt.want {
				t.Errorf("symlink alerts = %d, want %d", got[symlinkRule], tt.want)
			}
			if got[revShell] != 0 {
				t.Errorf("unexpected reverse shell alert")
			}
		})
	}
}

// revshell builds the three events of the reverse shell with overrides.
type revshell struct {
	host               string
	exe, parentShell   string
	connectHost        string
	connectPid         int
	action, ip         string
	connectAt, shellAt int64
	shell              string
	order              []int // which events, in which order (0 exec, 1 connect, 2 shell)
}

func (r revshell) rows() []normalize.Row {
	if r.host == "" {
		r.host = hostA
	}
	if r.exe == "" {
		r.exe = "/tmp/x"
	}
	if r.connectHost == "" {
		r.connectHost = r.host
	}
	if r.connectPid == 0 {
		r.connectPid = 500
	}
	if r.action == "" {
		r.action = "connect"
	}
	switch r.ip {
	case "":
		r.ip = "203.0.113.9"
	case "none":
		r.ip = ""
	}
	if r.shell == "" {
		r.shell = "/bin/sh"
	}
	if r.order == nil {
		r.order = []int{0, 1, 2}
	}
	parent := 100
	if r.parentShell == "python3" {
		parent = 200
	}
	b := new(rowsBuilder)
	for _, step := range r.order {
		switch step {
		case 0:
			b.exec(r.host, t0, 500, parent, r.exe, r.exe+" -c 203.0.113.9")
		case 1:
			b.sock(r.connectHost, t0+r.connectAt, r.connectPid, r.exe, r.action, r.ip, "4444")
		case 2:
			b.exec(r.host, t0+r.shellAt, 500, parent, r.shell, r.shell+" -i")
		}
	}
	return b.rows
}

func TestReverseShellRule(t *testing.T) {
	tests := []struct {
		name string
		r    revshell
		want int
	}{
		{"all three events in one second", revshell{}, 1},
		{"binary in /var/tmp", revshell{exe: "/var/tmp/x"}, 1},
		{"binary in /var/www", revshell{exe: "/var/www/html/x"}, 1},
		{"binary in /dev/shm", revshell{exe: "/dev/shm/x"}, 1},
		{"binary in /etc/init.d", revshell{exe: "/etc/init.d/x"}, 1},
		{"binary in /etc/rc3.d", revshell{exe: "/etc/rc3.d/S01x"}, 1},
		{"binary /etc/crontab", revshell{exe: "/etc/crontab"}, 1},
		{"binary in /etc/cron.daily", revshell{exe: "/etc/cron.daily"}, 1},
		{"binary in /etc/update-motd.d", revshell{exe: "/etc/update-motd.d/x"}, 1},
		{"binary in /usr/lib/update-notifier", revshell{exe: "/usr/lib/update-notifier/x"}, 1},
		{"binary in /boot", revshell{exe: "/boot/x"}, 1},
		{"binary in /srv", revshell{exe: "/srv/x"}, 1},
		{"binary in /run", revshell{exe: "/run/x"}, 1},
		{"binary in /root", revshell{exe: "/root/x"}, 1},
		{"binary /etc/rc.local", revshell{exe: "/etc/rc.local"}, 1},
		{"relative binary ./x", revshell{exe: "./x"}, 1},
		{"upper case path matches case-insensitively", revshell{exe: "/TMP/x"}, 1},
		{"binary in /usr/bin", revshell{exe: "/usr/bin/nc"}, 0},
		{"parent python3 is not a shell", revshell{parentShell: "python3"}, 0},
		{"excluded curl", revshell{exe: "/tmp/curl"}, 0},
		{"excluded wget", revshell{exe: "/tmp/wget"}, 0},
		{"excluded ping", revshell{exe: "/tmp/ping"}, 0},
		{"excluded apt", revshell{exe: "/tmp/apt"}, 0},
		{"excluded dpkg", revshell{exe: "/tmp/dpkg"}, 0},
		{"excluded yum", revshell{exe: "/tmp/yum"}, 0},
		{"excluded rpm", revshell{exe: "/tmp/rpm"}, 0},
		{"excluded dnf", revshell{exe: "/tmp/dnf"}, 0},
		{"excluded dockerd", revshell{exe: "/tmp/dockerd"}, 0},
		{"loopback destination", revshell{ip: "127.0.0.1"}, 0},
		{"IPv6 loopback destination", revshell{ip: "::1"}, 0},
		{"missing destination", revshell{ip: "none"}, 0},
		{"accepted connection", revshell{action: "accept"}, 1},
		{"bind is not a connection", revshell{action: "bind"}, 0},
		{"ends in dash", revshell{shell: "/usr/bin/dash"}, 1},
		{"ends in zsh", revshell{shell: "/usr/bin/zsh"}, 1},
		{"ends in fish", revshell{shell: "/usr/bin/fish"}, 1},
		{"ends in python, not a shell", revshell{shell: "/usr/bin/python3"}, 0},
		{"connect a second before the exec", revshell{order: []int{1, 0, 2}, connectAt: -1}, 0},
		{"shell before the connect", revshell{order: []int{0, 2, 1}, shellAt: 0, connectAt: 1}, 0},
		{"connect one second later is within maxspan", revshell{connectAt: 1, shellAt: 1}, 1},
		{"shell two seconds later exceeds maxspan", revshell{shellAt: 2}, 0},
		{"connect from a different process", revshell{connectPid: 501}, 0},
		{"connect on another host", revshell{connectHost: hostB}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, newSensor(t), tt.r.rows())
			if got[revShell] != tt.want {
				t.Errorf("reverse shell alerts = %d, want %d", got[revShell], tt.want)
			}
		})
	}
}

// TestReverseShellOneSecondAnyOrder feeds the three events, which share
// one second across two tables, in every arrival order: the sensor must
// order them as they happened.
func TestReverseShellOneSecondAnyOrder(t *testing.T) {
	base := revshell{}.rows()
	for _, perm := range [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}} {
		t.Run(fmt.Sprint(perm), func(t *testing.T) {
			rows := make([]normalize.Row, 0, 3)
			for i, p := range perm {
				r := base[p]
				r.Seq = uint64(i + 1)
				rows = append(rows, r)
			}
			got := run(t, newSensor(t), rows)
			if got[revShell] != 1 {
				t.Errorf("reverse shell alerts = %d, want 1", got[revShell])
			}
		})
	}
}

// TestReverseShellAcrossPolls delivers the sequence in two batches, as two
// polls (or two log blocks) would.
func TestReverseShellAcrossPolls(t *testing.T) {
	rows := revshell{connectAt: 1, shellAt: 1}.rows()
	s := newSensor(t)
	got := run(t, s, rows[:1])
	for k, v := range run(t, s, rows[1:]) {
		got[k] += v
	}
	if got[revShell] != 1 {
		t.Errorf("reverse shell alerts = %d, want 1", got[revShell])
	}
}

func TestAlertContents(t *testing.T) {
	s := newSensor(t)
	var alerts []*detect.Alert
	s.Ingest(revshell{}.rows(), func(a *detect.Alert) { alerts = append(alerts, a) })
	if len(alerts) != 1 {
		t.Fatalf("got %d alerts, want 1", len(alerts))
	}
	a := alerts[0]
	checks := map[string][2]string{
		"rule_id":            {a.RuleID, revShell},
		"severity":           {a.Severity, "medium"},
		"risk_score":         {strconv.Itoa(a.RiskScore), "47"},
		"tactics":            {a.Tactics, "TA0002"},
		"techniques":         {a.Techniques, "T1059,T1059.004"},
		"host_id":            {a.HostID, hostA},
		"pid":                {strconv.FormatInt(a.Pid, 10), "500"},
		"process_executable": {a.ProcessExecutable, "/tmp/x"},
		"parent_name":        {a.ParentName, "bash"},
		"destination_ip":     {a.DestinationIP, "203.0.113.9"},
		"destination_port":   {strconv.FormatInt(a.DestinationPort, 10), "4444"},
		"time":               {strconv.FormatInt(a.Time, 10), strconv.FormatInt(t0, 10)},
	}
	for col, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", col, c[0], c[1])
		}
	}
	if !strings.Contains(a.Reason, "Potential Reverse Shell via Suspicious Binary") {
		t.Errorf("reason %q does not name the rule", a.Reason)
	}
	if n := strings.Count(string(a.Events), `"entity_id"`); n < 3 {
		t.Errorf("events hold %d entity ids, want the 3 events: %s", n, a.Events)
	}
	// Processing the same rows again yields the same id.
	s2 := newSensor(t)
	s2.Ingest(revshell{}.rows(), func(b *detect.Alert) {
		if b.ID != a.ID {
			t.Errorf("alert id not deterministic: %s vs %s", b.ID, a.ID)
		}
	})
}
