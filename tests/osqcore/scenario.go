package osqcore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ScenarioStep is one line of a replay scenario: a row for process_events,
// socket_events or processes, injected after DelayMS milliseconds; or, with
// Table "exit", the end of the process Row["pid"]: it leaves the processes
// table (which shows what is alive when it is queried) and, as with audit,
// no event row records it.
type ScenarioStep struct {
	Line    int
	Table   string
	DelayMS int
	Row     map[string]string
}

// Limits for scenario files.
const (
	maxScenarioLine  = 1 << 20
	maxScenarioSteps = 1_000_000
	maxScenarioDelay = 10 * 60 * 1000
)

// ParseScenario reads a scenario: JSON lines of the form
//
//	{"table":"process_events","delay_ms":100,"row":{"pid":"42","path":"/bin/sh"}}
//
// Blank lines and lines starting with '#' are skipped. Row values may be
// JSON strings, numbers or booleans; they are kept as text. The first bad
// line ends parsing with an error naming it.
func ParseScenario(r io.Reader) ([]ScenarioStep, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxScenarioLine)
	var steps []ScenarioStep
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		step, err := parseScenarioLine(text)
		if err != nil {
			return nil, fmt.Errorf("scenario line %d: %w", line, err)
		}
		step.Line = line
		if len(steps) >= maxScenarioSteps {
			return nil, fmt.Errorf("scenario line %d: more than %d steps", line, maxScenarioSteps)
		}
		steps = append(steps, step)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("scenario line %d: longer than %d bytes", line+1, maxScenarioLine)
		}
		return nil, fmt.Errorf("reading scenario: %w", err)
	}
	return steps, nil
}

func parseScenarioLine(text []byte) (ScenarioStep, error) {
	var raw struct {
		Table   *string                    `json:"table"`
		DelayMS *json.Number               `json:"delay_ms"`
		Row     map[string]json.RawMessage `json:"row"`
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return ScenarioStep{}, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return ScenarioStep{}, errors.New("trailing data after the JSON object")
	}
	var step ScenarioStep
	if raw.Table == nil {
		return step, errors.New(`missing "table"`)
	}
	switch *raw.Table {
	case "process_events", "socket_events", "processes", "exit":
		step.Table = *raw.Table
	default:
		return step, fmt.Errorf("unknown table %q (want process_events, socket_events, processes or exit)", *raw.Table)
	}
	if raw.DelayMS != nil {
		d, err := raw.DelayMS.Int64()
		if err != nil || d < 0 || d > maxScenarioDelay {
			return step, fmt.Errorf("delay_ms %s: want an integer from 0 to %d", raw.DelayMS.String(), maxScenarioDelay)
		}
		step.DelayMS = int(d)
	}
	if raw.Row == nil {
		return step, errors.New(`missing "row"`)
	}
	step.Row = make(map[string]string, len(raw.Row))
	for k, v := range raw.Row {
		s, err := scalarText(v)
		if err != nil {
			return step, fmt.Errorf("row column %q: %w", k, err)
		}
		step.Row[k] = s
	}
	if err := checkScenarioRow(step.Table, step.Row); err != nil {
		return step, err
	}
	return step, nil
}

var scenarioSchemas = map[string][]Column{
	"process_events": processEventsColumns,
	"socket_events":  socketEventsColumns,
	"processes":      processesColumns,
}

// checkScenarioRow applies the checks injection would, so a bad row is
// reported with its line before anything is replayed.
func checkScenarioRow(table string, row map[string]string) error {
	if table == "exit" {
		if _, err := strconv.ParseInt(row["pid"], 10, 64); err != nil || len(row) != 1 {
			return errors.New(`exit wants a row with only an integer "pid"`)
		}
		return nil
	}
	cols := scenarioSchemas[table]
	index := make(map[string]int, len(cols))
	for i, c := range cols {
		index[c.Name] = i
	}
	if err := checkRow(table, cols, index, -1, row); err != nil {
		return err
	}
	if _, ok := row["eid"]; ok && table != "processes" {
		return errors.New("eid is assigned by the core")
	}
	if table == "processes" && row["pid"] == "" {
		return errors.New("processes row without pid")
	}
	return nil
}

// scalarText turns a JSON string, number or boolean into text.
func scalarText(v json.RawMessage) (string, error) {
	t := bytes.TrimSpace(v)
	if len(t) == 0 {
		return "", errors.New("empty value")
	}
	switch t[0] {
	case '"':
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return "", err
		}
		return s, nil
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(t, &b); err != nil {
			return "", err
		}
		if b {
			return "1", nil
		}
		return "0", nil
	case '{', '[', 'n':
		return "", errors.New("want a string, number or boolean")
	}
	var n json.Number
	if err := json.Unmarshal(t, &n); err != nil {
		return "", err
	}
	return strings.TrimSpace(n.String()), nil
}

// Replay injects steps in order, sleeping each step's delay first. Events
// for the same table with no delay between them form one batch (sharing
// the batch second, as rows of one audit batch do). progress, if not nil,
// is called after each injected batch.
func (c *Core) Replay(ctx context.Context, steps []ScenarioStep, progress func(step ScenarioStep, stored int)) error {
	for i := 0; i < len(steps); {
		step := steps[i]
		if step.DelayMS > 0 {
			t := time.NewTimer(time.Duration(step.DelayMS) * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("replaying line %d: %w", step.Line, ctx.Err())
			case <-t.C:
			}
		}
		j := i + 1
		if step.Table != "processes" && step.Table != "exit" {
			for j < len(steps) && steps[j].Table == step.Table && steps[j].DelayMS == 0 {
				j++
			}
		}
		batch := make([]map[string]string, 0, j-i)
		for _, s := range steps[i:j] {
			batch = append(batch, s.Row)
		}
		var stored int
		var err error
		switch step.Table {
		case "process_events":
			var rows []map[string]string
			rows, err = c.InjectProcessEvents(batch...)
			stored = len(rows)
		case "socket_events":
			var rows []map[string]string
			rows, err = c.InjectSocketEvents(batch...)
			stored = len(rows)
		case "processes":
			err = c.SetProcess(step.Row)
			stored = 1
		case "exit":
			pid, _ := strconv.ParseInt(step.Row["pid"], 10, 64)
			c.RemoveProcess(pid)
		default:
			err = fmt.Errorf("unknown table %q", step.Table)
		}
		if err != nil {
			return fmt.Errorf("replaying line %d: %w", step.Line, err)
		}
		if progress != nil {
			progress(step, stored)
		}
		i = j
	}
	return nil
}
