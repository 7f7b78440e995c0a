package ecs

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Field is the id of a dotted ECS field name. Ids are dense and stable for
// the life of the process; the zero Field is "@timestamp".
type Field uint16

// MaxFields bounds the registry so hostile input (a JSON event with
// millions of distinct keys) cannot grow it without limit.
const MaxFields = 1 << 14

type registry struct {
	mu    sync.Mutex
	ids   atomic.Pointer[map[string]Field]
	names atomic.Pointer[[]string]
	paths atomic.Pointer[[][]string] // names split at the dots, for JSON
	// ranks holds each field's place in the order nested JSON writes
	// fields in (paths compared segment by segment), for the fields
	// registered when it was last worked out.
	ranks atomic.Pointer[[]uint32]
}

var fields registry

// FieldOf returns the id of name, registering it when new. It returns false
// when the registry is full.
func FieldOf(name string) (Field, bool) {
	if ids := fields.ids.Load(); ids != nil {
		if f, ok := (*ids)[name]; ok {
			return f, true
		}
	}
	fields.mu.Lock()
	defer fields.mu.Unlock()
	var old map[string]Field
	var oldNames []string
	if p := fields.ids.Load(); p != nil {
		old = *p
		oldNames = *fields.names.Load()
	}
	if f, ok := old[name]; ok {
		return f, true
	}
	if len(oldNames) >= MaxFields {
		return 0, false
	}
	ids := make(map[string]Field, len(old)+1)
	for k, v := range old {
		ids[k] = v
	}
	f := Field(len(oldNames))
	ids[name] = f
	names := append(oldNames[:len(oldNames):len(oldNames)], name)
	var oldPaths [][]string
	if p := fields.paths.Load(); p != nil {
		oldPaths = *p
	}
	paths := append(oldPaths[:len(oldPaths):len(oldPaths)], strings.Split(name, "."))
	fields.paths.Store(&paths)
	fields.names.Store(&names)
	fields.ids.Store(&ids)
	return f, true
}

// Lookup returns the id of an already registered name without registering it.
func Lookup(name string) (Field, bool) {
	if ids := fields.ids.Load(); ids != nil {
		f, ok := (*ids)[name]
		return f, ok
	}
	return 0, false
}

func mustField(name string) Field {
	f, ok := FieldOf(name)
	if !ok {
		panic("ecs: field registry full at init")
	}
	return f
}

// Name returns the dotted name of the field.
func (f Field) Name() string {
	names := *fields.names.Load()
	if int(f) < len(names) {
		return names[f]
	}
	return ""
}

// jsonRanks returns every registered field's place in the order nested
// JSON writes fields in, working it out again when fields were registered
// since it last did.
func jsonRanks() []uint32 {
	if r := fields.ranks.Load(); r != nil && len(*r) == NumFields() {
		return *r
	}
	fields.mu.Lock()
	defer fields.mu.Unlock()
	paths := *fields.paths.Load()
	if r := fields.ranks.Load(); r != nil && len(*r) == len(paths) {
		return *r
	}
	order := make([]Field, len(paths))
	for i := range order {
		order[i] = Field(i)
	}
	slices.SortFunc(order, func(a, b Field) int {
		switch {
		case pathLess(paths[a], paths[b]):
			return -1
		case pathLess(paths[b], paths[a]):
			return 1
		}
		return 0
	})
	ranks := make([]uint32, len(paths))
	for place, f := range order {
		ranks[f] = uint32(place)
	}
	fields.ranks.Store(&ranks)
	return ranks
}

// NumFields returns how many fields are registered.
func NumFields() int {
	if p := fields.names.Load(); p != nil {
		return len(*p)
	}
	return 0
}

// The fields the osquery normalizer fills. Registered first so that events
// built from osquery rows stay small.
var (
	Timestamp = mustField("@timestamp")

	EventID       = mustField("event.id")
	EventKind     = mustField("event.kind")
	EventCategory = mustField("event.category")
	EventType     = mustField("event.type")
	EventAction   = mustField("event.action")
	EventDataset  = mustField("event.dataset")
	EventModule   = mustField("event.module")

	HostID     = mustField("host.id")
	HostName   = mustField("host.name")
	HostOSType = mustField("host.os.type")

	ProcessPid              = mustField("process.pid")
	ProcessEntityID         = mustField("process.entity_id")
	ProcessExecutable       = mustField("process.executable")
	ProcessName             = mustField("process.name")
	ProcessCommandLine      = mustField("process.command_line")
	ProcessArgs             = mustField("process.args")
	ProcessArgsCount        = mustField("process.args_count")
	ProcessWorkingDirectory = mustField("process.working_directory")
	ProcessTitle            = mustField("process.title")
	ProcessStart            = mustField("process.start")
	ProcessUserID           = mustField("process.user.id")
	ProcessGroupID          = mustField("process.group.id")
	ProcessRealUserID       = mustField("process.real_user.id")
	ProcessRealGroupID      = mustField("process.real_group.id")
	ProcessSavedUserID      = mustField("process.saved_user.id")
	ProcessSavedGroupID     = mustField("process.saved_group.id")
	ProcessPreviousExe      = mustField("process.previous.executable")

	ParentPid              = mustField("process.parent.pid")
	ParentEntityID         = mustField("process.parent.entity_id")
	ParentExecutable       = mustField("process.parent.executable")
	ParentName             = mustField("process.parent.name")
	ParentCommandLine      = mustField("process.parent.command_line")
	ParentArgs             = mustField("process.parent.args")
	ParentArgsCount        = mustField("process.parent.args_count")
	ParentWorkingDirectory = mustField("process.parent.working_directory")
	ParentUserID           = mustField("process.parent.user.id")
	ParentGroupID          = mustField("process.parent.group.id")

	UserID           = mustField("user.id")
	UserEffectiveID  = mustField("user.effective.id")
	UserExtRealID    = mustField("user.Ext.real.id")
	GroupID          = mustField("group.id")
	GroupEffectiveID = mustField("group.effective.id")
	GroupExtRealID   = mustField("group.Ext.real.id")
	AuditUserID      = mustField("user.audit.id")

	SourceIP          = mustField("source.ip")
	SourcePort        = mustField("source.port")
	DestinationIP     = mustField("destination.ip")
	DestinationPort   = mustField("destination.port")
	NetworkType       = mustField("network.type")
	NetworkTransport  = mustField("network.transport")
	NetworkDirection  = mustField("network.direction")
	EventOutcome      = mustField("event.outcome")
	OsqueryTable      = mustField("osquery.table")
	OsqueryEID        = mustField("osquery.eid")
	OsqueryTime       = mustField("osquery.time")
	OsquerySyscall    = mustField("osquery.syscall")
	OsquerySocketPath = mustField("osquery.socket_path")
)
