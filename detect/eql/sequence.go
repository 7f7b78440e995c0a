package eql

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// Sequence is a compiled `sequence` query.
type Sequence struct {
	// MaxSpan bounds the time from the first to the last event of a match
	// (inclusive); 0 means none was given.
	MaxSpan time.Duration
	// Steps are in order, with `with runs=N` already expanded.
	Steps []Step
	// Until, when set, ends pending sequences of the same join key.
	Until *Step

	src      string
	tree     string
	catField ecs.Field
}

// Step is one bracketed stage of a sequence.
type Step struct {
	// Category is the `X where` category, "" for `any where`.
	Category string
	// Where matches an event, category test included.
	Where ecs.Predicate
	// Keys are the join keys: the sequence's `by` keys followed by the
	// step's own.
	Keys []JoinKey

	filter *eventFilter
}

// JoinKey is one `by` key: a field, or an expression over fields
// (`unique_pid * 2`), whose value joins the steps.
type JoinKey struct {
	// Field is the field's name, or the expression in canonical form.
	Field string
	// Optional (?field) lets a null or missing value join with another
	// null; otherwise an event without the key never joins.
	Optional bool
	id       ecs.Field
	value    valueFn // set for an expression
}

func (c *compiler) sequence(ps *parsedSequence, tree *strings.Builder) (*Sequence, error) {
	seq := &Sequence{MaxSpan: ps.maxSpan, catField: c.catField}
	tree.WriteString("sequence")
	seqKeys, err := c.joinKeys(ps.keys)
	if err != nil {
		return nil, err
	}
	writeKeys(tree, ps.keys)
	if ps.maxSpan > 0 {
		tree.WriteString(" with maxspan=")
		tree.WriteString(strconv.FormatInt(ps.maxSpan.Milliseconds(), 10))
		tree.WriteString("ms")
	}
	step := func(t *parsedTerm) (Step, error) {
		where, err := c.filter(&t.filter)
		if err != nil {
			return Step{}, err
		}
		own, err := c.joinKeys(t.keys)
		if err != nil {
			return Step{}, err
		}
		keys := append(append([]JoinKey(nil), seqKeys...), own...)
		cat := t.filter.category
		return Step{Category: cat, Where: where, Keys: keys, filter: &t.filter}, nil
	}
	for i := range ps.terms {
		t := &ps.terms[i]
		st, err := step(t)
		if err != nil {
			return nil, err
		}
		for r := 0; r < t.runs; r++ {
			seq.Steps = append(seq.Steps, st)
		}
		writeTerm(tree, " ", t)
	}
	if ps.until != nil {
		st, err := step(ps.until)
		if err != nil {
			return nil, err
		}
		seq.Until = &st
		writeTerm(tree, " until ", ps.until)
	}
	seq.tree = tree.String()
	return seq, nil
}

func (c *compiler) joinKeys(ks []expr) ([]JoinKey, error) {
	keys := make([]JoinKey, 0, len(ks))
	for _, k := range ks {
		if f, ok := k.(*fieldExpr); ok {
			id, err := c.fieldID(f.name, f.p)
			if err != nil {
				return nil, err
			}
			keys = append(keys, JoinKey{Field: f.name, Optional: f.optional, id: id})
			continue
		}
		fn, err := c.value(k)
		if err != nil {
			return nil, err
		}
		keys = append(keys, JoinKey{Field: exprString(k), value: fn})
	}
	return keys, nil
}

func writeKeys(b *strings.Builder, fs []expr) {
	for i, f := range fs {
		if i == 0 {
			b.WriteString(" by ")
		} else {
			b.WriteString(", ")
		}
		f.write(b)
	}
}

func writeTerm(b *strings.Builder, sep string, t *parsedTerm) {
	b.WriteString(sep)
	b.WriteString("[")
	writeFilter(b, &t.filter)
	b.WriteString("]")
	writeKeys(b, t.keys)
	if t.runs > 1 {
		b.WriteString(" with runs=")
		b.WriteString(itoa(t.runs))
	}
}

// String renders the sequence in canonical form.
func (s *Sequence) String() string { return s.tree }

