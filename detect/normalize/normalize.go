package normalize

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"unsafe"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// Row is one osquery row as osquery-go delivers it.
type Row struct {
	// Table is the osquery table the row came from ("process_events").
	Table string
	// Host identifies the host: its system uuid. It becomes host.id.
	Host string
	// Cols holds the columns, every value a string, as osquery-go
	// delivers them. The normalizer reads it and keeps references to its
	// strings, never to the map.
	Cols map[string]string
	// Fields, when set, holds the columns instead of Cols, without a map
	// (rows decoded from logs). The normalizer keeps references to its
	// strings, never to the Fields.
	Fields *Fields
	// Seq is the row's arrival (or file) order. It becomes Event.Seq and
	// breaks ties between rows of one second.
	Seq uint64
}

// The tables the normalizer maps.
const (
	TableProcessEvents    = "process_events"
	TableSocketEvents     = "socket_events"
	TableBPFProcessEvents = "bpf_process_events"
	TableBPFSocketEvents  = "bpf_socket_events"
	// TableProcesses rows seed the process cache and yield no event.
	TableProcesses = "processes"
)

// Options tune a Normalizer.
type Options struct {
	// MaxProcesses bounds the process cache across all hosts; the least
	// recently used process is evicted beyond it. Default 100000.
	MaxProcesses int
	// Reads names the fields the consumer reads from an event to match it.
	// Some others (identity, ids, extra process and parent fields) are
	// then left out until ecs.Event.Complete; nil leaves nothing out.
	Reads []string
}

// DefaultMaxProcesses is the process cache bound when Options leaves it 0.
const DefaultMaxProcesses = 100000

// Normalizer turns rows into events and keeps the process cache.
type Normalizer struct {
	cache *procCache
	// warmPids and warmSlots are Warm's scratch.
	warmPids  []int64
	warmSlots []int32
	arena     arena
	args      argsCache
	stats     counters
	// hostHash is the entity id hash state after the last host: rows come
	// in runs of one host.
	hostHash struct {
		host  string
		state uint64
	}
	lazy       block // the blocks Options.Reads lets events leave out
	pend       pending
	completeFn func(*ecs.Event)
}

type counters struct {
	rows, events, stateOnly, rejected uint64
	byReason                          map[string]uint64
	lastReject                        string
}

// Stats are the normalizer's own numbers.
type Stats struct {
	// Rows is how many rows Normalize was given.
	Rows uint64
	// Events is how many of them became events.
	Events uint64
	// StateOnly is how many only updated the process cache (processes rows).
	StateOnly uint64
	// Rejected is how many were rejected; RejectedBy counts them by
	// "<field> <reason>", and LastReject is the last rejection's message.
	Rejected   uint64
	RejectedBy map[string]uint64
	LastReject string

	// The process cache: entries, bound, and lookups.
	CacheSize      int
	CacheCapacity  int
	CacheHits      uint64
	CacheMisses    uint64
	CacheEvictions uint64
}

// New returns a Normalizer with an empty process cache.
func New(opts Options) *Normalizer {
	max := opts.MaxProcesses
	if max <= 0 {
		max = DefaultMaxProcesses
	}
	n := &Normalizer{
		cache: newProcCache(max),
		stats: counters{byReason: map[string]uint64{}},
		lazy:  deferrable(opts.Reads),
	}
	n.completeFn = n.complete
	return n
}

// Stats returns a copy of the counters.
func (n *Normalizer) Stats() Stats {
	by := make(map[string]uint64, len(n.stats.byReason))
	for k, v := range n.stats.byReason {
		by[k] = v
	}
	return Stats{
		Rows:           n.stats.rows,
		Events:         n.stats.events,
		StateOnly:      n.stats.stateOnly,
		Rejected:       n.stats.rejected,
		RejectedBy:     by,
		LastReject:     n.stats.lastReject,
		CacheSize:      n.cache.size(),
		CacheCapacity:  int(n.cache.max),
		CacheHits:      n.cache.hits,
		CacheMisses:    n.cache.misses,
		CacheEvictions: n.cache.evictions,
	}
}

