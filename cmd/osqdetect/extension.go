package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/osqdetect/osqdetect/extension"
	"github.com/osqdetect/osqdetect/extension/config"
)

func init() {
	register("extension", "run as an osquery extension (started by osqueryd)", runExtension)
}

// seconds is a flag holding a duration given as osqueryd passes it: a
// number of seconds ("3", "0.5"); a Go duration ("3s") is accepted too.
type seconds struct{ d time.Duration }

func (s *seconds) String() string { return strconv.FormatFloat(s.d.Seconds(), 'f', -1, 64) }

func (s *seconds) Set(v string) error {
	v = strings.TrimSpace(v)
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 {
			return errors.New("must not be negative")
		}
		s.d = time.Duration(f * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fmt.Errorf("%q is not a number of seconds", v)
	}
	s.d = d
	return nil
}

// extensionFlags are exactly the flags osqueryd's autoloader passes.
type extensionFlags struct {
	socket   string
	timeout  seconds
	interval seconds
	verbose  bool
}

func parseExtensionFlags(args []string, io stdio) (extensionFlags, int) {
	f := extensionFlags{timeout: seconds{3 * time.Second}, interval: seconds{3 * time.Second}}
	fs := flag.NewFlagSet("osqdetect.ext", flag.ContinueOnError)
	fs.SetOutput(io.err)
	fs.Usage = func() {
		fmt.Fprintln(io.err, "usage: osqdetect.ext --socket PATH [--timeout N] [--interval N] [--verbose]")
		fmt.Fprintln(io.err, "Started by osqueryd; settings come from $OSQDETECT_CONFIG or "+config.DefaultPath+".")
		fs.PrintDefaults()
	}
	fs.StringVar(&f.socket, "socket", "", "osquery extension manager socket (osqueryd --extensions_socket)")
	fs.Var(&f.timeout, "timeout", "seconds to wait for the osquery socket at start (osqueryd --extensions_timeout)")
	fs.Var(&f.interval, "interval", "seconds between checks that osquery still has the extension registered (osqueryd --extensions_interval)")
	fs.BoolVar(&f.verbose, "verbose", false, "log debug messages (osqueryd passes it when it runs verbose)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return f, exitOK
		}
		return f, exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(io.err, "osqdetect.ext: unexpected argument %q\n", fs.Arg(0))
		return f, exitUsage
	}
	if f.socket == "" {
		fmt.Fprintln(io.err, "osqdetect.ext: --socket is required")
		return f, exitUsage
	}
	return f, -1
}

// runExtension is the extension process: it serves the alerts,
// detection_rules and detection_health tables and feeds the rules from
// osquery's event tables until osqueryd shuts it down or a signal arrives.
func runExtension(ctx context.Context, args []string, io stdio) int {
	flags, code := parseExtensionFlags(args, io)
	if code >= 0 {
		return code
	}
	cfg, err := config.LoadFromEnv()
	if err != nil {
		fmt.Fprintf(io.err, "osqdetect.ext: %v\n", err)
		return exitFailure
	}
	level := cfg.LogLevel
	if flags.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(io.err, &slog.HandlerOptions{Level: level})).With("component", "osqdetect.ext")
	// Thrift's server checks each connection for a hang-up every 5ms by
	// default; 100ms is plenty for a local socket and saves CPU. It is a
	// package variable, so it is set here, before any server runs.
	thrift.ServerConnectivityCheckInterval = 100 * time.Millisecond
	err = extension.Run(ctx, extension.Options{
		Socket:   flags.socket,
		Timeout:  flags.timeout.d,
		Interval: flags.interval.d,
		Config:   cfg,
		Logger:   log,
	})
	if err != nil {
		log.Error("extension stopped", "err", err)
		return exitFailure
	}
	return exitOK
}