// Limits bound a Matcher's memory.
type Limits struct {
	// MaxPending caps pending partial sequences across all keys and
	// steps; the oldest are dropped beyond it. Default 100000.
	MaxPending int
	// NoSpanTTL bounds how long a partial sequence of a query without
	// maxspan waits for its next event. Default 9m (a Kibana rule's usual
	// look-back); negative means no bound but MaxPending.
	NoSpanTTL time.Duration
}

// DefaultMaxPending is Limits.MaxPending when unset.
const DefaultMaxPending = 100000

// DefaultNoSpanTTL is Limits.NoSpanTTL when unset.
const DefaultNoSpanTTL = 9 * time.Minute

// Matcher finds a Sequence in a stream of events. Events must be pushed in
// (Time, Seq) order. A Matcher is not safe for concurrent use.
//
// Semantics follow Elasticsearch's sequence matcher: each later step comes
// strictly later in the stream; maxspan runs from the first event to the
// candidate and is inclusive; each join key holds at most one partial
// sequence per step and the newest wins; one event never fills two steps
// of one sequence but may complete or advance one and start another
// (steps are tried from last to first). An event matching `until` ends the
// pending sequences of its key before it is tried as a step. Memory is
// bounded: partial sequences expire after maxspan (or Limits.NoSpanTTL)
// measured from their first event, and beyond Limits.MaxPending the oldest
// are dropped and counted.
type Matcher struct {
	seq        *Sequence
	ttl        int64 // ms; 0 = none
	span       int64 // ms; 0 = none
	maxPending int

	stages     []map[string]*pending // stages[j]: sequences whose last filled step is j
	head, tail *pending              // all pending sequences, oldest first event first
	count      int
	dropped    int64
	changes    uint64 // counts changes to the pending sequences (see Changes)

	keyBuf []byte
	copies *EventCopy    // the copy of the event being pushed, made on first need
	own    EventCopy     // the copy Push uses
	shapes []*shapeSteps // by ecs.ShapeID; nil until its first event
}

type pending struct {
	prev, next *pending
	stage      int
	key        string
	events     []ecs.Packed // the events of the steps filled so far
}

// NewMatcher returns a matcher with no pending sequences.
func (s *Sequence) NewMatcher(l Limits) *Matcher {
	if l.MaxPending <= 0 {
		l.MaxPending = DefaultMaxPending
	}
	if l.NoSpanTTL == 0 {
		l.NoSpanTTL = DefaultNoSpanTTL
	}
	m := &Matcher{seq: s, maxPending: l.MaxPending, span: s.MaxSpan.Milliseconds()}
	m.ttl = m.span
	if m.ttl == 0 && l.NoSpanTTL > 0 {
		m.ttl = l.NoSpanTTL.Milliseconds()
	}
	m.reset()
	return m
}

func (m *Matcher) reset() {
	n := len(m.seq.Steps) - 1
	if n < 0 {
		n = 0
	}
	m.stages = make([]map[string]*pending, n)
	for i := range m.stages {
		m.stages[i] = map[string]*pending{}
	}
	m.head, m.tail, m.count = nil, nil, 0
	m.changes++
}

// Pending returns how many partial sequences are held.
func (m *Matcher) Pending() int { return m.count }

// Changes counts the changes to the pending sequences so far: a caller
// that saved a Snapshot saves again only when it moved.
func (m *Matcher) Changes() uint64 { return m.changes }

// Dropped returns how many partial sequences were evicted to respect
// MaxPending.
func (m *Matcher) Dropped() int64 { return m.dropped }

// Push feeds one event and returns the sequences it completes, each with
// its events in step order. The matcher packs ev when it keeps it, so the
// caller may reuse ev; the returned events are copies.
func (m *Matcher) Push(ev *ecs.Event) [][]*ecs.Event {
	m.own.For(ev)
	return m.PushShared(ev, &m.own)
}

// PushShared is Push with the copy of ev shared with other matchers fed
// the same event: c, reset for ev, makes at most one.
func (m *Matcher) PushShared(ev *ecs.Event, c *EventCopy) [][]*ecs.Event {
	return m.PushSteps(ev, c, ecs.AllSteps)
}