// Constant values, built once.
var (
	vEvent      = ecs.Str("event")
	vProcess    = ecs.Str("process")
	vNetwork    = ecs.Str("network")
	vStart      = ecs.Str("start")
	vInfo       = ecs.Str("info")
	vExec       = ecs.Str("exec")
	vFork       = ecs.Str("fork")
	vAttempted  = ecs.Str("connection_attempted")
	vAccepted   = ecs.Str("connection_accepted")
	vBind       = ecs.Str("bind")
	vListen     = ecs.Str("listen")
	vOsquery    = ecs.Str("osquery")
	vLinux      = ecs.Str("linux")
	vEgress     = ecs.Str("egress")
	vIngress    = ecs.Str("ingress")
	vIPv4       = ecs.Str("ipv4")
	vIPv6       = ecs.Str("ipv6")
	vTCP        = ecs.Str("tcp")
	vUDP        = ecs.Str("udp")
	vSuccess    = ecs.Str("success")
	vFailure    = ecs.Str("failure")
	vUnknown    = ecs.Str("unknown")
	vSysExecve  = ecs.Str("execve")
	vSysExecat  = ecs.Str("execveat")
	vSysExec    = ecs.Str("exec")
	vSysFork    = ecs.Str("fork")
	vSysVfork   = ecs.Str("vfork")
	vSysClone   = ecs.Str("clone")
	vSysConnect = ecs.Str("connect")
	vSysAccept  = ecs.Str("accept")
	vSysBind    = ecs.Str("bind")
	vSysListen  = ecs.Str("listen")
)

type tableKind uint8

const (
	kindProcess tableKind = iota + 1
	kindSocket
	kindProcesses
)

type tableInfo struct {
	kind    tableKind
	name    ecs.Value
	dataset ecs.Value
	shapes  [numActions]ecs.ShapeID // see defineShapes
}

var (
	tProcessEvents    = tableInfo{kind: kindProcess, name: ecs.Str(TableProcessEvents), dataset: ecs.Str("osquery." + TableProcessEvents)}
	tSocketEvents     = tableInfo{kind: kindSocket, name: ecs.Str(TableSocketEvents), dataset: ecs.Str("osquery." + TableSocketEvents)}
	tBPFProcessEvents = tableInfo{kind: kindProcess, name: ecs.Str(TableBPFProcessEvents), dataset: ecs.Str("osquery." + TableBPFProcessEvents)}
	tBPFSocketEvents  = tableInfo{kind: kindSocket, name: ecs.Str(TableBPFSocketEvents), dataset: ecs.Str("osquery." + TableBPFSocketEvents)}
	tProcesses        = tableInfo{kind: kindProcesses}
)

func lookupTable(name string) *tableInfo {
	switch name {
	case TableProcessEvents:
		return &tProcessEvents
	case TableSocketEvents:
		return &tSocketEvents
	case TableBPFProcessEvents:
		return &tBPFProcessEvents
	case TableBPFSocketEvents:
		return &tBPFSocketEvents
	case TableProcesses:
		return &tProcesses
	}
	return nil
}

// KnownTable reports whether the normalizer maps rows of the table.
func KnownTable(name string) bool { return lookupTable(name) != nil }

// unreadCols are the columns of osquery's event tables that no event
// field derives from. Only the id of a row without an eid reads them (it
// hashes every column): identityColumns holds none of them.
var unreadCols = func() (m uint64) {
	for _, c := range []Col{ColAtime, ColBtime, ColCmdlineSize, ColCtime, ColEnv, ColEnvCount, ColEnvSize,
		ColFsgid, ColFsuid, ColMode, ColMtime, ColOverflows, ColOwnerGid, ColOwnerUID} {
		m |= 1 << c
	}
	return m
}()

// Unread reports whether column c of a row of table may be left out when
// the row has an eid (a non-empty one): its event is the same without it.
// A reader can spare itself, and a reorder window, the bytes (about a
// third of a process_events row's columns).
func Unread(table string, c Col) bool {
	if t := lookupTable(table); t == nil || t.kind == kindProcesses {
		return false
	}
	return c < numCols && unreadCols&(1<<c) != 0
}

