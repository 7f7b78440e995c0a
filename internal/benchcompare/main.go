// Command benchcompare measures `osqdetect scan` end to end against what a
// user would do instead: load the same results log into SQLite (Debian's
// sqlite3 CLI) with its JSON functions, index it, and run the two bundled
// detections as SQL (seed-detections.sql). It checks that both find the
// same alerts and prints the CPU each took and their ratio; with -cpus it
// also times scan with one CPU and with all of them. -memory and -scaling
// measure scan's memory on a dense host and its cost per row as logs grow.
//
//	go run ./internal/benchcompare -osqdetect build/osqdetect -rows 300000
package main

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/osqdetect/osqdetect/internal/benchlog"
)

//go:embed seed-detections.sql
var detectionsSQL string

// run is one measured process.
type run struct {
	cpu, wall time.Duration
	maxRSS    int64 // KiB
	out       []byte
}

func measure(cmd *exec.Cmd) (run, error) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Run(); err != nil && !isExit2(err) {
		return run{}, fmt.Errorf("%s: %v: %s", cmd.Path, err, lastLine(errb.String()))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return run{
		cpu:    cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		wall:   time.Since(start),
		maxRSS: ru.Maxrss,
		out:    out.Bytes(),
	}, nil
}

// isExit2 tolerates scan's exit 2 (some input rejected) so the
// comparison still reports; the alert check decides.
func isExit2(err error) bool {
	ee, ok := err.(*exec.ExitError)
	return ok && ee.ExitCode() == 2
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func main() {
	osqdetect := flag.String("osqdetect", "build/osqdetect", "the osqdetect binary")
	sqlite := flag.String("sqlite3", "sqlite3", "the sqlite3 CLI")
	var o benchlog.Options
	flag.IntVar(&o.Rows, "rows", 300_000, "rows in the generated log")
	flag.IntVar(&o.Hosts, "hosts", 20, "hosts in the generated log")
	logPath := flag.String("log", "", "an existing results log to use instead of generating one")
	cpus := flag.Bool("cpus", false, "also time scan with every CPU against one")
	runs := flag.Int("runs", 1, "rounds of the comparison (medians are printed)")
	memory := flag.Bool("memory", false, "instead: scan a dense host (2M rows at 10,000 rows/s, one host) and check its RSS")
	scaling := flag.String("scaling", "", "instead: scan logs of these row counts (comma-separated), streamed through stdin, one CPU")
	flag.Parse()
	o.AttackEvery, o.Unique = 1000, true
	var err error
	switch {
	case *memory:
		err = dense(*osqdetect)
	case *scaling != "":
		err = scale(*osqdetect, *scaling, o)
	default:
		err = compare(os.Stdout, *osqdetect, *sqlite, o, *logPath, *cpus, max(*runs, 1))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcompare:", err)
		os.Exit(1)
	}
}

func compare(w io.Writer, osqdetect, sqlite string, o benchlog.Options, logPath string, cpus bool, runs int) error {
	dir, err := os.MkdirTemp("", "osqdetect-benchcompare")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if logPath == "" {
		logPath = filepath.Join(dir, "results.log")
		f, err := os.Create(logPath)
		if err != nil {
			return err
		}
		if _, err := benchlog.Write(f, o); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	st, err := os.Stat(logPath)
	if err != nil {
		return err
	}
	rows, err := countLines(logPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "log: %s, %d rows, %.0f MB\n", logPath, rows, float64(st.Size())/1e6)

	script := "CREATE TABLE raw(line TEXT);\n.mode ascii\n.separator \"\\037\" \"\\n\"\n.import '" +
		strings.ReplaceAll(logPath, "'", "''") + "' raw\n.mode list\n" + detectionsSQL
	// Each round runs scan with one CPU, with every CPU and sqlite3 one
	// after another, so that the three share the machine's moment; the
	// summary takes medians over the rounds (a shared VM moves single runs
	// by half).
	var scanCPU, allWall, sqlCPU, ratios, speedups []float64
	for round := 1; round <= runs; round++ {
		scan := exec.Command(osqdetect, "scan", "--no-rate-limit", logPath)
		scan.Env = append(os.Environ(), "GOMAXPROCS=1")
		s, err := measure(scan)
		if err != nil {
			return err
		}
		scanAlerts, err := scanKeys(s.out)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "round %d: osqdetect scan, 1 CPU:  CPU %7.2f s  wall %7.2f s  max RSS %4d MB  %7.0f events/s per core  %d alerts\n",
			round, s.cpu.Seconds(), s.wall.Seconds(), s.maxRSS>>10, float64(rows)/s.cpu.Seconds(), len(scanAlerts))
		scanCPU = append(scanCPU, s.cpu.Seconds())

		if cpus && runtime.NumCPU() > 1 {
			all := exec.Command(osqdetect, "scan", "--no-rate-limit", logPath)
			a, err := measure(all)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "round %d: osqdetect scan, %d CPUs: CPU %7.2f s  wall %7.2f s  max RSS %4d MB  wall %.2fx faster than 1 CPU\n",
				round, runtime.NumCPU(), a.cpu.Seconds(), a.wall.Seconds(), a.maxRSS>>10, s.wall.Seconds()/a.wall.Seconds())
			if !bytes.Equal(a.out, s.out) {
				return fmt.Errorf("scan with %d CPUs printed other alerts than with one", runtime.NumCPU())
			}
			allWall = append(allWall, a.wall.Seconds())
			speedups = append(speedups, s.wall.Seconds()/a.wall.Seconds())
		}

		sq := exec.Command(sqlite, ":memory:")
		sq.Stdin = strings.NewReader(script)
		q, err := measure(sq)
		if err != nil {
			return err
		}
		sqlAlerts := sortedLines(q.out)
		fmt.Fprintf(w, "round %d: sqlite3 (import, JSON, indexes, the 2 detections): CPU %7.2f s  wall %7.2f s  max RSS %4d MB  %d alerts\n",
			round, q.cpu.Seconds(), q.wall.Seconds(), q.maxRSS>>10, len(sqlAlerts))
		if strings.Join(scanAlerts, "\n") != strings.Join(sqlAlerts, "\n") {
			return fmt.Errorf("the alerts differ: scan %d, sqlite3 %d", len(scanAlerts), len(sqlAlerts))
		}
		if round == 1 {
			fmt.Fprintf(w, "same alerts: %d\n", len(scanAlerts))
		}
		sqlCPU = append(sqlCPU, q.cpu.Seconds())
		ratios = append(ratios, q.cpu.Seconds()/s.cpu.Seconds())
	}
	fmt.Fprintf(w, "medians of %d rounds: scan 1 CPU %.2f s CPU (%.0f events/s per core), sqlite3 %.2f s CPU\n",
		runs, median(scanCPU), float64(rows)/median(scanCPU), median(sqlCPU))
	fmt.Fprintf(w, "CPU ratio sqlite3 / scan: median %.1fx (rounds %.1f–%.1fx; target: at least 5x)\n",
		median(ratios), minOf(ratios), maxOf(ratios))
	if len(speedups) > 0 {
		fmt.Fprintf(w, "%d CPUs against 1, wall: median %.2fx (rounds %.2f–%.2fx; target: at least 1.8x); median wall with %d CPUs %.2f s\n",
			runtime.NumCPU(), median(speedups), minOf(speedups), maxOf(speedups), runtime.NumCPU(), median(allWall))
	}
	return nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func minOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

func maxOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// scanKeys renders scan's alerts as the SQL prints them.
func scanKeys(out []byte) ([]string, error) {
	var keys []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var a struct {
			RuleID string `json:"rule_id"`
			HostID string `json:"host_id"`
			Pid    int64  `json:"pid"`
			Time   int64  `json:"time"`
		}
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return nil, fmt.Errorf("scan printed a line that is not an alert: %v", err)
		}
		keys = append(keys, fmt.Sprintf("%s|%s|%d|%d", a.RuleID, a.HostID, a.Pid, a.Time))
	}
	sort.Strings(keys)
	return keys, sc.Err()
}