// PushSteps is PushShared trying ev only on the steps in mask (bit j for
// Steps[j], bit 63 for Until): an index that knows ev cannot fill the
// others says so.
func (m *Matcher) PushSteps(ev *ecs.Event, c *EventCopy, mask uint64) [][]*ecs.Event {
	m.copies = c
	m.expire(ev.Time)
	steps := m.seq.Steps
	sh := m.stepsFor(ev.Shape)
	can := sh.mask & mask
	if m.count == 0 {
		// Nothing waits for a later step and until has nothing to end:
		// only the first step can act.
		if can&1 == 0 {
			return nil
		}
		can = 1
	}
	if u := m.seq.Until; u != nil && can&untilBit != 0 && sh.until(ev) && m.key(u, ev) {
		for _, st := range m.stages {
			if p, ok := st[string(m.keyBuf)]; ok {
				m.remove(p)
			}
		}
	}
	var out [][]*ecs.Event
	last := len(steps) - 1
	for j := last; j >= 0; j-- {
		st := &steps[j]
		// A later step acts only on a sequence waiting at the step before
		// it: with none there, its condition need not run.
		if (j < untilShift && can&(1<<j) == 0) || (j > 0 && len(m.stages[j-1]) == 0) {
			continue
		}
		if !sh.where[j](ev) || !m.key(st, ev) {
			continue
		}
		if j == 0 {
			if last == 0 {
				out = append(out, []*ecs.Event{ev.Clone()})
				continue
			}
			events := make([]ecs.Packed, 1, len(steps)-1)
			events[0] = m.copies.get()
			m.insert(&pending{stage: 0, key: string(m.keyBuf), events: events})
			continue
		}
		p, ok := m.stages[j-1][string(m.keyBuf)]
		if !ok {
			continue
		}
		if m.span > 0 && ev.Time-p.events[0].Time() > m.span {
			m.remove(p)
			continue
		}
		delete(m.stages[j-1], p.key)
		if j == last {
			m.unlink(p)
			out = append(out, unpackAll(p.events, ev))
			continue
		}
		p.events = append(p.events, m.copies.get())
		p.stage = j
		m.changes++
		if old, ok := m.stages[j][p.key]; ok {
			m.remove(old)
		}
		m.stages[j][p.key] = p
	}
	for m.count > m.maxPending {
		m.remove(m.head)
		m.dropped++
	}
	return out
}

// untilBit marks the until condition in a stepsFor mask; steps from
// untilShift on are never set aside.
const (
	untilShift        = 63
	untilBit   uint64 = 1 << untilShift
)

// stepsFor returns, for events of the shape, the mask of the steps (bit j)
// and the until condition (untilBit) such an event could match, and the
// conditions specialised for the shape; they are worked out on the
// shape's first event.
func (m *Matcher) stepsFor(id ecs.ShapeID) *shapeSteps {
	if int(id) < len(m.shapes) && m.shapes[id] != nil {
		return m.shapes[id]
	}
	sh := &shapeSteps{mask: ^uint64(0), where: make([]ecs.Predicate, len(m.seq.Steps))}
	for j := range m.seq.Steps {
		sh.where[j] = m.seq.Steps[j].Where
	}
	if u := m.seq.Until; u != nil {
		sh.until = u.Where
	}
	if shape := ecs.ShapeOf(id); shape != nil {
		for j := range m.seq.Steps {
			st := &m.seq.Steps[j]
			if j < untilShift && filterVerdict(st.filter, m.seq.catField, shape) == ecs.False {
				sh.mask &^= 1 << j
			}
			sh.where[j] = m.seq.whereFor(st, shape)
		}
		if u := m.seq.Until; u != nil {
			if filterVerdict(u.filter, m.seq.catField, shape) == ecs.False {
				sh.mask &^= untilBit
			}
			sh.until = m.seq.whereFor(u, shape)
		}
	}
	for int(id) >= len(m.shapes) {
		m.shapes = append(m.shapes, nil)
	}
	m.shapes[id] = sh
	return sh
}

// shapeSteps is what stepsFor worked out for a shape.
type shapeSteps struct {
	mask  uint64
	where []ecs.Predicate // by step: its condition for the shape
	until ecs.Predicate
}

