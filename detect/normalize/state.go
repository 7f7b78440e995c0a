package normalize

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Seed loads rows of osquery's processes table (pid, name, path, cmdline,
// cwd, parent, uid, gid, euid, egid, start_time) for one host into the
// process cache, so that events of processes that started before osquery
// saw them still get parent details. A process already cached keeps its
// entity id unless the row shows a different process behind the pid. Seed
// returns how many rows it loaded and, when some were skipped, an error
// naming the first bad row and the count.
func (n *Normalizer) Seed(host string, rows []map[string]string) (int, error) {
	if host == "" {
		return 0, rowErr(TableProcesses, "host", reasonHostMissing, "")
	}
	loaded, skipped := 0, 0
	var first error
	for _, cols := range rows {
		if e := n.seedRow(host, cols); e != nil {
			skipped++
			n.countReject(e)
			if first == nil {
				first = e
			}
			continue
		}
		loaded++
	}
	if skipped > 0 {
		return loaded, fmt.Errorf("seeding processes of host %s: %d of %d rows skipped, first: %w", host, skipped, len(rows), first)
	}
	return loaded, nil
}

func (n *Normalizer) seedRow(host string, cols map[string]string) *RowError {
	r := Row{Table: TableProcesses, Host: host, Cols: cols}
	pid, e := requiredInt(&r, ColPid)
	if e != nil {
		return e
	}
	ppid, e := optionalInt(&r, ColParent)
	if e != nil {
		return e
	}
	start, e := optionalInt(&r, ColStartTime)
	if e != nil {
		return e
	}
	if start < 0 {
		start = 0
	}
	p := n.cache.peek(host, pid)
	samePid := p != nil &&
		(p.ppid < 0 || ppid < 0 || p.ppid == ppid) &&
		(start == 0 || p.start == 0 || start <= p.start)
	if samePid {
		p = n.cache.get(host, pid)
	} else {
		p = n.cache.put(host, pid)
		p.start = start
		p.entity = n.entityID(host, pid, start, "")
	}
	if ppid >= 0 && p.ppid != ppid {
		p.ppid = ppid
		p.parentEntity = 0
		p.parentSlot = -1
	}
	im := p.image()
	path := cols["path"]
	switch {
	case path != "":
		im.exe = path
	case cols["name"] != "" && im.exe == "":
		im.name = cols["name"]
	}
	if cmdline := strings.TrimRight(cols["cmdline"], " "); cmdline != "" {
		im.cmdline = cmdline
	}
	if cwd := cols["cwd"]; cwd != "" {
		im.cwd = cwd
	}
	if uid := cols["uid"]; uid != "" {
		im.uid, im.gid = uid, cols["gid"]
	}
	if euid := cols["euid"]; euid != "" {
		im.euid, im.egid = euid, cols["egid"]
	} else if im.euid == "" {
		im.euid, im.egid = im.uid, im.gid
	}
	p.setImage(im)
	return nil
}

// snapshot is the serialized process cache, least recently used first.
type snapshot struct {
	Version   int            `json:"v"`
	Processes []snapshotProc `json:"procs"`
}

type snapshotProc struct {
	Host           string `json:"h"`
	Pid            int64  `json:"p"`
	PPid           int64  `json:"pp"`
	Start          int64  `json:"s,omitempty"`
	EntityID       string `json:"e"`
	ParentEntityID string `json:"pe,omitempty"`
	Exe            string `json:"x,omitempty"`
	Name           string `json:"n,omitempty"`
	Cmdline        string `json:"c,omitempty"`
	Cwd            string `json:"w,omitempty"`
	UID            string `json:"u,omitempty"`
	GID            string `json:"g,omitempty"`
	EUID           string `json:"eu,omitempty"`
	EGID           string `json:"eg,omitempty"`
}

const snapshotVersion = 1

// Snapshot serializes the process cache as compact JSON, for Restore after
// a restart.
func (n *Normalizer) Snapshot() ([]byte, error) {
	s := snapshot{Version: snapshotVersion, Processes: make([]snapshotProc, 0, n.cache.size())}
	n.cache.each(func(p *proc) { s.Processes = append(s.Processes, snapProc(p)) })
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("serializing process cache: %w", err)
	}
	return b, nil
}

// Restore replaces the process cache with a Snapshot. On error the cache is
// left as it was.
func (n *Normalizer) Restore(data []byte) error {
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("restoring process cache: %w", err)
	}
	if s.Version != snapshotVersion {
		return fmt.Errorf("restoring process cache: snapshot version %d, want %d", s.Version, snapshotVersion)
	}
	for i, sp := range s.Processes {
		if sp.Host == "" || sp.Pid < 0 || sp.EntityID == "" {
			return fmt.Errorf("restoring process cache: entry %d: %w", i, errors.New("needs a host, a pid and an entity id"))
		}
	}
	n.cache.reset()
	for _, sp := range s.Processes {
		fillProc(n.cache.put(sp.Host, sp.Pid), sp)
	}
	return nil
}

// snapProc is a cache entry as the snapshot writes it.
func snapProc(p *proc) snapshotProc {
	uid, gid, euid, egid := p.ids()
	return snapshotProc{
		Host: p.key.host, Pid: p.key.pid, PPid: p.ppid, Start: p.start,
		EntityID: hexID(p.entity), ParentEntityID: hexID(p.parentEntity),
		Exe: p.exe(), Name: p.name(), Cmdline: p.cmdline(), Cwd: p.cwd(),
		UID: uid, GID: gid, EUID: euid, EGID: egid,
	}
}

// fillProc sets a cache entry from the snapshot's record of it.
func fillProc(p *proc, sp snapshotProc) {
	p.ppid = sp.PPid
	if p.ppid < 0 {
		p.ppid = -1
	}
	p.start = sp.Start
	p.entity, p.parentEntity = parseEntityID(sp.EntityID), parseEntityID(sp.ParentEntityID)
	p.setImage(image{exe: sp.Exe, name: sp.Name, cmdline: sp.Cmdline, cwd: sp.Cwd,
		uid: sp.UID, gid: sp.GID, euid: sp.EUID, egid: sp.EGID})
}

// hexID renders an entity id hash as its 16 hex digits ("" for 0).
func hexID(h uint64) string {
	var b [16]byte
	return strings.Clone(hexIDTo(&b, h))
}

// parseEntityID reads an entity id as written by hexID. Any other text
// (not written by this version) is hashed, so that it still identifies
// its process consistently; "" is 0 (unknown).
func parseEntityID(s string) uint64 {
	if s == "" {
		return 0
	}
	if len(s) == 16 {
		if v, err := strconv.ParseUint(s, 16, 64); err == nil && v != 0 {
			return v
		}
	}
	h := fnv.New64a()
	h.Write([]byte(s))
	return max(h.Sum64(), 1)
}
