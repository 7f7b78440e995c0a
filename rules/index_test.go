package rules_test

import (
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/detect/normalize"
	"github.com/osqdetect/osqdetect/internal/testutil"
	"github.com/osqdetect/osqdetect/rules"
)

// TestIndexKeepsResults runs every corpus rule over a stream built from
// the rules' own values twice: with the index and deferred normalization,
// and with neither (every rule sees every fully normalized event). It
// requires the same alerts, byte for byte: the index only skips rules
// that cannot match, and deferred fields are filled before an alert or a
// sequence needs them.
func TestIndexKeepsResults(t *testing.T) {
	base := filepath.Join(testutil.SharedDir(), "elastic-rules")
	if _, err := os.Stat(base); err != nil {
		t.Skip("elastic rule corpus not found:", err)
	}
	set, err := rules.Load([]string{filepath.Join(base, "rules"), filepath.Join(base, "rules_building_block")}, rules.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var values, inner []string
	indexed := 0
	for _, r := range set.Rules {
		keyed := false
		for _, t := range r.Targets(nil) {
			keyed = keyed || len(t.Clauses) > 0
			for _, c := range t.Clauses {
				for _, p := range c {
					values = append(values, p.Values...)
					inner = append(inner, p.Contains...)
				}
			}
		}
		if keyed {
			indexed++
		}
	}
	t.Logf("%d of %d rules indexed, %d values, %d inner texts", indexed, len(set.Rules), len(values), len(inner))
	sort.Strings(values)
	sort.Strings(inner)

	rng := rand.New(rand.NewSource(3))
	pick := func() string {
		v := values[rng.Intn(len(values))]
		if rng.Intn(3) == 0 {
			// Text that some rule's pattern requires inside a value.
			v = "x" + inner[rng.Intn(len(inner))] + "/y"
		}
		if rng.Intn(4) == 0 {
			v = strings.ToUpper(v)
		}
		return v
	}
	dirs := []string{"/usr/bin/", "/tmp/", "/dev/shm/", "/bin/", "/usr/sbin/", "./"}
	b := new(rowsBuilder)
	parents := []int{100, 200}
	for i := 0; i < 20000; i++ {
		t := t0 + int64(i/20)
		pid := 1000 + rng.Intn(3000)
		name := pick()
		path := dirs[rng.Intn(len(dirs))] + name
		args := []string{name}
		for n := rng.Intn(4); n > 0; n-- {
			args = append(args, pick())
		}
		if rng.Intn(10) == 0 {
			b.sock(hostA, t, pid, path, []string{"connect", "accept", "bind"}[rng.Intn(3)], "203.0.113."+strconv.Itoa(rng.Intn(9)), "4444")
			continue
		}
		b.exec(hostA, t, pid, parents[rng.Intn(2)], path, strings.Join(args, " "))
		if rng.Intn(5) == 0 {
			parents = append(parents, pid)
		}
	}

	runOnce := func(disable bool) []string {
		s := detect.NewSensor(set.Rules, detect.SensorOptions{EagerNormalize: disable,
			Engine: detect.Options{DisableIndex: disable, DisableRateLimit: true}})
		s.Seed(hostA, []map[string]string{
			{"pid": "100", "parent": "1", "name": "bash", "path": "/usr/bin/bash", "cmdline": "-bash", "start_time": "1763700000"},
			{"pid": "200", "parent": "1", "name": "python3", "path": "/usr/bin/python3", "cmdline": "python3 app.py", "start_time": "1763700000"},
		})
		var ids []string
		rows := append([]normalize.Row(nil), b.rows...)
		for _, err := range s.Ingest(rows, func(a *detect.Alert) {
			body, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, a.RuleID+" "+a.ID+" "+string(body))
		}) {
			t.Fatalf("row rejected: %v", err)
		}
		sort.Strings(ids)
		return ids
	}
	with, without := runOnce(false), runOnce(true)
	if strings.Join(with, "\n") != strings.Join(without, "\n") {
		t.Fatalf("the index changed the alerts: %d with, %d without", len(with), len(without))
	}
	fired := map[string]bool{}
	for _, id := range with {
		fired[strings.Fields(id)[0]] = true
	}
	t.Logf("%d alerts from %d distinct rules, identical with and without the index", len(with), len(fired))
	if len(fired) < 10 {
		t.Errorf("only %d rules fired: the stream does not exercise the index", len(fired))
	}
}
