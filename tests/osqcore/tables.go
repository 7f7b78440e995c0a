package osqcore

import (
	"context"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"
)

func sortStrings(s []string) { sort.Strings(s) }

func sortExtensions(e []ExtensionInfo) {
	sort.Slice(e, func(i, j int) bool {
		if e[i].Name != e[j].Name {
			return e[i].Name < e[j].Name
		}
		return e[i].UUID < e[j].UUID
	})
}

// coreTables builds the registry of the core's own tables.
func (c *Core) coreTables() map[string]*tableDef {
	tables := map[string]*tableDef{}
	add := func(name string, cols []Column, gen func(qc *QueryContext) rowSet) {
		tables[name] = &tableDef{name: name, columns: cols, generate: func(_ context.Context, qc *QueryContext) (rowSet, error) {
			return gen(qc), nil
		}}
	}
	for _, name := range []string{"process_events", "socket_events"} {
		name := name
		add(name, c.events[name].columns, func(qc *QueryContext) rowSet {
			c.mu.Lock()
			defer c.mu.Unlock()
			if !c.flags.eventsActive(name) {
				// osqueryd warns on every such query; once a minute is enough here.
				if now := time.Now(); now.Sub(c.disabledWarned[name]) > time.Minute {
					c.disabledWarned[name] = now
					c.log.Warn("table is event-based but events are disabled", "table", name)
				}
				return typedRows{}
			}
			return c.events[name].selectRows(qc)
		})
	}
	add("processes", processesColumns, func(*QueryContext) rowSet {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.processes.rows()
	})
	add("system_info", systemInfoColumns, func(*QueryContext) rowSet { return c.systemInfo() })
	add("osquery_events", osqueryEventsColumns, func(*QueryContext) rowSet { return c.osqueryEvents() })
	add("osquery_flags", osqueryFlagsColumns, func(*QueryContext) rowSet { return c.osqueryFlags() })
	add("osquery_extensions", osqueryExtensionsColumns, func(*QueryContext) rowSet { return c.osqueryExtensions() })
	add("osquery_registry", osqueryRegistryColumns, func(*QueryContext) rowSet { return c.osqueryRegistry() })
	add("osquery_info", osqueryInfoColumns, func(*QueryContext) rowSet { return c.osqueryInfo() })
	return tables
}

func (c *Core) systemInfo() rowSet {
	cpus := strconv.Itoa(runtime.NumCPU())
	row := map[string]string{
		"hostname": c.opts.Hostname, "uuid": c.opts.HostUUID, "cpu_type": runtime.GOARCH,
		"cpu_subtype": "", "cpu_brand": "", "cpu_physical_cores": cpus, "cpu_logical_cores": cpus,
		"cpu_sockets": "1", "cpu_microcode": "", "physical_memory": "0",
		"hardware_vendor": "", "hardware_model": "", "hardware_version": "", "hardware_serial": "",
		"board_vendor": "", "board_model": "", "board_version": "", "board_serial": "",
		"computer_name": c.opts.Hostname, "local_hostname": c.opts.Hostname,
	}
	return stringRows{cols: systemInfoColumns, rows: []map[string]string{row}}
}

func boolText(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (c *Core) osqueryEvents() rowSet {
	c.mu.Lock()
	defer c.mu.Unlock()
	audit := !c.flags.bool("disable_events") && !c.flags.bool("disable_audit")
	pe, se := c.events["process_events"], c.events["socket_events"]
	subs := 0
	for _, name := range []string{"process_events", "socket_events"} {
		if c.flags.eventsActive(name) {
			subs++
		}
	}
	rows := []map[string]string{
		{"name": "auditeventpublisher", "publisher": "auditeventpublisher", "type": "publisher",
			"subscriptions": strconv.Itoa(subs), "events": strconv.FormatUint(pe.total+se.total, 10),
			"refreshes": strconv.FormatUint(pe.batches+se.batches, 10), "active": boolText(audit)},
	}
	for _, t := range []*eventTable{pe, se} {
		rows = append(rows, map[string]string{
			"name": t.name, "publisher": "auditeventpublisher", "type": "subscriber",
			"subscriptions": "1", "events": strconv.FormatUint(t.total, 10), "refreshes": "0",
			"active": boolText(c.flags.eventsActive(t.name)),
		})
	}
	return stringRows{cols: osqueryEventsColumns, rows: rows}
}

func (c *Core) osqueryFlags() rowSet {
	c.mu.Lock()
	defer c.mu.Unlock()
	var rows []map[string]string
	for _, name := range c.flags.sortedNames() {
		spec, _ := lookupFlag(name)
		rows = append(rows, map[string]string{
			"name": name, "type": spec.typ, "description": spec.description,
			"default_value": spec.def, "value": c.flags[name], "shell_only": boolText(spec.shellOnly),
		})
	}
	return stringRows{cols: osqueryFlagsColumns, rows: rows}
}

func (c *Core) osqueryExtensions() rowSet {
	rows := []map[string]string{{
		"uuid": "0", "name": "core", "version": Version, "sdk_version": "0.0.0",
		"path": c.opts.Socket, "type": "core",
	}}
	for _, e := range c.Extensions() {
		rows = append(rows, map[string]string{
			"uuid": strconv.FormatInt(e.UUID, 10), "name": e.Name, "version": e.Version,
			"sdk_version": e.SDKVersion, "path": e.Socket, "type": "extension",
		})
	}
	return stringRows{cols: osqueryExtensionsColumns, rows: rows}
}

func (c *Core) osqueryRegistry() rowSet {
	c.mu.Lock()
	defer c.mu.Unlock()
	var rows []map[string]string
	names := make([]string, 0, len(c.tables))
	for n := range c.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rows = append(rows, map[string]string{
			"registry": "table", "name": n, "owner_uuid": strconv.FormatInt(c.tables[n].owner, 10),
			"internal": "0", "active": "1",
		})
	}
	for _, reg := range []string{"config", "logger"} {
		rows = append(rows, map[string]string{
			"registry": reg, "name": "filesystem", "owner_uuid": "0", "internal": "0",
			"active": boolText(c.flags[reg+"_plugin"] == "filesystem"),
		})
	}
	for id, e := range c.extensions {
		for reg, items := range e.registry {
			if reg == "table" {
				continue
			}
			for item := range items {
				rows = append(rows, map[string]string{
					"registry": reg, "name": item, "owner_uuid": strconv.FormatInt(id, 10),
					"internal": "0", "active": boolText(c.flags[reg+"_plugin"] == item),
				})
			}
		}
	}
	return stringRows{cols: osqueryRegistryColumns, rows: rows}
}

func (c *Core) osqueryInfo() rowSet {
	ext := "active"
	if c.Flag("disable_extensions") == "true" {
		ext = "inactive"
	}
	row := map[string]string{
		"pid": strconv.Itoa(os.Getpid()), "uuid": c.opts.HostUUID, "instance_id": c.opts.HostUUID,
		"version": Version, "config_hash": "", "config_valid": "0", "extensions": ext,
		"build_platform": "linux", "build_distro": "centos7", "start_time": strconv.FormatInt(c.startTime.Unix(), 10),
		"watcher": "-1", "platform_mask": "9",
	}
	return stringRows{cols: osqueryInfoColumns, rows: []map[string]string{row}}
}
