// Command benchlog writes a synthetic osquery results log for benchmarks
// (see package benchlog) to stdout.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/osqdetect/osqdetect/internal/benchlog"
)

func main() {
	var o benchlog.Options
	flag.IntVar(&o.Rows, "rows", 300000, "rows to write")
	flag.IntVar(&o.Hosts, "hosts", 20, "hosts")
	flag.IntVar(&o.RowsPerSecond, "rate", 1000, "rows per second of osquery time, all hosts together")
	flag.IntVar(&o.Pids, "pids", 2000, "pids per host")
	flag.IntVar(&o.AttackEvery, "attack-every", 1000, "rows between attacks (0: none)")
	flag.BoolVar(&o.Unique, "unique", true, "every benign command line different")
	flag.Parse()
	if _, err := benchlog.Write(os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "benchlog:", err)
		os.Exit(1)
	}
}
