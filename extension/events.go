package extension

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// EventsSetup is what osquery's own tables say about event collection:
// which tables to read and, per table, whether osquery collects them.
// Reading a disabled event table returns no rows, not an error, so this is
// how the extension tells "quiet host" from "blind sensor".
type EventsSetup struct {
	Sources []Source
	// Status is keyed by table name.
	Status map[string]SourceStatus
	// ExpirySeconds is --events_expiry: events older than this are gone.
	ExpirySeconds int64
}

// SourceStatus says whether osquery collects one event table.
type SourceStatus struct {
	Enabled bool
	// Problem is one sentence naming what to change when not Enabled.
	Problem string
}

const defaultEventsExpiry = 3600

// eventFlags are the osquery flags that decide event collection.
var eventFlags = []string{
	"disable_events", "disable_audit", "audit_allow_process_events",
	"audit_allow_sockets", "events_expiry", "enable_bpf_events",
}

// ProbeEvents reads osquery_flags, osquery_events and osquery_registry and
// picks the sources: the audit tables normally; the BPF tables only where
// osquery registers them, --enable_bpf_events is on and audit collection is
// inactive. An error means osquery could not be asked at all.
func ProbeEvents(ctx context.Context, q Querier) (EventsSetup, error) {
	quoted := make([]string, len(eventFlags))
	for i, f := range eventFlags {
		quoted[i] = "'" + f + "'"
	}
	flagRows, err := q.QueryRows(ctx, "SELECT name, value FROM osquery_flags WHERE name IN ("+strings.Join(quoted, ", ")+")")
	if err != nil {
		return EventsSetup{}, fmt.Errorf("reading osquery flags: %w", err)
	}
	flags := map[string]string{}
	for _, r := range flagRows {
		flags[r["name"]] = strings.TrimSpace(r["value"])
	}
	subRows, err := q.QueryRows(ctx, "SELECT name, type, active FROM osquery_events")
	if err != nil {
		return EventsSetup{}, fmt.Errorf("reading osquery_events: %w", err)
	}
	subscribers := map[string]bool{} // name -> active
	for _, r := range subRows {
		if r["type"] == "subscriber" {
			subscribers[r["name"]] = r["active"] == "1"
		}
	}
	regRows, err := q.QueryRows(ctx, "SELECT name FROM osquery_registry WHERE registry = 'table' AND name IN ('bpf_process_events', 'bpf_socket_events')")
	if err != nil {
		return EventsSetup{}, fmt.Errorf("reading osquery_registry: %w", err)
	}
	bpfTables := map[string]bool{}
	for _, r := range regRows {
		bpfTables[r["name"]] = true
	}

	setup := EventsSetup{Status: map[string]SourceStatus{}, ExpirySeconds: defaultEventsExpiry}
	if n, err := strconv.ParseInt(flags["events_expiry"], 10, 64); err == nil && n > 0 {
		setup.ExpirySeconds = n
	}
	isTrue := func(name string) bool { return flags[name] == "true" || flags[name] == "1" }
	isFalse := func(name string) bool { return flags[name] == "false" || flags[name] == "0" }

	auditStatus := func(table, allowFlag, allowDefault string) SourceStatus {
		switch {
		case isTrue("disable_events"):
			return SourceStatus{Problem: "osquery events are disabled: start osqueryd with --disable_events=false"}
		case isTrue("disable_audit") || flags["disable_audit"] == "":
			// osqueryd's default is --disable_audit=true.
			return SourceStatus{Problem: "the audit publisher is disabled: start osqueryd with --disable_audit=false (and stop auditd)"}
		case isFalse(allowFlag) || (flags[allowFlag] == "" && allowDefault == "false"):
			return SourceStatus{Problem: fmt.Sprintf("%s are not collected: start osqueryd with --%s=true", table, allowFlag)}
		}
		if active, listed := subscribers[table]; listed && !active {
			return SourceStatus{Problem: fmt.Sprintf("osquery_events reports the %s subscriber inactive (is auditd holding the audit socket?)", table)}
		}
		return SourceStatus{Enabled: true}
	}
	proc := auditStatus(ProcessEventsSource.Table, "audit_allow_process_events", "true")
	sock := auditStatus(SocketEventsSource.Table, "audit_allow_sockets", "false")

	bpfUsable := !isTrue("disable_events") && isTrue("enable_bpf_events") &&
		bpfTables[BPFProcessEventsSource.Table] && bpfTables[BPFSocketEventsSource.Table]
	if !proc.Enabled && bpfUsable {
		setup.Sources = []Source{BPFProcessEventsSource, BPFSocketEventsSource}
		for _, s := range setup.Sources {
			st := SourceStatus{Enabled: true}
			if active, listed := subscribers[s.Table]; listed && !active {
				st = SourceStatus{Problem: fmt.Sprintf("osquery_events reports the %s subscriber inactive", s.Table)}
			}
			setup.Status[s.Table] = st
		}
		return setup, nil
	}
	setup.Sources = []Source{ProcessEventsSource, SocketEventsSource}
	setup.Status[ProcessEventsSource.Table] = proc
	setup.Status[SocketEventsSource.Table] = sock
	return setup, nil
}