// Normalize fills ev (which the caller has Reset) from one row and updates
// the process cache. It returns a *RowError when the row cannot become an
// event (ev is then left empty), and ErrStateOnly for processes rows, which
// only update the cache. It never panics.
//
// ev's values may share memory with r and with the Normalizer's scratch
// space: they are valid until the next Normalize. What keeps an event
// longer packs it (ecs.Pack) or copies what it keeps.
func (n *Normalizer) Normalize(r Row, ev *ecs.Event) error {
	n.stats.rows++
	if prev := n.pend.ev; prev != nil {
		// An event left incomplete is completed before the cache moves on.
		prev.Complete()
		n.pend = pending{}
	}
	err := n.normalize(&r, ev)
	if err == nil {
		n.stats.events++
		if n.pend.blocks != 0 {
			n.pend.ev = ev
			ev.Defer(n.completeFn)
		}
		return nil
	}
	n.pend = pending{}
	ev.Reset()
	if err == ErrStateOnly {
		n.stats.stateOnly++
		return err
	}
	if re, ok := err.(*RowError); ok {
		n.countReject(re)
	}
	return err
}

func (n *Normalizer) countReject(e *RowError) {
	n.stats.rejected++
	key := e.Field + " " + e.Reason
	if _, ok := n.stats.byReason[key]; ok || len(n.stats.byReason) < 256 {
		n.stats.byReason[key]++
	}
	n.stats.lastReject = e.Error()
}

func (n *Normalizer) normalize(r *Row, ev *ecs.Event) error {
	n.args.reset()
	tbl := lookupTable(r.Table)
	if tbl == nil {
		return rowErr(r.Table, "table", reasonTable, r.Table)
	}
	if r.Host == "" {
		return rowErr(r.Table, "host", reasonHostMissing, "")
	}
	if tbl.kind == kindProcesses {
		if e := n.seedRow(r.Host, r.ColMap()); e != nil {
			return e
		}
		return ErrStateOnly
	}
	pid, e := requiredInt(r, ColPid)
	if e != nil {
		return e
	}
	t, e := requiredInt(r, ColTime)
	if e != nil {
		return e
	}
	switch tbl.kind {
	case kindProcess:
		return n.processRow(r, tbl, ev, pid, t)
	default:
		return n.socketRow(r, tbl, ev, pid, t)
	}
}

// requiredInt reads a non-negative integer column that must be present.
func requiredInt(r *Row, col Col) (int64, *RowError) {
	s, ok := r.Lookup(col)
	if !ok || s == "" {
		return 0, rowErr(r.Table, col.Name(), reasonMissing, "")
	}
	v, ok := parseInt(s)
	if !ok {
		return 0, rowErr(r.Table, col.Name(), reasonNotNumber, s)
	}
	if v < 0 {
		return 0, rowErr(r.Table, col.Name(), reasonNegative, s)
	}
	return v, nil
}

// optionalInt reads an integer column that may be absent; absent, empty and
// negative values (osquery's -1 for "unknown") read as -1.
func optionalInt(r *Row, col Col) (int64, *RowError) {
	s := r.Get(col)
	if s == "" {
		return -1, nil
	}
	v, ok := parseInt(s)
	if !ok {
		return 0, rowErr(r.Table, col.Name(), reasonNotNumber, s)
	}
	if v < 0 {
		return -1, nil
	}
	return v, nil
}

// setCommon fills the fields every event has.
func (n *Normalizer) setCommon(r *Row, tbl *tableInfo, ev *ecs.Event, t int64, eid string) {
	ev.Time = t * 1000
	ev.Seq = r.Seq
	ev.Set(ecs.EventKind, vEvent)
	ev.Set(ecs.EventModule, vOsquery)
	ev.Set(ecs.EventDataset, tbl.dataset)
	ev.Set(ecs.OsqueryTable, tbl.name)
	ev.Set(ecs.HostID, ecs.Str(r.Host))
	ev.Set(ecs.HostOSType, vLinux)
	if n.deferring(blockIdentity) {
		n.pend.row, n.pend.t, n.pend.eid = *r, t, eid
		return
	}
	n.setIdentity(r, ev, t, eid)
}

