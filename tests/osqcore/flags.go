package osqcore

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// flagSpec describes one osqueryd command-line flag the stand-in knows.
type flagSpec struct {
	name        string
	typ         string // bool, string, uint64, int32, uint32
	def         string // osqueryd's compiled-in default
	description string
	shellOnly   bool
}

// flagCatalog lists the flags that matter to extensions and to event
// collection on Linux, with osqueryd's own defaults and descriptions.
var flagCatalog = []flagSpec{
	{"disable_events", "bool", "false", "Disable osquery publish/subscribe system", false},
	{"disable_audit", "bool", "true", "Disable receiving events from the audit subsystem", false},
	{"audit_allow_config", "bool", "false", "Allow the audit publisher to change auditing configuration", false},
	{"audit_allow_process_events", "bool", "true", "Allow the audit publisher to install process event monitoring rules", false},
	{"audit_allow_fork_process_events", "bool", "false", "Allow the audit publisher to install process event monitoring rules to capture fork/vfork/clone system calls", false},
	{"audit_allow_sockets", "bool", "false", "Allow the audit publisher to install socket-related rules", false},
	{"audit_allow_accept_socket_events", "bool", "true", "Include rows for accept socket events", false},
	{"audit_allow_failed_socket_events", "bool", "false", "Include rows for socket events that have failed", false},
	{"audit_allow_null_accept_socket_events", "bool", "false", "Allow non-blocking accept() syscalls that returned EAGAIN/EWOULDBLOCK", false},
	{"audit_persist", "bool", "true", "Attempt to retain control of audit", false},
	{"events_expiry", "uint64", "3600", "Timeout to expire event subscriber results", false},
	{"events_max", "uint64", "50000", "Maximum number of events per type to buffer", false},
	{"events_optimize", "bool", "true", "Optimize subscriber select queries (scheduler only)", false},
	{"disable_extensions", "bool", "false", "Disable extension API", false},
	{"extensions_socket", "string", "/var/osquery/osquery.em", "Path to the extensions UNIX domain socket", false},
	{"extensions_autoload", "string", "/etc/osquery/extensions.load", "Optional path to a list of autoloaded & managed extensions", false},
	{"extensions_timeout", "string", "3", "Seconds to wait for autoloaded extensions", false},
	{"extensions_interval", "string", "3", "Seconds delay between connectivity checks", false},
	{"extensions_require", "string", "", "Comma-separated list of required extensions", false},
	{"extensions_default_index", "bool", "true", "Enable INDEX on all extension table columns (default true)", false},
	{"thrift_timeout", "uint32", "300", "Thrift socket timeout (in seconds) for core to extension calls", false},
	{"host_identifier", "string", "hostname", "Field used to identify the host running osquery (hostname, uuid, instance, ephemeral, specified)", false},
	{"config_plugin", "string", "filesystem", "Config plugin name", false},
	{"logger_plugin", "string", "filesystem", "Logger plugin name", false},
	{"pack_delimiter", "string", "_", "Delimiter for pack and query names", false},
	{"verbose", "bool", "false", "Enable verbose informational messages", false},
}

func lookupFlag(name string) (flagSpec, bool) {
	for _, f := range flagCatalog {
		if f.name == name {
			return f, true
		}
	}
	return flagSpec{}, false
}

// normalizeFlag checks value against the flag's type and returns the form
// osqueryd reports (booleans as "true"/"false").
func normalizeFlag(name, value string) (string, error) {
	spec, ok := lookupFlag(name)
	if !ok {
		return "", fmt.Errorf("unknown flag %q", name)
	}
	switch spec.typ {
	case "bool":
		b, err := strconv.ParseBool(strings.TrimSpace(value))
		if err != nil {
			return "", fmt.Errorf("flag %s: %q is not a boolean", name, value)
		}
		return strconv.FormatBool(b), nil
	case "uint64", "uint32":
		n, err := strconv.ParseUint(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return "", fmt.Errorf("flag %s: %q is not an unsigned integer", name, value)
		}
		return strconv.FormatUint(n, 10), nil
	}
	return value, nil
}

// standInFlags are the values the stand-in runs with unless told otherwise:
// a daemon configured for audit-based process and socket events, which is
// the setup the detection extension documents.
var standInFlags = map[string]string{
	"disable_events":             "false",
	"disable_audit":              "false",
	"audit_allow_config":         "true",
	"audit_allow_process_events": "true",
	"audit_allow_sockets":        "true",
}

// flagSet holds current flag values; not safe for concurrent use on its own
// (Core guards it).
type flagSet map[string]string

func newFlagSet() flagSet {
	fs := flagSet{}
	for _, f := range flagCatalog {
		fs[f.name] = f.def
	}
	for k, v := range standInFlags {
		fs[k] = v
	}
	return fs
}

func (fs flagSet) bool(name string) bool { return fs[name] == "true" }

func (fs flagSet) uint(name string) uint64 {
	n, _ := strconv.ParseUint(fs[name], 10, 64)
	return n
}

func (fs flagSet) sortedNames() []string {
	names := make([]string, 0, len(fs))
	for n := range fs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// eventsActive reports whether the audit subscriber behind table collects
// events under the current flags.
func (fs flagSet) eventsActive(table string) bool {
	if fs.bool("disable_events") || fs.bool("disable_audit") {
		return false
	}
	switch table {
	case "process_events":
		return fs.bool("audit_allow_process_events")
	case "socket_events":
		return fs.bool("audit_allow_sockets")
	}
	return true
}
