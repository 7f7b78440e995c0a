package extension

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/detect/normalize"
	"github.com/osqdetect/osqdetect/extension/store"
)

// The runner's durable state. One invariant holds it together: after any
// commit the store holds exactly the state the sensor had after the rows
// that commit's cursor covers — cursor and de-dup position, alerts,
// new-terms history, pending sequences, threshold groups, rate-limit
// windows, the process cache and the counters — because every commit
// carries the sensor's delta since the previous one, in the same bbolt
// transaction as the cursor. A kill at any moment therefore resumes from
// one consistent point, and re-reading the rows after it gives the alerts
// (same deterministic ids) an uninterrupted run would have given.

// durableSummary is what detection_health says survives a crash; the
// crash-equivalence tests (tests/e2e/crash_test.go) check each part.
const durableSummary = "every poll commits its alerts with the cursor, the eids seen, the process cache entries it changed, " +
	"pending sequences, new-terms history, threshold groups, rate-limit windows and counters in one transaction: " +
	"after a kill the extension resumes from the last commit, processing no event twice"

// Names of the state blobs and record namespaces the runner keeps.
const (
	blobPoller       = "poller"        // pollState: durable counters
	blobSequences    = "sequences"     // the engine's pending sequences
	blobProcesses    = "processes"     // a whole process cache snapshot (older stores)
	blobLimits       = "limits"        // rate-limit windows
	blobEngine       = "engine"        // engine counters
	blobSensor       = "sensor"        // sensor counters (event order)
	blobProcessClock = "process_clock" // the process cache's clock

	recordsProcesses = "processes"  // slot (4 bytes) → process entry (older stores)
	recordsGroups    = "thresholds" // sha256(rule, key) → threshold group

	slotsProcesses = "process_slots" // the process cache's slots, store.SlotsPerBlock to a value
)

// savedState is what the store holds for the runner at start.
type savedState struct {
	cursors map[string]store.Cursor
	sensor  detect.SensorState
	poller  []byte
}

func (w *wiring) load(ctx context.Context) (savedState, error) {
	var s savedState
	var err error
	wrap := func(err error) error { return fmt.Errorf("loading state from %s: %w", w.store.Path(), err) }
	if s.cursors, err = w.store.Cursors(ctx); err != nil {
		return s, wrap(err)
	}
	st := &s.sensor
	if st.Engine.Terms, err = w.store.Terms(ctx); err != nil {
		return s, wrap(err)
	}
	blobs := map[string]*[]byte{
		blobPoller: &s.poller, blobSequences: &st.Engine.Sequences, blobProcesses: &st.LegacyProcs,
		blobLimits: &st.Engine.Limits, blobEngine: &st.Engine.Counters, blobSensor: &st.Counters,
		blobProcessClock: &st.ProcessClock,
	}
	for name, dst := range blobs {
		if *dst, err = w.store.State(ctx, name); err != nil {
			return s, wrap(err)
		}
	}
	err = w.store.Slots(ctx, slotsProcesses, func(n uint32, v []byte) error {
		st.ProcessSlots = append(st.ProcessSlots, normalize.ProcessSlot{Slot: int32(n), Data: append([]byte{}, v...)})
		return nil
	})
	if err != nil {
		return s, wrap(err)
	}
	// A store written before the slots were packed keeps one record per
	// slot: they move, once, into the packed slots (none was written
	// packed yet, since this runs before the first commit).
	var legacy []store.Slot
	err = w.store.Records(ctx, recordsProcesses, func(k, v []byte) error {
		if len(k) != 4 {
			return fmt.Errorf("process cache record with a %d-byte key", len(k))
		}
		n, data := binary.BigEndian.Uint32(k), append([]byte{}, v...)
		st.ProcessSlots = append(st.ProcessSlots, normalize.ProcessSlot{Slot: int32(n), Data: data})
		legacy = append(legacy, store.Slot{N: n, Value: data})
		return nil
	})
	if err != nil {
		return s, wrap(err)
	}
	if len(legacy) > 0 {
		_, err := w.store.Commit(ctx, store.Batch{ClearRecords: []string{recordsProcesses},
			Slots: map[string][]store.Slot{slotsProcesses: legacy}})
		if err != nil {
			return s, wrap(fmt.Errorf("packing the process cache records: %w", err))
		}
	}
	err = w.store.Records(ctx, recordsGroups, func(_, v []byte) error {
		g, ok := decodeGroup(v)
		if !ok {
			return errors.New("unreadable threshold group record")
		}
		st.Engine.Groups = append(st.Engine.Groups, g)
		return nil
	})
	if err != nil {
		return s, wrap(err)
	}
	return s, nil
}

// pendingCommit is one commit's batch; a failed one is kept and merged
// with the next, so that no delta is lost.
type pendingCommit struct {
	alerts  []*detect.Alert
	terms   []detect.TermEntry
	cursors map[string]store.Cursor
	blobs   map[string][]byte
	records map[string][]store.Record
	slots   map[string][]store.Slot
	clear   []string
}

