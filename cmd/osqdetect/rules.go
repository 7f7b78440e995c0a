package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/rules"
)

func init() {
	register("rules", "list, validate or test detection rules (bundled and --rules DIR)", runRules)
}

func runRules(ctx context.Context, args []string, io stdio) int {
	if len(args) > 0 && args[0] == "test" {
		return runRulesTest(ctx, args[1:], io)
	}
	if len(args) == 0 || (args[0] != "list" && args[0] != "validate") {
		fmt.Fprintln(io.err, "usage: osqdetect rules list|validate [--rules DIR]... [--no-builtin]\n       osqdetect "+rulesTestUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return exitOK
		}
		return exitUsage
	}
	sub := args[0]
	fs := newFlagSet("rules "+sub, "rules "+sub+" [--rules DIR]... [--no-builtin]", io.err)
	var dirs stringList
	fs.Var(&dirs, "rules", "directory (or file) of Elastic rule TOML files; repeatable")
	noBuiltin := fs.Bool("no-builtin", false, "leave the bundled rules out")
	rest, code := parseFlags(fs, args[1:])
	if code >= 0 {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(io.err, "osqdetect rules %s: unexpected argument %q\n", sub, rest[0])
		return exitUsage
	}
	set, err := rules.Load(dirs, rules.LoadOptions{SkipBuiltin: *noBuiltin})
	if err != nil {
		fmt.Fprintf(io.err, "osqdetect rules %s: %v\n", sub, err)
		return exitUsage
	}
	if sub == "list" {
		printRuleTable(io, set)
		return exitOK
	}
	rejected := set.Rejected()
	for _, st := range rejected {
		fmt.Fprintln(io.out, "rejected: "+st.Error)
	}
	loaded := len(set.Status) - len(rejected)
	fmt.Fprintf(io.out, "%d rules loaded, %d rejected\n", loaded, len(rejected))
	if len(rejected) > 0 {
		return exitUsage
	}
	return exitOK
}

func printRuleTable(io stdio, set *rules.Set) {
	tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE ID\tNAME\tTYPE\tSEVERITY\tRISK\tENABLED\tSOURCE\tNOTE")
	for _, st := range set.Status {
		m := st.Meta
		enabled := strconv.FormatBool(st.Enabled)
		if st.Rejected {
			enabled = "rejected"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", m.ID, m.Name, m.Type, m.Severity, m.RiskScore,
			enabled, m.Source, strings.TrimPrefix(st.Error, m.Source+": "))
	}
	tw.Flush()
}

// builtinRuleMetas returns the metadata of the bundled rules.
func builtinRuleMetas() []detect.RuleMeta {
	set, err := rules.Load(nil, rules.LoadOptions{})
	if err != nil {
		return nil
	}
	return set.Metas()
}
