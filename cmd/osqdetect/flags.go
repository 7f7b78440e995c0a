package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// newFlagSet returns a flag set that reports errors to w and never exits.
func newFlagSet(name, usage string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(dashWriter{w})
	fs.Usage = func() {
		fmt.Fprintf(w, "usage: osqdetect %s\n\nflags:\n", usage)
		printFlags(w, fs)
	}
	return fs
}

// printFlags lists the flags as they are usually typed, with two dashes
// (flag.PrintDefaults shows one).
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, help := flag.UnquoteUsage(f)
		if name == "value" {
			name = "LIST"
		}
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		line += "\n    \t" + strings.ReplaceAll(help, "\n", "\n    \t")
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "0s" && d != "[]" {
			if g, ok := f.Value.(flag.Getter); ok {
				if _, isString := g.Get().(string); isString {
					d = strconv.Quote(d)
				}
			}
			line += " (default " + d + ")"
		}
		fmt.Fprintln(w, line)
	})
}

// parseFlags parses args, allowing flags after positional arguments, and
// returns the positional arguments. A parse failure becomes an exit code;
// code is -1 when parsing succeeded.
func parseFlags(fs *flag.FlagSet, args []string) (positional []string, code int) {
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, exitOK
			}
			return nil, exitUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, -1
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), -1
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// dashWriter writes the flag package's error lines ("flag provided but not
// defined: -x") with the two dashes the help shows.
type dashWriter struct{ w io.Writer }

func (d dashWriter) Write(p []byte) (int, error) {
	s := string(p)
	for _, prefix := range []string{"flag provided but not defined: -", "flag needs an argument: -"} {
		if strings.HasPrefix(s, prefix) && !strings.HasPrefix(s, prefix+"-") {
			s = prefix + "-" + s[len(prefix):]
		}
	}
	if strings.HasPrefix(s, "invalid ") {
		s = strings.Replace(s, " for flag -", " for flag --", 1)
	}
	if _, err := io.WriteString(d.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}