// setIdentity fills event.id, osquery.eid and osquery.time.
//
// event.id must tell apart every event a host ever produces, and give the
// same id when the same buffered row is read again (alert ids are built from
// it, and the alert store de-duplicates on them). osquery's eid alone does
// neither: it counts per subscriber and starts again near 1 when osquery's
// database is wiped or ephemeral (research/osquery.md §2.7). So the id is
// host, table and eid followed by a digest of what the event is (its time,
// pid and content: identityColumns); the eid only breaks ties between
// otherwise identical rows.
func (n *Normalizer) setIdentity(r *Row, ev *ecs.Event, t int64, eid string) {
	ev.Set(ecs.OsqueryTime, ecs.IntVal(t))
	if eid != "" {
		ev.Set(ecs.OsqueryEID, ecs.Str(eid))
		ev.Set(ecs.EventID, ecs.Str(n.arena.join3(r.Host, ':', r.Table, eid+":"+contentDigest(r))))
	} else {
		ev.Set(ecs.EventID, ecs.Str(n.rowHash(r)))
	}
}

// identityColumns are the columns whose values say what an event is: when
// osquery processed it (time, uptime, and the kernel time bpf tables carry),
// which process, and what it did. Columns outside this list (and columns a
// log happens to lack) do not change an event's id, so the same event read
// from a differently shaped query or log keeps its id.
var identityColumns = []string{
	"time", "uptime", "ntime", "pid", "tid", "parent", "path", "cmdline", "cwd", "syscall",
	"auid", "uid", "euid", "gid", "egid", "action", "family", "protocol", "fd",
	"local_address", "local_port", "remote_address", "remote_port", "socket", "status", "success",
}

// contentDigest is the first 64 bits of a SHA-256 of the row's identity
// columns, as 16 hex digits.
func contentDigest(r *Row) string {
	h := sha256.New()
	sep := []byte{0}
	for _, col := range identityColumns {
		v, ok := r.LookupName(col)
		if !ok {
			continue
		}
		h.Write([]byte(col))
		h.Write(sep)
		h.Write([]byte(v))
		h.Write(sep)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return hex.EncodeToString(sum[:8])
}

// rowHash identifies a row without an eid: a SHA-256 of its host, table and
// sorted columns, as 32 hex digits.
func (n *Normalizer) rowHash(r *Row) string {
	type col struct{ k, v string }
	var cols []col
	r.Range(func(k, v string) { cols = append(cols, col{k, v}) })
	sort.Slice(cols, func(i, j int) bool { return cols[i].k < cols[j].k })
	h := sha256.New()
	sep := []byte{0}
	h.Write([]byte(r.Host))
	h.Write(sep)
	h.Write([]byte(r.Table))
	for _, c := range cols {
		h.Write(sep)
		h.Write([]byte(c.k))
		h.Write(sep)
		h.Write([]byte(c.v))
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	var out [32]byte
	hex.Encode(out[:], sum[:16])
	return n.arena.bytesStr(out[:])
}

// entityID derives a process identity from the host, the pid, the second
// the process began and the eid of the row that revealed it (which tells
// apart two processes that reused a pid within one second): an FNV-1a
// hash, never 0. Events carry it as 16 hex digits (entityStr).
func (n *Normalizer) entityID(host string, pid, start int64, eid string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	mix := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime
		}
		h ^= 0xff
		h *= prime
	}
	mixInt := func(v int64) {
		u := uint64(v)
		for i := 0; i < 8; i++ {
			h ^= u & 0xff
			h *= prime
			u >>= 8
		}
	}
	if host != n.hostHash.host || n.hostHash.state == 0 {
		mix(host)
		n.hostHash.host, n.hostHash.state = host, h
	}
	h = n.hostHash.state
	mixInt(pid)
	mixInt(start)
	mix(eid)
	if h == 0 {
		h = 1
	}
	return h
}