// whereFor returns st's condition specialised for events of shape, or
// st.Where when it cannot be compiled again.
func (s *Sequence) whereFor(st *Step, shape *ecs.Shape) ecs.Predicate {
	return filterFor(st.filter, s.catField, shape, st.Where)
}

// unpackAll returns a completed sequence: its kept events and last, the
// event completing it.
func unpackAll(kept []ecs.Packed, last *ecs.Event) []*ecs.Event {
	out := make([]*ecs.Event, 0, len(kept)+1)
	for _, p := range kept {
		out = append(out, p.Unpack())
	}
	return append(out, last.Clone())
}

// EventCopy packs an event at most once however many matchers keep it:
// kept events are never modified, so they can share one packing.
type EventCopy struct {
	ev     *ecs.Event
	packed ecs.Packed
}

// For starts over with ev: the next packing made is of ev.
func (c *EventCopy) For(ev *ecs.Event) { c.ev, c.packed = ev, ecs.Packed{} }

func (c *EventCopy) get() ecs.Packed {
	if c.packed.IsZero() {
		c.packed = ecs.Pack(c.ev)
	}
	return c.packed
}

// expire drops partial sequences that can no longer complete.
func (m *Matcher) expire(now int64) {
	if m.ttl <= 0 {
		return
	}
	for m.head != nil && now-m.head.events[0].Time() > m.ttl {
		m.remove(m.head)
	}
}

// insert adds p at stage p.stage, replacing an older sequence of its key.
func (m *Matcher) insert(p *pending) {
	if old, ok := m.stages[p.stage][p.key]; ok {
		m.remove(old)
	}
	m.stages[p.stage][p.key] = p
	p.prev, p.next = m.tail, nil
	if m.tail != nil {
		m.tail.next = p
	} else {
		m.head = p
	}
	m.tail = p
	m.count++
	m.changes++
}

// remove forgets p entirely.
func (m *Matcher) remove(p *pending) {
	if cur, ok := m.stages[p.stage][p.key]; ok && cur == p {
		delete(m.stages[p.stage], p.key)
	}
	m.unlink(p)
}

func (m *Matcher) unlink(p *pending) {
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		m.head = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		m.tail = p.prev
	}
	p.prev, p.next = nil, nil
	m.count--
	m.changes++
}

// key renders st's join key values of ev into m.keyBuf. It reports false
// when a required key is null or missing: such events never join.
func (m *Matcher) key(st *Step, ev *ecs.Event) bool {
	b := m.keyBuf[:0]
	// Keep the buffer however the key ends, so that it grows only once.
	defer func() { m.keyBuf = b }()
	for i := range st.Keys {
		k := &st.Keys[i]
		var v *ecs.Value
		if k.value != nil {
			computed := k.value(ev)
			v = &computed
		} else {
			v = ev.Ref(k.id)
		}
		if v == nil || !v.Exists() {
			if !k.Optional {
				return false
			}
			b = append(b, 0)
			continue
		}
		b = appendKeyValue(b, v)
	}
	return true
}

// appendKeyValue writes v unambiguously: a tag, then length-prefixed text.
// Numbers and their keyword text share a key, as Elasticsearch coerces.
func appendKeyValue(b []byte, v *ecs.Value) []byte {
	if v.Kind == ecs.Array {
		b = append(b, 2)
		b = binary.AppendUvarint(b, uint64(len(v.Arr)))
		for i := range v.Arr {
			b = appendKeyValue(b, &v.Arr[i])
		}
		return b
	}
	b = append(b, 1)
	var scratch [32]byte
	var text []byte
	switch v.Kind {
	case ecs.String:
		b = binary.AppendUvarint(b, uint64(len(v.Str)))
		return append(b, v.Str...)
	case ecs.Int:
		text = strconv.AppendInt(scratch[:0], v.Int(), 10)
	case ecs.Float:
		f := v.Float()
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			text = strconv.AppendInt(scratch[:0], int64(f), 10)
		} else {
			text = strconv.AppendFloat(scratch[:0], f, 'f', -1, 64)
		}
	case ecs.Bool:
		text = strconv.AppendBool(scratch[:0], v.Bool())
	}
	b = binary.AppendUvarint(b, uint64(len(text)))
	return append(b, text...)
}
