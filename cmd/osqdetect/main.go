// Command osqdetect runs Elastic-format detection rules over osquery events.
//
// Started by osqueryd (argv carries --socket) it is the osquery extension;
// otherwise the first argument names a subcommand.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/osqdetect/osqdetect/extension"
)

// Exit codes shared by every subcommand.
const (
	exitOK      = 0
	exitFailure = 1 // runtime failure
	exitUsage   = 2 // bad usage or bad input
	// exitIncomplete: hunt --require-all, some targeted host did not answer.
	exitIncomplete = 3
)

// stdio carries the streams a subcommand writes to, so tests can capture them.
type stdio struct {
	in  io.Reader
	out io.Writer
	err io.Writer
}

type command struct {
	summary string
	run     func(ctx context.Context, args []string, io stdio) int
}

var commands = map[string]command{}

// register adds a subcommand; each subcommand's file calls it from init.
func register(name, summary string, run func(ctx context.Context, args []string, io stdio) int) {
	commands[name] = command{summary: summary, run: run}
}

// How long a command may take to wind down after SIGTERM or SIGINT (the
// extension saves its state; a CLI command flushes its output) before the
// process exits anyway: a read blocked in the kernel, or any other wait
// that does not watch the context, must never keep it alive. A second
// signal exits at once.
const (
	stopGraceCommand   = 5 * time.Second
	stopGraceExtension = 10 * time.Second
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	grace := stopGraceCommand
	if isExtensionInvocation(os.Args[1:]) {
		grace = stopGraceExtension
	}
	go exitAfterSignal(cancel, grace, os.Stderr)
	code := run(ctx, os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	os.Exit(code)
}

// exitAfterSignal cancels the command's context on the first SIGTERM or
// SIGINT, and exits with exitFailure when the command has not returned
// grace later, or at a second signal.
func exitAfterSignal(cancel context.CancelFunc, grace time.Duration, stderr io.Writer) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	sig := <-sigs
	cancel()
	select {
	case <-sigs:
	case <-time.After(grace):
	}
	fmt.Fprintf(stderr, "osqdetect: still running %s after %v; exiting\n", grace, sig)
	os.Exit(exitFailure)
}

func run(ctx context.Context, args []string, io stdio) int {
	if isExtensionInvocation(args) {
		if ext, ok := commands["extension"]; ok {
			return ext.run(ctx, args, io)
		}
	}
	switch args0(args) {
	case "--version", "-version", "version":
		fmt.Fprintf(io.out, "osqdetect %s\n", extension.Version)
		return exitOK
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(io.err)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(io.err, "osqdetect: unknown command %q (run 'osqdetect help')\n", args[0])
		return exitUsage
	}
	return cmd.run(ctx, args[1:], io)
}

func args0(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// isExtensionInvocation reports whether osqueryd started us: its argv always
// carries --socket (as "--socket PATH" or "--socket=PATH").
func isExtensionInvocation(args []string) bool {
	for _, a := range args {
		if a == "--socket" || a == "-socket" || strings.HasPrefix(a, "--socket=") || strings.HasPrefix(a, "-socket=") {
			return true
		}
	}
	return false
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: osqdetect COMMAND [flags] [args]")
	fmt.Fprintln(w, "       osqdetect --version")
	fmt.Fprintln(w, "       osqdetect.ext --socket PATH [--timeout N] [--interval N] [--verbose]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		if n != "extension" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "'osqdetect COMMAND --help' describes a command. Exit codes: 0 ok, 1 runtime failure,")
	fmt.Fprintln(w, "2 bad usage or input (a missing or unreadable file included), 3 hunt --require-all")
	fmt.Fprintln(w, "when a targeted host did not answer.")
}