// entityStr renders an entity id hash as the 16 hex digits events carry;
// 0 (unknown) renders as "".
func (n *Normalizer) entityStr(h uint64) string {
	if h == 0 {
		return ""
	}
	const digits = "0123456789abcdef"
	b := n.arena.alloc(16)
	for i := 15; i >= 0; i-- {
		b[i] = digits[h&0xf]
		h >>= 4
	}
	return unsafe.String(&b[0], 16)
}

// processRow maps a process_events or bpf_process_events row.
func (n *Normalizer) processRow(r *Row, tbl *tableInfo, ev *ecs.Event, pid, t int64) error {
	var sys ecs.Value
	fork := false
	switch s := r.Get(ColSyscall); s {
	case "execve", "":
		// osquery before 4.0 had no syscall column: every row was an execve.
		sys = vSysExecve
	case "execveat":
		sys = vSysExecat
	case "exec":
		sys = vSysExec
	case "fork":
		sys, fork = vSysFork, true
	case "vfork":
		sys, fork = vSysVfork, true
	case "clone":
		sys, fork = vSysClone, true
	case "kill", "tkill", "tgkill":
		return rowErr(r.Table, "syscall", reasonKill, s)
	default:
		return rowErr(r.Table, "syscall", reasonSyscall, s)
	}
	ppid, e := optionalInt(r, ColParent)
	if e != nil {
		return e
	}
	path := r.Get(ColPath)
	eid := r.Get(ColEID)
	if fork {
		return n.forkRow(r, tbl, ev, sys, pid, ppid, t, path, eid)
	}
	if path == "" {
		return rowErr(r.Table, "path", reasonExecNoPath, "")
	}

	host := r.Host
	prevExe := ""
	p := n.cache.get(host, pid)
	if p == nil || (ppid >= 0 && p.ppid >= 0 && p.ppid != ppid) {
		// A process we have not seen, or a reused pid.
		p = n.cache.put(host, pid)
		p.start = t
		p.entity = n.entityID(host, pid, t, eid)
	} else if exe := p.exe(); exe != path {
		prevExe = exe
	}
	if ppid >= 0 && p.ppid != ppid {
		p.ppid = ppid
		p.parentEntity = 0
		p.parentSlot = -1
	}
	uid, gid, euid, egid := r.Get(ColUID), r.Get(ColGid), r.Get(ColEuid), r.Get(ColEgid)
	if euid == "" {
		// bpf rows carry only uid and gid: the best effective ids known.
		euid, egid = uid, gid
	}
	p.setImage(image{exe: path, cmdline: r.Get(ColCmdline), cwd: r.Get(ColCwd), uid: uid, gid: gid, euid: euid, egid: egid})

	n.setProcessStart(r, tbl, ev, t, eid, actExec, sys)
	n.setProcess(ev, p, path)
	if n.deferring(blockProcessExtra) {
		n.pend.prevExe = prevExe
	} else {
		ev.SetStr(ecs.ProcessPreviousExe, prevExe)
	}
	n.setIDs(ev, r, uid, gid, euid, egid)
	n.setParent(ev, p)
	return nil
}

// setProcessStart fills the fields every process start event has: the
// common ones, category process, type start, the action and the syscall.
func (n *Normalizer) setProcessStart(r *Row, tbl *tableInfo, ev *ecs.Event, t int64, eid string, act action, sys ecs.Value) {
	n.setCommon(r, tbl, ev, t, eid)
	ev.Shape = tbl.shapes[act]
	ev.Set(ecs.EventCategory, vProcess)
	ev.Set(ecs.EventType, vStart)
	ev.Set(ecs.EventAction, actionInfos[act].action)
	ev.Set(ecs.OsquerySyscall, sys)
}

