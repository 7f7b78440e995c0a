package detect

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/osqdetect/osqdetect/detect/ecs"
	"github.com/osqdetect/osqdetect/detect/normalize"
)

// SensorOptions tune a Sensor.
type SensorOptions struct {
	Engine Options
	// MaxProcesses bounds the process cache (default 100,000).
	MaxProcesses int
	// EagerNormalize fills every field of every event, rather than leaving
	// those the normalizer can defer until a rule reads them or an alert
	// or a sequence needs them (for comparisons).
	EagerNormalize bool
}

// SensorStats are a Sensor's counters: the engine's plus normalization's.
type SensorStats struct {
	Stats
	Rows             int64           `json:"rows"`
	Rejected         int64           `json:"rejected"`
	LastRejectReason string          `json:"last_reject_reason,omitempty"`
	Normalize        normalize.Stats `json:"normalize"`
}

// Sensor turns osquery rows into alerts: it orders the rows of each host
// and second, normalizes them into ECS events with the process cache, and
// runs the engine. One goroutine owns a Sensor.
type Sensor struct {
	norm   *normalize.Normalizer
	engine *Engine
	order  normalize.SecondOrderer
	ev     ecs.Event
	seq    uint64
	rows   int64
	reject int64
	last   string
}

// NewSensor builds a sensor running rules.
func NewSensor(rules []*Rule, opts SensorOptions) *Sensor {
	engine := NewEngine(rules, opts.Engine)
	nopts := normalize.Options{MaxProcesses: opts.MaxProcesses}
	if !opts.EagerNormalize {
		// Every field the normalizer can defer is left out until an event
		// is completed or the field is first read (ecs.Event.Defer): the
		// engine reads few of them, for the few rules an event reaches.
		nopts.Reads = []string{}
	}
	return &Sensor{norm: normalize.New(nopts), engine: engine}
}

// Engine returns the sensor's engine.
func (s *Sensor) Engine() *Engine { return s.engine }

// Seed fills the process cache from rows of osquery's processes table. It
// returns how many rows it loaded and, when some were skipped, an error
// naming the first bad row.
func (s *Sensor) Seed(host string, processRows []map[string]string) (int, error) {
	return s.norm.Seed(host, processRows)
}

// Ingest runs rows through the rules. rows must hold every row of the
// seconds they cover (the newest second is complete), in any order: the
// sensor sorts them by host and second and orders each second's rows
// (normalize.OrderSecond). Rejected rows are counted and returned.
func (s *Sensor) Ingest(rows []normalize.Row, emit func(*Alert)) []error {
	sortRows(rows)
	var errs []error
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].Host == rows[start].Host && rowSecond(rows[end]) == rowSecond(rows[start]) {
			end++
		}
		s.order.Order(rows[start:end])
		s.norm.Warm(rows[start:end])
		for i := start; i < end; i++ {
			if err := s.Process(rows[i], emit); err != nil {
				errs = append(errs, err)
			}
		}
		start = end
	}
	return errs
}

// Process runs one row, already in order, through the rules.
func (s *Sensor) Process(row normalize.Row, emit func(*Alert)) error {
	s.rows++
	s.ev.Reset()
	if err := s.norm.Normalize(row, &s.ev); err != nil {
		if errors.Is(err, normalize.ErrStateOnly) {
			return nil
		}
		s.reject++
		s.last = err.Error()
		return err
	}
	s.seq++
	s.ev.Seq = s.seq
	s.engine.Process(&s.ev, emit)
	return nil
}

// sortRows orders rows by host, then second, keeping arrival order inside
// a second (OrderSecond refines it).
func sortRows(rows []normalize.Row) {
	less := func(i, j int) bool {
		if rows[i].Host != rows[j].Host {
			return rows[i].Host < rows[j].Host
		}
		return rowSecond(rows[i]) < rowSecond(rows[j])
	}
	if sort.SliceIsSorted(rows, less) { // a poll's rows come sorted
		return
	}
	sort.SliceStable(rows, less)
}

func rowSecond(r normalize.Row) int64 {
	t, _ := strconv.ParseInt(r.Get(normalize.ColTime), 10, 64)
	return t
}

// Stats returns the sensor's counters.
func (s *Sensor) Stats() SensorStats {
	return SensorStats{
		Stats:            s.engine.Stats(),
		Rows:             s.rows,
		Rejected:         s.reject,
		LastRejectReason: s.last,
		Normalize:        s.norm.Stats(),
	}
}

// DirtyTerms returns the new-terms history entries changed since the last call.
func (s *Sensor) DirtyTerms() []TermEntry { return s.engine.DirtyTerms() }