// newPendingCommit renders a sensor delta, the poller state and the alerts
// as one store batch. The list of process cache slots goes in the storage
// of reuse, a list no longer in use (the previous commit's, whose batch is
// stored or was copied by ownSlots).
func newPendingCommit(alerts []*detect.Alert, d detect.SensorDelta, cursors map[string]store.Cursor, poller []byte, reuse []store.Slot) *pendingCommit {
	pc := &pendingCommit{alerts: alerts, terms: d.Engine.Terms, cursors: cursors,
		blobs: map[string][]byte{blobPoller: poller, blobEngine: d.Engine.Counters, blobSensor: d.Counters,
			blobProcessClock: d.Processes.Clock},
		records: map[string][]store.Record{}, slots: map[string][]store.Slot{}}
	if d.Engine.Sequences != nil {
		pc.blobs[blobSequences] = d.Engine.Sequences
	}
	if d.Engine.Limits != nil {
		pc.blobs[blobLimits] = d.Engine.Limits
	}
	if d.Processes.Reset {
		pc.clear = append(pc.clear, slotsProcesses, recordsProcesses)
		pc.blobs[blobProcesses] = nil // the whole-cache snapshot of older stores is superseded
	}
	if len(d.Processes.Slots) > 0 {
		slots := slices.Grow(reuse[:0], len(d.Processes.Slots))[:len(d.Processes.Slots)]
		for i, s := range d.Processes.Slots {
			slots[i] = store.Slot{N: uint32(s.Slot), Value: s.Data}
		}
		pc.slots[slotsProcesses] = slots
	}
	for _, g := range d.Engine.Groups {
		r := store.Record{Key: g.StoreKey()}
		if g.Data != nil {
			r.Value = encodeGroup(g)
		}
		pc.records[recordsGroups] = append(pc.records[recordsGroups], r)
	}
	return pc
}

// ownSlots copies the slot values, which view the process journal's
// storage (valid until the next journal), for a commit kept past it.
func (pc *pendingCommit) ownSlots() {
	size := 0
	for _, list := range pc.slots {
		for _, s := range list {
			size += len(s.Value)
		}
	}
	arena := make([]byte, 0, size)
	for ns, list := range pc.slots {
		owned := make([]store.Slot, len(list))
		for i, s := range list {
			owned[i] = store.Slot{N: s.N}
			if s.Value != nil {
				start := len(arena)
				arena = append(arena, s.Value...)
				owned[i].Value = arena[start:len(arena):len(arena)]
			}
		}
		pc.slots[ns] = owned
	}
}

// merge appends next to a commit that has not been stored yet.
func (pc *pendingCommit) merge(next *pendingCommit) {
	pc.alerts = append(pc.alerts, next.alerts...)
	pc.terms = append(pc.terms, next.terms...)
	pc.cursors = next.cursors
	for k, v := range next.blobs {
		pc.blobs[k] = v
	}
	for _, ns := range next.clear {
		delete(pc.records, ns) // emptied anyway
		delete(pc.slots, ns)
		pc.clear = append(pc.clear, ns)
	}
	for ns, recs := range next.records {
		pc.records[ns] = append(pc.records[ns], recs...)
	}
	for ns, slots := range next.slots {
		pc.slots[ns] = append(pc.slots[ns], slots...)
	}
}

func (pc *pendingCommit) batch() store.Batch {
	return store.Batch{Alerts: pc.alerts, Terms: pc.terms, Cursors: pc.cursors, State: pc.blobs,
		Records: pc.records, ClearRecords: pc.clear, Slots: pc.slots}
}

// encodeGroup renders a threshold group record: len(rule)(4) rule
// len(key)(4) key data.
func encodeGroup(g detect.GroupEntry) []byte {
	v := make([]byte, 0, 8+len(g.Rule)+len(g.Key)+len(g.Data))
	v = binary.BigEndian.AppendUint32(v, uint32(len(g.Rule)))
	v = append(v, g.Rule...)
	v = binary.BigEndian.AppendUint32(v, uint32(len(g.Key)))
	v = append(v, g.Key...)
	return append(v, g.Data...)
}

func decodeGroup(v []byte) (detect.GroupEntry, bool) {
	next := func() (string, bool) {
		if len(v) < 4 {
			return "", false
		}
		n := int(binary.BigEndian.Uint32(v))
		if n > len(v)-4 {
			return "", false
		}
		s := string(v[4 : 4+n])
		v = v[4+n:]
		return s, true
	}
	rule, ok1 := next()
	key, ok2 := next()
	if !ok1 || !ok2 {
		return detect.GroupEntry{}, false
	}
	return detect.GroupEntry{Rule: rule, Key: key, Data: append([]byte{}, v...)}, true
}
