package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/osqdetect/osqdetect/extension/config"
	"github.com/osqdetect/osqdetect/fleet"
)

func init() {
	register("fleet", "write Fleet GitOps YAML or an osquery pack for osqdetect", runFleet)
}

const fleetUsage = `fleet export [--format gitops|apply] [--out PATH] [--label NAME] [--platform linux]
              [--interval 60s] [--report-interval 1h] [--window 24h] [--policy-severity high] [--team NAME]
              [--settings osqdetect.conf]
       osqdetect fleet pack [--out FILE] [--platform linux] [--interval 60s] [--report-interval 1h] [--window 24h]

export --format gitops (default) writes lib/osqdetect/{labels,queries,policies}.yml under
--out (default .) for fleetctl gitops, with agent-options.yml (fleetd extension delivery
and event flags, to merge into agent_options) and, given --settings, a script that
installs that settings file on hosts; --format apply writes osqdetect-labels.yml and
osqdetect.yml under --out for fleetctl apply -f, to be applied in that order. pack writes an
osquery pack (JSON) for osquery without Fleet (default stdout); for Fleet use export, since
fleetctl convert of the pack drops "removed": false and the discovery query.`

func runFleet(ctx context.Context, args []string, io stdio) int {
	if len(args) == 0 {
		fmt.Fprintf(io.err, "usage: osqdetect %s\n", fleetUsage)
		return exitUsage
	}
	switch args[0] {
	case "export":
		return runFleetExport(args[1:], io, false)
	case "pack":
		return runFleetExport(args[1:], io, true)
	case "-h", "--help", "help":
		fmt.Fprintf(io.err, "usage: osqdetect %s\n", fleetUsage)
		return exitOK
	}
	fmt.Fprintf(io.err, "osqdetect fleet: unknown subcommand %q (export or pack)\n", args[0])
	return exitUsage
}

func runFleetExport(args []string, io stdio, packMode bool) int {
	name := "fleet export"
	if packMode {
		name = "fleet pack"
	}
	fs := newFlagSet(name, fleetUsage, io.err)
	format := "pack"
	if !packMode {
		fs.StringVar(&format, "format", "gitops", "gitops (library files for fleetctl gitops) or apply (specs for fleetctl apply -f)")
	}
	out := fs.String("out", "", "output directory (gitops, apply) or file (pack; - for stdout)")
	label := fs.String("label", "", "name of the label of hosts running osqdetect (default \"osqdetect extension running\")")
	platform := fs.String("platform", "linux", "osquery platforms, comma-separated")
	interval := fs.Duration("interval", time.Minute, "how often new alerts are shipped")
	reportInterval := fs.Duration("report-interval", time.Hour, "how often the report (snapshot) queries run")
	window := fs.Duration("window", 24*time.Hour, "how far back the queries and the policy look")
	var severity, team, settings *string
	if !packMode {
		severity = fs.String("policy-severity", "high", "the policy fails on alerts of this severity or higher")
		team = fs.String("team", "", "team for the queries and policy (apply format only; empty: global)")
		settings = fs.String("settings", "", "osqdetect.conf to install on hosts with a generated script (gitops format)")
	}
	rest, code := parseFlags(fs, args)
	if code >= 0 {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(io.err, "osqdetect %s: unexpected argument %q\n", name, rest[0])
		return exitUsage
	}
	for flagName, d := range map[string]time.Duration{"interval": *interval, "report-interval": *reportInterval, "window": *window} {
		if d <= 0 {
			fmt.Fprintf(io.err, "osqdetect %s: --%s must be positive\n", name, flagName)
			return exitUsage
		}
	}
	o := fleet.ExportOptions{
		Rules:          builtinRuleMetas(),
		LabelName:      *label,
		Platform:       *platform,
		StreamInterval: *interval,
		ReportInterval: *reportInterval,
		Window:         *window,
	}
	if !packMode {
		o.PolicySeverity, o.Team = *severity, *team
		if o.Team != "" && format != "apply" {
			fmt.Fprintf(io.err, "osqdetect %s: --team applies to --format apply; a gitops team file takes its team from the file\n", name)
			return exitUsage
		}
		if *settings != "" {
			if format != "gitops" {
				fmt.Fprintf(io.err, "osqdetect %s: --settings applies to --format gitops\n", name)
				return exitUsage
			}
			b, err := os.ReadFile(*settings)
			if err != nil {
				fmt.Fprintf(io.err, "osqdetect %s: --settings: %v\n", name, err)
				return exitUsage
			}
			// Refuse here what the extension would refuse at start on
			// every host.
			if _, err := config.Parse(*settings, b); err != nil {
				fmt.Fprintf(io.err, "osqdetect %s: --settings: %v\n", name, err)
				return exitUsage
			}
			o.Settings = b
		}
	}

	var files []fleet.File
	var err error
	switch format {
	case "gitops":
		files, err = fleet.GitOpsFiles(o)
	case "apply":
		files, err = fleet.ApplyFiles(o)
	case "pack":
		var b []byte
		b, err = fleet.Pack(o)
		files = []fleet.File{{Path: "osqdetect.pack.json", Content: b}}
	default:
		fmt.Fprintf(io.err, "osqdetect %s: --format must be gitops or apply, not %q\n", name, format)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(io.err, "osqdetect %s: %v\n", name, err)
		return exitUsage
	}

	dest := *out
	if format == "gitops" || format == "apply" {
		if dest == "-" {
			fmt.Fprintf(io.err, "osqdetect %s: --format %s writes several files; give a directory with --out\n", name, format)
			return exitUsage
		}
		if dest == "" {
			dest = "."
		}
		for _, f := range files {
			p := filepath.Join(dest, filepath.FromSlash(f.Path))
			if err := writeExportFile(p, f.Content); err != nil {
				fmt.Fprintf(io.err, "osqdetect %s: %v\n", name, err)
				return exitFailure
			}
			fmt.Fprintf(io.err, "wrote %s\n", p)
		}
		return exitOK
	}
	if dest == "" || dest == "-" {
		if _, err := io.out.Write(files[0].Content); err != nil {
			fmt.Fprintf(io.err, "osqdetect %s: %v\n", name, err)
			return exitFailure
		}
		return exitOK
	}
	if err := writeExportFile(dest, files[0].Content); err != nil {
		fmt.Fprintf(io.err, "osqdetect %s: %v\n", name, err)
		return exitFailure
	}
	fmt.Fprintf(io.err, "wrote %s\n", dest)
	return exitOK
}

// writeExportFile writes data to path through a temporary file and rename,
// creating the parent directories.
func writeExportFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".osqdetect-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
