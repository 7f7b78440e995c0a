package main

import (
	"strconv"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/detect/ecs"
)

// appendAlertJSON appends the alert as json.Marshal encodes it (the same
// bytes: fields in order, strings with HTML escaping, the events array as
// it is with <, > and & escaped) without encoding/json's reflection and
// its second pass over the events, which cost more than the rest of a
// scan's alert.
//
// a.Events must be compact JSON, as the engine writes it: json.Marshal
// would compact it, and this only escapes it.
func appendAlertJSON(b []byte, a *detect.Alert) []byte {
	str := func(key, v string) {
		b = append(b, key...)
		b = ecs.AppendJSONString(b, v, true)
	}
	num := func(key string, v int64) {
		b = append(b, key...)
		b = strconv.AppendInt(b, v, 10)
	}
	str(`{"id":`, a.ID)
	num(`,"time":`, a.Time)
	str(`,"rule_id":`, a.RuleID)
	str(`,"rule_name":`, a.RuleName)
	str(`,"rule_type":`, a.RuleType)
	str(`,"severity":`, a.Severity)
	num(`,"risk_score":`, int64(a.RiskScore))
	str(`,"tactics":`, a.Tactics)
	str(`,"techniques":`, a.Techniques)
	str(`,"host_id":`, a.HostID)
	num(`,"pid":`, a.Pid)
	str(`,"process_executable":`, a.ProcessExecutable)
	str(`,"process_name":`, a.ProcessName)
	str(`,"process_command_line":`, a.ProcessCommandLine)
	num(`,"parent_pid":`, a.ParentPid)
	str(`,"parent_executable":`, a.ParentExecutable)
	str(`,"parent_name":`, a.ParentName)
	str(`,"user_id":`, a.UserID)
	str(`,"destination_ip":`, a.DestinationIP)
	num(`,"destination_port":`, a.DestinationPort)
	str(`,"reason":`, a.Reason)
	b = append(b, `,"events":`...)
	if len(a.Events) == 0 {
		b = append(b, "null"...)
	} else {
		b = appendHTMLEscaped(b, a.Events)
	}
	return append(b, '}')
}

// appendHTMLEscaped appends JSON text with <, > and & escaped as
// json.Marshal escapes them (in JSON text they occur only inside strings).
// U+2028 and U+2029 are escaped by the events' writer already.
func appendHTMLEscaped(b, js []byte) []byte {
	start := 0
	for i, c := range js {
		if c == '<' || c == '>' || c == '&' {
			b = append(b, js[start:i]...)
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
			start = i + 1
		}
	}
	return append(b, js[start:]...)
}
