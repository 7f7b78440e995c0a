package detect

import (
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// alertNamespace is the UUID namespace of alert ids.
var alertNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/osqdetect/osqdetect/alerts"))

// AlertID is the deterministic id of an alert: a name-based UUID (SHA-1)
// of the rule id, the identities of the matched events and, for new-terms
// rules, the term. Processing the same events twice gives the same id.
func AlertID(ruleID string, eventIDs []string, term string) string {
	var b strings.Builder
	b.WriteString(ruleID)
	for _, id := range eventIDs {
		b.WriteByte(0)
		b.WriteString(id)
	}
	if term != "" {
		b.WriteString("\x00term\x00")
		b.WriteString(term)
	}
	return uuid.NewSHA1(alertNamespace, []byte(b.String())).String()
}

// EventIdentity is the identity of an event for alert ids: its event.id,
// or its time and stream position when it has none.
func EventIdentity(ev *ecs.Event) string {
	if v := ev.Get(ecs.EventID); v.Kind == ecs.String && v.Str != "" {
		return v.Str
	}
	return "t" + strconv.FormatInt(ev.Time, 10) + "s" + strconv.FormatUint(ev.Seq, 10)
}

// buildAlert turns matched events into an alert. The alert's time is the
// last (triggering) event's; its process and parent fields come from the
// first event that has them, which for a sequence is the process that
// started it; network fields come from the first event that has them.
func buildAlert(r *Rule, events []*ecs.Event, term string) *Alert {
	last := events[len(events)-1]
	ids := make([]string, len(events))
	for i, ev := range events {
		ids[i] = EventIdentity(ev)
	}
	m := &r.Meta
	a := &Alert{
		ID:         AlertID(m.ID, ids, term),
		Time:       floorDiv(last.Time, 1000),
		TimeMillis: last.Time,
		RuleID:     m.ID,
		RuleName:   m.Name,
		RuleType:   m.Type,
		Severity:   m.Severity,
		RiskScore:  m.RiskScore,
		Tactics:    joinIDs(m.Tactics),
		Techniques: joinIDs(m.Techniques),
	}
	a.HostID = firstText(events, ecs.HostID)
	a.Pid = firstInt(events, ecs.ProcessPid)
	a.ProcessExecutable = firstText(events, ecs.ProcessExecutable)
	a.ProcessName = firstText(events, ecs.ProcessName)
	a.ProcessCommandLine = firstText(events, ecs.ProcessCommandLine)
	a.ParentPid = firstInt(events, ecs.ParentPid)
	a.ParentExecutable = firstText(events, ecs.ParentExecutable)
	a.ParentName = firstText(events, ecs.ParentName)
	a.UserID = firstText(events, ecs.UserID)
	a.DestinationIP = firstText(events, ecs.DestinationIP)
	a.DestinationPort = firstInt(events, ecs.DestinationPort)
	a.Reason = reason(r, events, term)
	a.Events = marshalEvents(events)
	return a
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func firstText(events []*ecs.Event, f ecs.Field) string {
	for _, ev := range events {
		v := ev.Get(f)
		if v.Kind == ecs.Array && len(v.Arr) > 0 {
			v = v.Arr[0]
		}
		if s, ok := v.Text(); ok && s != "" {
			// The alert outlives the event, whose strings may be views
			// of buffers reused once it is processed.
			return strings.Clone(s)
		}
	}
	return ""
}

func firstInt(events []*ecs.Event, f ecs.Field) int64 {
	for _, ev := range events {
		if n, ok := ev.Get(f).Number(); ok {
			return int64(n)
		}
	}
	return 0
}

func marshalEvents(events []*ecs.Event) []byte {
	b := make([]byte, 0, 2048*len(events))
	b = append(b, '[')
	for i, ev := range events {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = ev.AppendJSON(b); err != nil {
			// JSON text, as every alert's events are (strconv.Quote's
			// escapes are Go's, not JSON's).
			b = append(b, `{"error":`...)
			b = append(ecs.AppendJSONString(b, err.Error(), false), '}')
		}
	}
	return append(b, ']')
}

// reason writes one readable sentence in the style of Kibana's alert reason.
func reason(r *Rule, events []*ecs.Event, term string) string {
	var b strings.Builder
	if len(events) > 1 {
		b.WriteString("sequence of ")
		b.WriteString(strconv.Itoa(len(events)))
		b.WriteString(" events (")
		for i, ev := range events {
			if i > 0 {
				b.WriteString(", then ")
			}
			describe(&b, ev)
		}
		b.WriteString(")")
	} else {
		describe(&b, events[0])
	}
	if host := firstText(events, ecs.HostID); host != "" {
		b.WriteString(" on host ")
		b.WriteString(host)
	}
	if r.kind == KindNewTerms && term != "" {
		b.WriteString(" with new ")
		b.WriteString(strings.Join(r.Meta.NewTermsFields, ", "))
		b.WriteString(" ")
		b.WriteString(strconv.Quote(strings.ReplaceAll(term, "\x1f", ", ")))
	}
	if r.kind == KindThreshold {
		b.WriteString(" reached the threshold of ")
		b.WriteString(strconv.Itoa(r.threshold.Value))
		b.WriteString(" events")
	}
	b.WriteString(" created ")
	b.WriteString(r.Meta.Severity)
	b.WriteString(" alert ")
	b.WriteString(r.Meta.Name)
	b.WriteString(".")
	return b.String()
}

// describe renders one event: "process exec of /tmp/x (pid 42) by user 0
// with parent bash" or "network connection_attempted by /tmp/x (pid 42) to
// 203.0.113.7:4444".
func describe(b *strings.Builder, ev *ecs.Event) {
	cat := firstText([]*ecs.Event{ev}, ecs.EventCategory)
	if cat == "" {
		cat = "event"
	}
	b.WriteString(cat)
	if action := firstText([]*ecs.Event{ev}, ecs.EventAction); action != "" {
		b.WriteString(" ")
		b.WriteString(action)
	}
	exe := firstText([]*ecs.Event{ev}, ecs.ProcessExecutable)
	if exe == "" {
		exe = firstText([]*ecs.Event{ev}, ecs.ProcessName)
	}
	if exe != "" {
		if cat == "process" {
			b.WriteString(" of ")
		} else {
			b.WriteString(" by ")
		}
		b.WriteString(exe)
		if pid, ok := ev.Get(ecs.ProcessPid).Number(); ok {
			b.WriteString(" (pid ")
			b.WriteString(strconv.FormatInt(int64(pid), 10))
			b.WriteString(")")
		}
	}
	if ip := firstText([]*ecs.Event{ev}, ecs.DestinationIP); ip != "" {
		b.WriteString(" to ")
		if strings.Contains(ip, ":") {
			b.WriteString("[" + ip + "]")
		} else {
			b.WriteString(ip)
		}
		if port, ok := ev.Get(ecs.DestinationPort).Number(); ok {
			b.WriteString(":")
			b.WriteString(strconv.FormatInt(int64(port), 10))
		}
	}
	if uid := firstText([]*ecs.Event{ev}, ecs.UserID); uid != "" && cat == "process" {
		b.WriteString(" by user ")
		b.WriteString(uid)
	}
	if parent := firstText([]*ecs.Event{ev}, ecs.ParentName); parent != "" && cat == "process" {
		b.WriteString(" with parent ")
		b.WriteString(parent)
	}
}
