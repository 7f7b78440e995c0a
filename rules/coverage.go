package rules

import "strings"

// providedFields are the ECS fields the osquery normalizer fills from
// process_events and socket_events rows (design §3). A rule that needs
// another field still loads, but detection_rules says what it lacks.
var providedFields = map[string]bool{
	"@timestamp": true, "event.id": true, "event.kind": true, "event.category": true, "event.type": true,
	"event.action": true, "event.dataset": true, "event.module": true, "event.outcome": true,
	"host.id": true, "host.os.type": true,
	"process.pid": true, "process.entity_id": true, "process.executable": true, "process.name": true,
	"process.command_line": true, "process.args": true, "process.args_count": true,
	"process.working_directory": true, "process.title": true, "process.previous.executable": true,
	"process.user.id": true, "process.group.id": true, "process.real_user.id": true, "process.real_group.id": true,
	"process.saved_user.id": true, "process.saved_group.id": true,
	"process.parent.pid": true, "process.parent.entity_id": true, "process.parent.executable": true,
	"process.parent.name": true, "process.parent.command_line": true, "process.parent.args": true,
	"process.parent.args_count": true, "process.parent.working_directory": true,
	"process.parent.user.id": true, "process.parent.group.id": true,
	"user.id": true, "user.effective.id": true, "user.Ext.real.id": true, "user.audit.id": true,
	"group.id": true, "group.effective.id": true, "group.Ext.real.id": true,
	"source.ip": true, "source.port": true, "destination.ip": true, "destination.port": true,
	"network.type": true,
}

func osqueryProvides(field string) bool {
	return providedFields[strings.TrimPrefix(field, "?")]
}