// forkRow maps a fork, vfork or clone row: pid is the child, parent the
// caller, path the caller's image, which the child inherits.
func (n *Normalizer) forkRow(r *Row, tbl *tableInfo, ev *ecs.Event, sys ecs.Value, pid, ppid, t int64, path, eid string) error {
	host := r.Host
	var par proc
	havePar := false
	if ppid >= 0 {
		if pp := n.cache.get(host, ppid); pp != nil {
			par, havePar = *pp, true
		}
	}
	c := n.cache.put(host, pid)
	c.start = t
	c.entity = n.entityID(host, pid, t, eid)
	c.ppid = ppid
	var im image
	if havePar {
		c.parentEntity = par.entity
		if parExe := par.exe(); parExe != "" && (path == "" || path == parExe) {
			im.exe, im.cmdline, im.cwd = parExe, par.cmdline(), par.cwd()
		}
	}
	if im.exe == "" {
		im.exe = path
	}
	uid, gid, euid, egid := r.Get(ColUID), r.Get(ColGid), r.Get(ColEuid), r.Get(ColEgid)
	if uid == "" && havePar {
		uid, gid, _, _ = par.ids()
	}
	if euid == "" {
		euid, egid = uid, gid
	}
	im.uid, im.gid, im.euid, im.egid = uid, gid, euid, egid
	c.setImage(im)

	n.setProcessStart(r, tbl, ev, t, eid, actFork, sys)
	n.setProcess(ev, c, c.exe())
	n.setIDs(ev, r, uid, gid, euid, egid)
	if ppid >= 0 {
		ev.Set(ecs.ParentPid, ecs.IntVal(ppid))
		if havePar {
			n.setParentFields(ev, &par)
		}
	}
	return nil
}

// setProcess fills process.* from a cache entry; exe is what the row says
// the executable is.
func (n *Normalizer) setProcess(ev *ecs.Event, p *proc, exe string) {
	ev.Set(ecs.ProcessPid, ecs.IntVal(p.key.pid))
	ev.SetStr(ecs.ProcessEntityID, n.entityStr(p.entity))
	ev.SetStr(ecs.ProcessExecutable, exe)
	ev.SetStr(ecs.ProcessName, baseName(exe))
	if p.exe() != exe {
		return
	}
	if cmdline := p.cmdline(); cmdline != "" {
		ev.Set(ecs.ProcessCommandLine, ecs.Str(cmdline))
		ev.Set(ecs.ProcessArgs, ecs.Value{Kind: ecs.Array, Arr: n.args.split(cmdline)})
	}
	if n.deferring(blockProcessExtra) {
		n.pend.proc = p
		return
	}
	n.setProcessExtra(ev, p)
}

// setProcessExtra fills the process fields rules seldom read: the title,
// the argument count and the working directory.
func (n *Normalizer) setProcessExtra(ev *ecs.Event, p *proc) {
	if cmdline := p.cmdline(); cmdline != "" {
		ev.Set(ecs.ProcessTitle, ecs.Str(cmdline))
		ev.Set(ecs.ProcessArgsCount, ecs.IntVal(int64(argsCount(cmdline))))
	}
	ev.SetStr(ecs.ProcessWorkingDirectory, p.cwd())
}

// setIDs fills the user and group ids of a process row, or leaves them
// pending.
func (n *Normalizer) setIDs(ev *ecs.Event, r *Row, uid, gid, euid, egid string) {
	if n.deferring(blockIDs) {
		if n.pend.blocks&blockIdentity == 0 {
			n.pend.row = *r
		}
		n.pend.uid, n.pend.gid, n.pend.euid, n.pend.egid = uid, gid, euid, egid
		return
	}
	setIDs(ev, r, uid, gid, euid, egid)
}

func setIDs(ev *ecs.Event, r *Row, uid, gid, euid, egid string) {
	if uid != "" {
		v := ecs.Str(uid)
		ev.Set(ecs.UserID, v)
		ev.Set(ecs.UserExtRealID, v)
		ev.Set(ecs.ProcessRealUserID, v)
	}
	if gid != "" {
		v := ecs.Str(gid)
		ev.Set(ecs.GroupID, v)
		ev.Set(ecs.GroupExtRealID, v)
		ev.Set(ecs.ProcessRealGroupID, v)
	}
	if euid != "" {
		v := ecs.Str(euid)
		ev.Set(ecs.ProcessUserID, v)
		ev.Set(ecs.UserEffectiveID, v)
	}
	if egid != "" {
		v := ecs.Str(egid)
		ev.Set(ecs.ProcessGroupID, v)
		ev.Set(ecs.GroupEffectiveID, v)
	}
	ev.SetStr(ecs.ProcessSavedUserID, r.Get(ColSuid))
	ev.SetStr(ecs.ProcessSavedGroupID, r.Get(ColSgid))
	ev.SetStr(ecs.AuditUserID, r.Get(ColAuid))
}

