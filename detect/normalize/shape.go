package normalize

import "github.com/osqdetect/osqdetect/detect/ecs"

// action is what an event row did: it decides the event.* fields.
type action uint8

const (
	actExec action = iota
	actFork
	actConnect
	actAccept
	actBind
	actListen
	numActions
)

// actionInfo holds the fields an action fixes in every event it produces;
// syscall and direction are Missing where they vary or are absent.
type actionInfo struct {
	category, typ, action ecs.Value
	syscall, direction    ecs.Value
}

var actionInfos = [numActions]actionInfo{
	actExec:    {category: vProcess, typ: vStart, action: vExec},
	actFork:    {category: vProcess, typ: vStart, action: vFork},
	actConnect: {category: vNetwork, typ: vStart, action: vAttempted, syscall: vSysConnect, direction: vEgress},
	actAccept:  {category: vNetwork, typ: vStart, action: vAccepted, syscall: vSysAccept, direction: vIngress},
	actBind:    {category: vNetwork, typ: vInfo, action: vBind, syscall: vSysBind},
	actListen:  {category: vNetwork, typ: vInfo, action: vListen, syscall: vSysListen},
}

// eventFields are every field the normalizer may set on an event. Rules
// reading any other field can never match its events; shape_test.go checks
// the list against what normalization really sets.
var eventFields = []ecs.Field{
	ecs.EventID, ecs.EventKind, ecs.EventCategory, ecs.EventType, ecs.EventAction,
	ecs.EventDataset, ecs.EventModule, ecs.EventOutcome,
	ecs.HostID, ecs.HostOSType,
	ecs.ProcessPid, ecs.ProcessEntityID, ecs.ProcessExecutable, ecs.ProcessName,
	ecs.ProcessCommandLine, ecs.ProcessArgs, ecs.ProcessArgsCount, ecs.ProcessWorkingDirectory,
	ecs.ProcessTitle, ecs.ProcessUserID, ecs.ProcessGroupID, ecs.ProcessRealUserID,
	ecs.ProcessRealGroupID, ecs.ProcessSavedUserID, ecs.ProcessSavedGroupID, ecs.ProcessPreviousExe,
	ecs.ParentPid, ecs.ParentEntityID, ecs.ParentExecutable, ecs.ParentName, ecs.ParentCommandLine,
	ecs.ParentArgs, ecs.ParentArgsCount, ecs.ParentWorkingDirectory, ecs.ParentUserID, ecs.ParentGroupID,
	ecs.UserID, ecs.UserEffectiveID, ecs.UserExtRealID, ecs.GroupID, ecs.GroupEffectiveID, ecs.GroupExtRealID,
	ecs.AuditUserID,
	ecs.DestinationIP, ecs.DestinationPort, ecs.SourceIP, ecs.SourcePort,
	ecs.NetworkDirection, ecs.NetworkType, ecs.NetworkTransport,
	ecs.OsqueryTable, ecs.OsqueryTime, ecs.OsqueryEID, ecs.OsquerySyscall, ecs.OsquerySocketPath,
}

// defineShapes registers one shape per event table and action, so that an
// engine can set aside the rules none of its events can match.
func defineShapes() {
	for _, tbl := range []*tableInfo{&tProcessEvents, &tBPFProcessEvents, &tSocketEvents, &tBPFSocketEvents} {
		acts := []action{actExec, actFork}
		if tbl.kind == kindSocket {
			acts = []action{actConnect, actAccept, actBind, actListen}
		}
		for _, act := range acts {
			info := &actionInfos[act]
			cst := map[ecs.Field]ecs.Value{
				ecs.EventKind:     vEvent,
				ecs.EventModule:   vOsquery,
				ecs.EventDataset:  tbl.dataset,
				ecs.OsqueryTable:  tbl.name,
				ecs.HostOSType:    vLinux,
				ecs.EventCategory: info.category,
				ecs.EventType:     info.typ,
				ecs.EventAction:   info.action,
			}
			if info.syscall.Kind != ecs.Missing {
				cst[ecs.OsquerySyscall] = info.syscall
			}
			if info.direction.Kind != ecs.Missing {
				cst[ecs.NetworkDirection] = info.direction
			}
			tbl.shapes[act] = ecs.DefineShape(ecs.Shape{
				Name:   tbl.name.Str + "/" + info.action.Str,
				Const:  cst,
				Fields: eventFields,
			})
		}
	}
}

func init() { defineShapes() }