func sortedLines(out []byte) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	return lines
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	buf := make([]byte, 1<<20)
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err != nil {
			return n, nil
		}
	}
}

// streamScan runs scan with one CPU over a log generated into its stdin.
func streamScan(osqdetect string, o benchlog.Options) (run, string, error) {
	cmd := exec.Command(osqdetect, "scan", "-")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		return run{}, "", err
	}
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return run{}, "", err
	}
	_, werr := benchlog.Write(in, o)
	in.Close()
	if err := cmd.Wait(); err != nil && !isExit2(err) {
		return run{}, "", fmt.Errorf("scan: %v: %s", err, lastLine(errb.String()))
	}
	if werr != nil {
		return run{}, "", werr
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return run{cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), wall: time.Since(start), maxRSS: ru.Maxrss},
		lastLine(errb.String()), nil
}

// dense scans one host's 2M rows at 10,000 rows/s with the default reorder
// window and checks the RSS bound.
func dense(osqdetect string) error {
	o := benchlog.Options{Rows: 2_000_000, Hosts: 1, RowsPerSecond: 10_000, AttackEvery: 1000, Unique: true}
	r, summary, err := streamScan(osqdetect, o)
	if err != nil {
		return err
	}
	fmt.Printf("dense host, %d rows at %d rows/s: CPU %.2f s, max RSS %d MB (bound 256 MB)\n%s\n",
		o.Rows, o.RowsPerSecond, r.cpu.Seconds(), r.maxRSS>>10, summary)
	if r.maxRSS>>10 > 256 {
		return fmt.Errorf("max RSS %d MB is over 256 MB", r.maxRSS>>10)
	}
	return nil
}

// scale prints CPU per row and RSS for logs of the given sizes.
func scale(osqdetect, sizes string, o benchlog.Options) error {
	fmt.Println("| rows | CPU | CPU per row | events/s per core | max RSS |")
	fmt.Println("|---|---|---|---|---|")
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("-scaling: %v", err)
		}
		o.Rows = n
		r, _, err := streamScan(osqdetect, o)
		if err != nil {
			return err
		}
		fmt.Printf("| %d | %.2f s | %.2f µs | %.0f | %d MB |\n", n, r.cpu.Seconds(),
			r.cpu.Seconds()*1e6/float64(n), float64(n)/r.cpu.Seconds(), r.maxRSS>>10)
	}
	return nil
}
