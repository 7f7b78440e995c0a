package normalize

import "github.com/osqdetect/osqdetect/detect/ecs"

// block is a group of fields the normalizer can leave out of an event
// until the event is completed (ecs.Event.Complete): fields no rule reads
// to match, needed only when an alert is built or a sequence keeps the
// event. Leaving them out saves their lookups, copies and allocations on
// the many events that match nothing.
type block uint8

const (
	blockIdentity     block = 1 << iota // event.id, osquery.eid, osquery.time
	blockIDs                            // the user and group ids of a process row
	blockProcessExtra                   // process.title, args_count, working_directory, previous.executable
	blockParentExtra                    // the parent's command line, args, working directory and ids
)

var blockFields = []struct {
	b      block
	fields []ecs.Field
}{
	{blockIdentity, []ecs.Field{ecs.EventID, ecs.OsqueryEID, ecs.OsqueryTime}},
	{blockIDs, []ecs.Field{ecs.UserID, ecs.UserExtRealID, ecs.ProcessRealUserID, ecs.GroupID, ecs.GroupExtRealID,
		ecs.ProcessRealGroupID, ecs.ProcessUserID, ecs.UserEffectiveID, ecs.ProcessGroupID, ecs.GroupEffectiveID,
		ecs.ProcessSavedUserID, ecs.ProcessSavedGroupID, ecs.AuditUserID}},
	{blockProcessExtra, []ecs.Field{ecs.ProcessTitle, ecs.ProcessArgsCount, ecs.ProcessWorkingDirectory, ecs.ProcessPreviousExe}},
	{blockParentExtra, []ecs.Field{ecs.ParentCommandLine, ecs.ParentArgs, ecs.ParentArgsCount,
		ecs.ParentWorkingDirectory, ecs.ParentUserID, ecs.ParentGroupID}},
}

// blockOf is the block of each deferrable field, by id (0: none).
var blockOf []block

func init() {
	for _, bf := range blockFields {
		ecs.MarkDeferrable(bf.fields...)
		for _, f := range bf.fields {
			for int(f) >= len(blockOf) {
				blockOf = append(blockOf, 0)
			}
			blockOf[f] = bf.b
		}
	}
}

// deferrable returns the blocks none of whose fields are in reads; nil
// reads means every field is read. A block left out is filled in when an
// event is completed or one of its fields is first read (ecs.Event.Defer),
// so reads need only name the fields read from every event.
func deferrable(reads []string) block {
	if reads == nil {
		return 0
	}
	read := make(map[string]bool, len(reads))
	for _, name := range reads {
		read[name] = true
	}
	var out block
	for _, bf := range blockFields {
		used := false
		for _, f := range bf.fields {
			used = used || read[f.Name()]
		}
		if !used {
			out |= bf.b
		}
	}
	return out
}

// pending is what completing the last event needs: the blocks left out and
// the row, cache entries and values they are filled from. Cache entries
// stay valid until the next row changes the cache, and the next Normalize
// completes a still pending event first.
type pending struct {
	ev                   *ecs.Event
	blocks               block
	row                  Row
	t                    int64
	eid                  string
	uid, gid, euid, egid string
	proc                 *proc
	prevExe              string
	parent               *proc
}

// deferring reports whether b is left out of the event being made, and
// marks it pending.
func (n *Normalizer) deferring(b block) bool {
	if n.lazy&b == 0 {
		return false
	}
	n.pend.blocks |= b
	return true
}

// complete fills in the blocks left out of ev: all of them when ev is
// completed, the block of the wanted field when a read of it asks (the
// others stay pending, and complete stays deferred for them).
func (n *Normalizer) complete(ev *ecs.Event) {
	p := &n.pend
	if p.ev != ev || p.blocks == 0 {
		return
	}
	blocks := p.blocks
	if f, ok := ev.Wanted(); ok {
		if int(f) < len(blockOf) {
			blocks &= blockOf[f]
		} else {
			blocks = 0
		}
		if p.blocks &^= blocks; p.blocks != 0 {
			ev.Defer(n.completeFn)
		}
	} else {
		p.blocks = 0
	}
	if blocks&blockIdentity != 0 {
		n.setIdentity(&p.row, ev, p.t, p.eid)
	}
	if blocks&blockIDs != 0 {
		setIDs(ev, &p.row, p.uid, p.gid, p.euid, p.egid)
	}
	if blocks&blockProcessExtra != 0 {
		if p.proc != nil {
			n.setProcessExtra(ev, p.proc)
		}
		ev.SetStr(ecs.ProcessPreviousExe, p.prevExe)
	}
	if blocks&blockParentExtra != 0 && p.parent != nil {
		n.setParentExtra(ev, p.parent)
	}
	if p.blocks == 0 {
		// Nothing of this row may fill in a later row's event (a socket
		// row defers no previous executable, for one).
		*p = pending{}
	}
}