// setParent fills process.parent.* for p from the cache. A cached entry for
// the parent pid that is not the process p recorded as its parent (the pid
// was reused) contributes only the pid and the recorded entity id.
func (n *Normalizer) setParent(ev *ecs.Event, p *proc) {
	if p.ppid < 0 {
		return
	}
	ev.Set(ecs.ParentPid, ecs.IntVal(p.ppid))
	par := n.cache.parentOf(p)
	if par != nil && p.parentEntity == 0 {
		p.parentEntity = par.entity
	}
	if par == nil || par.entity != p.parentEntity {
		ev.SetStr(ecs.ParentEntityID, n.entityStr(p.parentEntity))
		return
	}
	n.setParentCore(ev, par)
	if n.deferring(blockParentExtra) {
		n.pend.parent = par
		return
	}
	n.setParentExtra(ev, par)
}

// setParentFields fills process.parent.* from the parent's entry.
func (n *Normalizer) setParentFields(ev *ecs.Event, par *proc) {
	n.setParentCore(ev, par)
	n.setParentExtra(ev, par)
}

func (n *Normalizer) setParentCore(ev *ecs.Event, par *proc) {
	ev.SetStr(ecs.ParentEntityID, n.entityStr(par.entity))
	ev.SetStr(ecs.ParentExecutable, par.exe())
	ev.SetStr(ecs.ParentName, par.name())
}

// setParentExtra fills the parent fields rules seldom read.
func (n *Normalizer) setParentExtra(ev *ecs.Event, par *proc) {
	if cmdline := par.cmdline(); cmdline != "" {
		args := n.args.split(cmdline)
		ev.Set(ecs.ParentCommandLine, ecs.Str(cmdline))
		ev.Set(ecs.ParentArgs, ecs.Value{Kind: ecs.Array, Arr: args})
		ev.Set(ecs.ParentArgsCount, ecs.IntVal(int64(len(args))))
	}
	ev.SetStr(ecs.ParentWorkingDirectory, par.cwd())
	_, _, euid, egid := par.ids()
	ev.SetStr(ecs.ParentUserID, euid)
	ev.SetStr(ecs.ParentGroupID, egid)
}

