package osqcore

import (
	"fmt"
	"sort"
	"strings"
)

// Column types as osquery names them in table specs and extension routes.
const (
	TypeText     = "TEXT"
	TypeInteger  = "INTEGER"
	TypeBigInt   = "BIGINT"
	TypeUBigInt  = "UNSIGNED_BIGINT"
	TypeDouble   = "DOUBLE"
	TypeBlob     = "BLOB"
	typeUnknown  = "UNKNOWN"
	columnHidden = 16 // osquery ColumnOptions::HIDDEN in an extension route's "op"
)

// Column is one declared column of a table.
type Column struct {
	Name   string
	Type   string // TEXT, INTEGER, BIGINT, UNSIGNED_BIGINT, DOUBLE, BLOB
	Hidden bool   // not part of SELECT *, selectable by name
}

func (c Column) isNumeric() bool {
	switch c.Type {
	case TypeInteger, TypeBigInt, TypeUBigInt:
		return true
	}
	return false
}

// validType reports whether t is a column type osquery knows.
func validType(t string) bool {
	switch t {
	case TypeText, TypeInteger, TypeBigInt, TypeUBigInt, TypeDouble, TypeBlob:
		return true
	}
	return false
}

func text(name string) Column   { return Column{Name: name, Type: TypeText} }
func bigint(name string) Column { return Column{Name: name, Type: TypeBigInt} }
func integer(name string) Column {
	return Column{Name: name, Type: TypeInteger}
}
func hidden(c Column) Column { c.Hidden = true; return c }

// Core table schemas, column for column as in osquery's specs (Linux build).
var (
	processEventsColumns = []Column{
		bigint("pid"), text("path"), text("mode"), text("cmdline"),
		hidden(bigint("cmdline_size")), hidden(text("env")), hidden(bigint("env_count")),
		hidden(bigint("env_size")), text("cwd"), bigint("auid"), bigint("uid"),
		bigint("euid"), bigint("gid"), bigint("egid"), bigint("owner_uid"),
		bigint("owner_gid"), bigint("atime"), bigint("mtime"), bigint("ctime"),
		bigint("btime"), hidden(text("overflows")), bigint("parent"), bigint("time"),
		bigint("uptime"), hidden(text("eid")), bigint("fsuid"), bigint("suid"),
		bigint("fsgid"), bigint("sgid"), text("syscall"),
	}
	socketEventsColumns = []Column{
		text("action"), bigint("pid"), text("path"), text("fd"), bigint("auid"),
		integer("family"), hidden(integer("protocol")), text("local_address"),
		text("remote_address"), integer("local_port"), integer("remote_port"),
		hidden(text("socket")), bigint("time"), bigint("uptime"), hidden(text("eid")),
		hidden(integer("success")), text("status"),
	}
	processesColumns = []Column{
		bigint("pid"), text("name"), text("path"), text("cmdline"), text("state"),
		text("cwd"), text("root"), bigint("uid"), bigint("gid"), bigint("euid"),
		bigint("egid"), bigint("suid"), bigint("sgid"), integer("on_disk"),
		bigint("wired_size"), bigint("resident_size"), bigint("total_size"),
		bigint("user_time"), bigint("system_time"), bigint("disk_bytes_read"),
		bigint("disk_bytes_written"), bigint("start_time"), bigint("parent"),
		bigint("pgroup"), integer("threads"), integer("nice"), text("cgroup_path"),
	}
	systemInfoColumns = []Column{
		text("hostname"), text("uuid"), text("cpu_type"), text("cpu_subtype"),
		text("cpu_brand"), integer("cpu_physical_cores"), integer("cpu_logical_cores"),
		integer("cpu_sockets"), text("cpu_microcode"), bigint("physical_memory"),
		text("hardware_vendor"), text("hardware_model"), text("hardware_version"),
		text("hardware_serial"), text("board_vendor"), text("board_model"),
		text("board_version"), text("board_serial"), text("computer_name"),
		text("local_hostname"),
	}
	osqueryEventsColumns = []Column{
		text("name"), text("publisher"), text("type"), integer("subscriptions"),
		integer("events"), integer("refreshes"), integer("active"),
	}
	osqueryFlagsColumns = []Column{
		text("name"), text("type"), text("description"), text("default_value"),
		text("value"), integer("shell_only"),
	}
	osqueryExtensionsColumns = []Column{
		bigint("uuid"), text("name"), text("version"), text("sdk_version"),
		text("path"), text("type"),
	}
	osqueryRegistryColumns = []Column{
		text("registry"), text("name"), text("owner_uuid"), integer("internal"),
		integer("active"),
	}
	osqueryInfoColumns = []Column{
		integer("pid"), text("uuid"), text("instance_id"), text("version"),
		text("config_hash"), integer("config_valid"), text("extensions"),
		text("build_platform"), text("build_distro"), integer("start_time"),
		integer("watcher"), integer("platform_mask"),
	}
)

// declareSQL renders the CREATE TABLE statement sqlite3_declare_vtab expects.
func declareSQL(name string, cols []Column) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE ")
	b.WriteString(quoteIdent(name))
	b.WriteString("(")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(c.Name))
		b.WriteString(" ")
		b.WriteString(c.Type)
		if c.Hidden {
			b.WriteString(" HIDDEN")
		}
	}
	b.WriteString(")")
	return b.String()
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// ColumnsFromRoutes turns the routes an extension sends for a table plugin
// (entries {"id":"column","name":..,"type":..,"op":..}) into columns. Entries
// with other ids (aliases, attributes) are ignored, like osqueryd does for
// the parts it does not need to build the virtual table.
func ColumnsFromRoutes(table string, routes []map[string]string) ([]Column, error) {
	var cols []Column
	seen := map[string]bool{}
	for i, r := range routes {
		if r["id"] != "column" {
			continue
		}
		name := r["name"]
		if name == "" {
			return nil, fmt.Errorf("table %q route %d: column without a name", table, i)
		}
		if strings.ContainsRune(name, 0) {
			return nil, fmt.Errorf("table %q route %d: column name contains NUL", table, i)
		}
		if seen[strings.ToLower(name)] {
			return nil, fmt.Errorf("table %q route %d: duplicate column %q", table, i, name)
		}
		seen[strings.ToLower(name)] = true
		typ := strings.ToUpper(r["type"])
		if !validType(typ) {
			return nil, fmt.Errorf("table %q column %q: unknown type %q", table, name, r["type"])
		}
		col := Column{Name: name, Type: typ}
		if op := r["op"]; op != "" {
			var bits int
			if _, err := fmt.Sscanf(op, "%d", &bits); err != nil {
				return nil, fmt.Errorf("table %q column %q: bad options %q", table, name, op)
			}
			col.Hidden = bits&columnHidden != 0
		}
		cols = append(cols, col)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("table %q: no columns in routes", table)
	}
	return cols, nil
}

// sortedColumnNames returns the column names sorted, the order in which
// osqueryd lists constraints in a generate context.
func sortedColumnNames(cols []Column) []int {
	idx := make([]int, len(cols))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return cols[idx[a]].Name < cols[idx[b]].Name })
	return idx
}