// LoadTerms restores new-terms history.
func (s *Sensor) LoadTerms(entries []TermEntry) { s.engine.LoadTerms(entries) }

// SequenceState serializes pending sequences.
func (s *Sensor) SequenceState() ([]byte, error) { return s.engine.SequenceState() }

// RestoreSequences restores pending sequences.
func (s *Sensor) RestoreSequences(b []byte) error { return s.engine.RestoreSequences(b) }

// ProcessState serializes the process cache.
func (s *Sensor) ProcessState() ([]byte, error) { return s.norm.Snapshot() }

// RestoreProcesses restores the process cache.
func (s *Sensor) RestoreProcesses(b []byte) error { return s.norm.Restore(b) }

// SensorDelta is what changed in a sensor's durable state since the
// previous TakeDelta: the engine's part, the process cache's journal and
// the sensor's own counters. Stored in one transaction with the read
// position of the rows that produced it, it makes a restart continue
// exactly where the sensor was. Processes views the journal's storage,
// which the next TakeDelta reuses: a delta kept past it (a commit that
// failed, retried later) copies it first.
type SensorDelta struct {
	Engine    EngineDelta
	Processes normalize.ProcessJournal
	Counters  []byte
}

// SensorState is a sensor's whole durable state, for RestoreState.
type SensorState struct {
	Engine       EngineState
	ProcessClock []byte
	ProcessSlots []normalize.ProcessSlot
	LegacyProcs  []byte // a whole-cache snapshot (ProcessState), used when there is no clock
	Counters     []byte
}

type sensorCounters struct {
	Seq      uint64 `json:"seq"`
	Rows     int64  `json:"rows"`
	Rejected int64  `json:"rejected"`
	Last     string `json:"last,omitempty"`
}

// TakeDelta returns what changed since the previous call and starts anew.
func (s *Sensor) TakeDelta() (SensorDelta, error) {
	var d SensorDelta
	var err error
	if d.Engine, err = s.engine.TakeDelta(); err != nil {
		return SensorDelta{}, err
	}
	if d.Processes, err = s.norm.TakeProcessJournal(); err != nil {
		return SensorDelta{}, err
	}
	if d.Counters, err = s.counters(); err != nil {
		return SensorDelta{}, err
	}
	return d, nil
}

func (s *Sensor) counters() ([]byte, error) {
	b, err := json.Marshal(sensorCounters{Seq: s.seq, Rows: s.rows, Rejected: s.reject, Last: s.last})
	if err != nil {
		return nil, fmt.Errorf("encoding sensor counters: %w", err)
	}
	return b, nil
}

// RestoreState loads a durable state into a new sensor and starts a new
// delta. A part that cannot be read is left empty and named in the
// returned error; the others are restored.
func (s *Sensor) RestoreState(st SensorState) error {
	var problems []error
	if err := s.engine.RestoreState(st.Engine); err != nil {
		problems = append(problems, err)
	}
	switch {
	case len(st.ProcessClock) > 0:
		if err := s.norm.RestoreProcessSlots(st.ProcessClock, st.ProcessSlots); err != nil {
			problems = append(problems, err)
		}
	case len(st.LegacyProcs) > 0:
		if err := s.norm.Restore(st.LegacyProcs); err != nil {
			problems = append(problems, err)
		}
	}
	if len(st.Counters) > 0 {
		var c sensorCounters
		if err := json.Unmarshal(st.Counters, &c); err != nil {
			problems = append(problems, fmt.Errorf("reading sensor counters: %w", err))
		} else {
			s.seq, s.rows, s.reject, s.last = c.Seq, c.Rows, c.Rejected, c.Last
		}
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	return nil
}

// FullState returns the sensor's whole durable state, for a state file
// written as a whole.
func (s *Sensor) FullState() (SensorState, error) {
	var st SensorState
	var err error
	if st.Engine, err = s.engine.FullState(); err != nil {
		return st, err
	}
	if st.ProcessClock, st.ProcessSlots, err = s.norm.AllProcessSlots(); err != nil {
		return st, err
	}
	if st.Counters, err = s.counters(); err != nil {
		return st, err
	}
	return st, nil
}

// KnowsProcess reports whether the process cache holds pid of host.
func (s *Sensor) KnowsProcess(host string, pid int64) bool { return s.norm.Knows(host, pid) }

// ProcessCacheRoom is how many more processes the cache holds before it
// evicts.
func (s *Sensor) ProcessCacheRoom() int { return s.norm.CacheRoom() }

// Warm prepares the sensor for rows of one host it is about to process
// (see normalize.Normalizer.Warm); it changes nothing.
func (s *Sensor) Warm(rows []normalize.Row) { s.norm.Warm(rows) }