// socketRow maps a socket_events or bpf_socket_events row.
func (n *Normalizer) socketRow(r *Row, tbl *tableInfo, ev *ecs.Event, pid, t int64) error {
	actionCol := ColAction
	if tbl == &tBPFSocketEvents {
		actionCol = ColSyscall
	}
	var act action
	switch s := r.Get(actionCol); s {
	case "connect":
		act = actConnect
	case "accept", "accept4":
		act = actAccept
	case "bind":
		act = actBind
	case "listen":
		act = actListen
	case "":
		return rowErr(r.Table, actionCol.Name(), reasonMissing, "")
	default:
		return rowErr(r.Table, actionCol.Name(), reasonAction, s)
	}
	info := &actionInfos[act]
	ppid, e := optionalInt(r, ColParent) // bpf rows only
	if e != nil {
		return e
	}
	host := r.Host
	path := r.Get(ColPath)
	eid := r.Get(ColEID)
	p := n.cache.get(host, pid)
	if p == nil || (ppid >= 0 && p.ppid >= 0 && p.ppid != ppid) {
		p = n.cache.put(host, pid)
		p.start = t
		p.entity = n.entityID(host, pid, t, eid)
		p.ppid = ppid
		p.setImage(image{exe: path})
	} else if path != "" && p.exe() == "" {
		im := p.image()
		im.exe = path
		p.setImage(im)
	}
	if ppid >= 0 && p.ppid < 0 {
		p.ppid = ppid
	}

	n.setCommon(r, tbl, ev, t, eid)
	ev.Shape = tbl.shapes[act]
	ev.Set(ecs.EventCategory, info.category)
	ev.Set(ecs.EventType, info.typ)
	ev.Set(ecs.EventAction, info.action)
	ev.Set(ecs.OsquerySyscall, info.syscall)
	if info.direction.Kind != ecs.Missing {
		ev.Set(ecs.NetworkDirection, info.direction)
	}
	exe := path
	if exe == "" {
		exe = p.exe()
	}
	n.setProcess(ev, p, exe)
	ev.SetStr(ecs.AuditUserID, r.Get(ColAuid))
	if uid := r.Get(ColUID); uid != "" { // bpf rows
		ev.Set(ecs.UserID, ecs.Str(uid))
		ev.SetStr(ecs.GroupID, r.Get(ColGid))
	}

	remote := n.canonicalIP(r.Get(ColRemoteAddress))
	local := n.canonicalIP(r.Get(ColLocalAddress))
	if remote != "" {
		ev.Set(ecs.DestinationIP, ecs.Str(remote))
	}
	if port, ok := parseInt(r.Get(ColRemotePort)); ok && port > 0 {
		ev.Set(ecs.DestinationPort, ecs.IntVal(port))
	}
	if local != "" {
		ev.Set(ecs.SourceIP, ecs.Str(local))
	}
	if port, ok := parseInt(r.Get(ColLocalPort)); ok && port > 0 {
		ev.Set(ecs.SourcePort, ecs.IntVal(port))
	}
	switch r.Get(ColFamily) {
	case "2":
		ev.Set(ecs.NetworkType, vIPv4)
	case "10":
		ev.Set(ecs.NetworkType, vIPv6)
	case "1":
		// A unix domain socket: ECS has no network.type for it; the
		// socket path is kept in osquery.socket_path.
	default:
		// Old osquery reported IPv6 as family 11; trust the address.
		if addr := remote + local; addr != "" {
			if containsColon(addr) {
				ev.Set(ecs.NetworkType, vIPv6)
			} else {
				ev.Set(ecs.NetworkType, vIPv4)
			}
		}
	}
	ev.SetStr(ecs.OsquerySocketPath, r.Get(ColSocket))
	switch r.Get(ColProtocol) {
	case "6":
		ev.Set(ecs.NetworkTransport, vTCP)
	case "17":
		ev.Set(ecs.NetworkTransport, vUDP)
	}
	if o := outcome(r, tbl); o.Kind != ecs.Missing {
		ev.Set(ecs.EventOutcome, o)
	}
	n.setParent(ev, p)
	return nil
}

func containsColon(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return true
		}
	}
	return false
}

// outcome maps osquery's status (audit), success (old audit) or exit_code
// (bpf) to event.outcome.
func outcome(r *Row, tbl *tableInfo) ecs.Value {
	switch r.Get(ColStatus) {
	case "succeeded":
		return vSuccess
	case "failed", "no_client":
		return vFailure
	case "in_progress":
		return vUnknown
	}
	if tbl == &tBPFSocketEvents {
		if code, ok := parseInt(r.Get(ColExitCode)); ok {
			switch {
			case code == -115: // EINPROGRESS
				return vUnknown
			case code < 0:
				return vFailure
			default:
				return vSuccess
			}
		}
		return ecs.Value{}
	}
	switch r.Get(ColSuccess) {
	case "1":
		return vSuccess
	case "0":
		return vFailure
	}
	return ecs.Value{}
}

// Warm prepares the process cache for rows about to be normalized, all of
// one host (a host's second, say): it changes nothing, but the rows'
// lookups then find what they touch in the CPU cache.
func (n *Normalizer) Warm(rows []Row) {
	if len(rows) < 4 {
		return
	}
	pids := n.warmPids[:0]
	for i := range rows {
		r := &rows[i]
		if pid, ok := parseInt(r.Get(ColPid)); ok {
			pids = append(pids, pid)
		}
		if ppid, ok := parseInt(r.Get(ColParent)); ok {
			pids = append(pids, ppid)
		}
	}
	n.warmPids = pids
	n.warmSlots = n.cache.warm(rows[0].Host, pids, n.warmSlots)
}
