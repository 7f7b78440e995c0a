package kql

import (
	"testing"
)

// seedQuery is the bundled "System Binary Symlink to Suspicious Location"
// query (the rule's first version).
const seedQuery = `host.os.type:linux and event.category:process and event.type:start and event.action:exec and process.parent.executable:* and
(process.name:ln or process.name:busybox and process.args:ln or process.name:cp and process.args:--symbolic-link) and
process.args:( ( /bin/* or /lib/* or /lib64/* or /sbin/* or /usr/bin/* or /usr/lib/* or /usr/lib64/* or /usr/local/bin/* or
/usr/local/lib/* or /usr/local/lib64/* or /usr/local/sbin/* or /usr/sbin/* ) and ( /*/.* or /dev/shm/* or /home/* or /root/* or
/tmp/* or /var/tmp/* ) and not (/usr/bin/coreutils or /tmp/mkinitcpio* or /var/tmp/dracut* or /var/tmp/mkinitramfs*) )`

// seedEvent is an event the seed query matches; with() changes one field.
func seedEvent() map[string]any {
	return map[string]any{
		"host.os.type":              "linux",
		"event.category":            []any{"process"},
		"event.type":                []any{"start"},
		"event.action":              "exec",
		"process.parent.executable": "/usr/bin/bash",
		"process.name":              "ln",
		"process.args":              []any{"ln", "-s", "/bin/bash", "/tmp/.x"},
	}
}

func with(changes map[string]any) map[string]any {
	e := seedEvent()
	for k, v := range changes {
		if v == drop {
			delete(e, k)
		} else {
			e[k] = v
		}
	}
	return e
}

type dropField struct{}

// drop marks a field to delete in with(); nil is an explicit null.
var drop any = dropField{}

func TestSeedRuleClauseByClause(t *testing.T) {
	cases := []struct {
		name    string
		changes map[string]any
		want    bool
	}{
		{"baseline", nil, true},
		// host.os.type:linux
		{"other os", map[string]any{"host.os.type": "macos"}, false},
		{"os case differs", map[string]any{"host.os.type": "Linux"}, false},
		{"no os", map[string]any{"host.os.type": drop}, false},
		// event.category:process (an array in ECS, a scalar is fine too)
		{"category scalar", map[string]any{"event.category": "process"}, true},
		{"category among several", map[string]any{"event.category": []any{"network", "process"}}, true},
		{"category network", map[string]any{"event.category": []any{"network"}}, false},
		// event.type:start
		{"type end", map[string]any{"event.type": []any{"end"}}, false},
		{"type info and start", map[string]any{"event.type": []any{"info", "start"}}, true},
		// event.action:exec
		{"action fork", map[string]any{"event.action": "fork"}, false},
		{"no action", map[string]any{"event.action": drop}, false},
		// process.parent.executable:*
		{"no parent executable", map[string]any{"process.parent.executable": drop}, false},
		{"empty parent executable still exists", map[string]any{"process.parent.executable": ""}, true},
		{"null parent executable", map[string]any{"process.parent.executable": nil}, false},
		// (process.name:ln or process.name:busybox and process.args:ln or process.name:cp and process.args:--symbolic-link)
		{"name mv", map[string]any{"process.name": "mv"}, false},
		{"busybox ln", map[string]any{"process.name": "busybox", "process.args": []any{"busybox", "ln", "-s", "/bin/sh", "/tmp/sh"}}, true},
		{"busybox without ln", map[string]any{"process.name": "busybox", "process.args": []any{"busybox", "cp", "/bin/sh", "/tmp/sh"}}, false},
		{"cp symbolic", map[string]any{"process.name": "cp", "process.args": []any{"cp", "--symbolic-link", "/usr/bin/id", "/dev/shm/id"}}, true},
		{"cp plain", map[string]any{"process.name": "cp", "process.args": []any{"cp", "/usr/bin/id", "/dev/shm/id"}}, false},
		{"ln as argument of another name", map[string]any{"process.name": "sh", "process.args": []any{"ln", "-s", "/bin/bash", "/tmp/x"}}, false},
		// process.args:((A) and (B) and not (C))
		{"system path only", map[string]any{"process.args": []any{"ln", "-s", "/bin/bash", "/opt/x"}}, false},
		{"writable path only", map[string]any{"process.args": []any{"ln", "-s", "/opt/bash", "/tmp/x"}}, false},
		{"each list from its own element", map[string]any{"process.args": []any{"ln", "/usr/local/sbin/x", "/root/y"}}, true},
		{"one element in both lists", map[string]any{"process.args": []any{"ln", "/usr/bin/tool"}}, false},
		{"dot directory under a top directory", map[string]any{"process.args": []any{"ln", "-s", "/usr/lib/libx.so", "/etc/.cache"}}, true},
		{"star spans slashes, so a deeper dot file matches /*/.*", map[string]any{"process.args": []any{"ln", "-s", "/usr/lib/libx.so", "/etc/a/.cache"}}, true},
		{"no dot entry is not /*/.*", map[string]any{"process.args": []any{"ln", "-s", "/usr/lib/libx.so", "/etc/a.cache"}}, false},
		{"home", map[string]any{"process.args": []any{"ln", "-s", "/sbin/x", "/home/u/x"}}, true},
		{"dev shm", map[string]any{"process.args": []any{"ln", "-s", "/lib64/x", "/dev/shm/x"}}, true},
		{"var tmp", map[string]any{"process.args": []any{"ln", "-s", "/usr/sbin/x", "/var/tmp/x"}}, true},
		{"excluded coreutils", map[string]any{"process.args": []any{"ln", "-s", "/bin/bash", "/tmp/x", "/usr/bin/coreutils"}}, false},
		{"excluded mkinitcpio", map[string]any{"process.args": []any{"ln", "-s", "/bin/bash", "/tmp/mkinitcpio.XYZ/x"}}, false},
		{"excluded dracut", map[string]any{"process.args": []any{"ln", "-s", "/bin/bash", "/var/tmp/dracut.1/x"}}, false},
		{"excluded mkinitramfs", map[string]any{"process.args": []any{"ln", "-s", "/bin/bash", "/var/tmp/mkinitramfs_1/x"}}, false},
		{"exclusion is case sensitive", map[string]any{"process.args": []any{"ln", "-s", "/bin/bash", "/tmp/x", "/usr/bin/COREUTILS"}}, true},
		{"scalar args cannot satisfy both lists", map[string]any{"process.args": "/bin/x /tmp/y"}, false},
		{"no args", map[string]any{"process.args": drop}, false},
	}
	q := mustCompile(t, seedQuery)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fields := with(c.changes)
			if got := q.Match(ev(t, fields)); got != c.want {
				t.Errorf("got %v, want %v for %v", got, c.want, fields)
			}
		})
	}
}
