package detect

import (
	"strings"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// dispatch picks the rules an event can reach. A rule, or each step of a
// sequence rule, is a target stating necessary conditions on fields (its
// conjuncts, each a disjunction of prefilters: "equals, starts with, ends
// with or contains one of these"); a target is indexed by every key of
// every conjunct, and an event reaches it only when its values hit a key
// of each conjunct. Targets stating none see every event. With hundreds
// of rules that each test process.name and then the arguments or a path,
// most events reach a handful, and a sequence only the steps they can
// fill.
type dispatch struct {
	always  []int32  // rules with a target that sees every event, in rule order
	allStep []uint64 // for each of always: the steps of those targets
	fields  []indexedField
	targets []target
	picked  []int32
	match   []ecs.Predicate // per rule: its match for the dispatch's shape
	steps   []uint64        // per rule: the steps of the targets the event reached
	seen    []uint64        // per rule: the event generation steps belongs to
	gen     uint64
	lower   []byte
	ev      *ecs.Event // the event pick is looking at, nil outside it

	recording bool    // add appends to recorded what it is given
	recorded  []int32 // the slots of the value being looked up
}

// target is one indexed part of a rule, with what the current event has
// met of it: one struct, so that marking a conjunct touches one place.
type target struct {
	rule  int32
	need  uint8  // the mask of all its conjuncts
	met   uint8  // the conjuncts the event of generation stamp has met
	steps uint64 // the rule's steps it stands for
	stamp uint64
}

// A slot names one conjunct of one target: target<<slotBits | conjunct;
// the one conjunct of a target with no other is ^target instead (negative),
// which add takes as met in full without keeping count. Two bits hold
// ecs.MaxConjuncts conjuncts.
const slotBits = 2

type indexedField struct {
	f     ecs.Field
	keys  keyIndex
	sides sides // the sides some key is on
	memo  valueMemo
}

// keyIndex maps exact values, prefixes, suffixes and inner text to target
// slots, case-sensitive keys and lower-cased ones each on their side.
type keyIndex struct {
	forward  keyTrie // exact values and prefixes
	backward keyTrie // suffixes, reversed
	contains substrIndex
}

func (k *keyIndex) add(p *ecs.Prefilter, slot int32) {
	lower, sd := p.KeyText, caseSensitive
	if p.Fold {
		sd = caseFolded
	}
	for _, v := range p.Values {
		k.forward.insert(lower(v), slot, true, false, sd)
	}
	for _, v := range p.Prefixes {
		k.forward.insert(lower(v), slot, false, false, sd)
	}
	for _, v := range p.Suffixes {
		k.backward.insert(lower(v), slot, false, true, sd)
	}
	for _, v := range p.Contains {
		k.contains.add(lower(v), slot, sd)
	}
}

// newDispatch indexes rules for events of shape (nil: any event). For a
// known shape it leaves out the targets the shape rules out, and settles
// the conjuncts on fields the shape fixes: one that always holds is
// dropped, one that never holds rules its target out.
func newDispatch(rules []*ruleState, shape *ecs.Shape) *dispatch {
	d := &dispatch{steps: make([]uint64, len(rules)), seen: make([]uint64, len(rules))}
	d.match = make([]ecs.Predicate, len(rules))
	var all []settledTarget
	primary := map[string]bool{} // fields some target's first condition keys
	for i, rs := range rules {
		for _, t := range rs.rule.targets(shape) {
			clauses, never := settleConjuncts(t.Clauses, shape)
			if never {
				continue
			}
			if d.match[i] == nil {
				// Only rules an event of the shape can reach need theirs.
				d.match[i] = rs.rule.matcher(shape)
			}
			if len(clauses) > 1<<slotBits {
				clauses = clauses[:1<<slotBits]
			}
			if len(clauses) > 0 {
				for _, p := range clauses[0] {
					primary[p.Field] = true
				}
			}
			all = append(all, settledTarget{int32(i), t.Steps, clauses})
		}
	}
	byField := map[string]int{}
	var alwaysSteps uint64
	for k, t := range all {
		// The first condition keys the target; the others narrow it only
		// where they cost no extra lookup: on a field that some target's
		// first condition makes every event look up anyway (a value in
		// lower case meets case-sensitive and folded keys in one lookup).
		clauses := t.clauses[:min(1, len(t.clauses))]
		for _, c := range t.clauses[min(1, len(t.clauses)):] {
			walked := true
			for _, p := range c {
				walked = walked && primary[p.Field]
			}
			if walked {
				clauses = append(clauses, c)
			}
		}
		if !d.index(t, clauses, byField) {
			alwaysSteps |= t.steps
		}
		if k == len(all)-1 || all[k+1].rule != t.rule {
			// The rule's last target: its unindexed steps see every event.
			if alwaysSteps != 0 {
				d.always = append(d.always, t.rule)
				d.allStep = append(d.allStep, alwaysSteps)
			}
			alwaysSteps = 0
		}
	}
	return d
}

// settledTarget is a rule's target with its conjuncts settled for a shape.
type settledTarget struct {
	rule    int32
	steps   uint64
	clauses [][]ecs.Prefilter
}

// index keys target t by clauses. It reports false, indexing nothing, when
// t has none or one names a field the registry has no room for: t then
// sees every event.
func (d *dispatch) index(t settledTarget, clauses [][]ecs.Prefilter, byField map[string]int) bool {
	if len(clauses) == 0 {
		return false
	}
	var fields []int
	for _, c := range clauses {
		for pi := range c {
			at, ok := byField[c[pi].Field]
			if !ok {
				f, ok := ecs.FieldOf(c[pi].Field)
				if !ok {
					return false
				}
				at = len(d.fields)
				byField[c[pi].Field] = at
				d.fields = append(d.fields, indexedField{f: f})
			}
			fields = append(fields, at)
		}
	}
	ti := int32(len(d.targets))
	d.targets = append(d.targets, target{rule: t.rule, steps: t.steps})
	fi := 0
	for ci, c := range clauses {
		slot := ti<<slotBits | int32(ci)
		if len(clauses) == 1 {
			slot = ^ti
		}
		d.targets[ti].need |= 1 << ci
		for pi := range c {
			ix := &d.fields[fields[fi]]
			fi++
			ix.keys.add(&c[pi], slot)
			if c[pi].Fold {
				ix.sides |= 1 << caseFolded
			} else {
				ix.sides |= 1 << caseSensitive
			}
		}
	}
	return true
}

// settleConjuncts drops the conjuncts a shape settles: a disjunction with
// a prefilter on a field the shape fixes that holds is always met; its
// prefilters on known fields that fail are dropped, and when none is
// left the conjunct (and so the rule) is never met.
func settleConjuncts(clauses [][]ecs.Prefilter, shape *ecs.Shape) (kept [][]ecs.Prefilter, never bool) {
	if shape == nil {
		return clauses, false
	}
	for _, c := range clauses {
		var open []ecs.Prefilter
		always := false
		for _, p := range c {
			f, ok := ecs.Lookup(p.Field)
			v, known := ecs.Value{}, false
			if ok {
				v, known = shape.Knows(f)
			}
			switch {
			case !known:
				open = append(open, p)
			case p.Holds(v):
				always = true
			}
		}
		switch {
		case always:
		case len(open) == 0:
			return nil, true
		default:
			kept = append(kept, open)
		}
	}
	return kept, false
}

// pick returns the indices of the rules ev can reach, in rule order; for
// each, stepsOf tells which of its steps. The slice is reused by the next
// call.
func (d *dispatch) pick(ev *ecs.Event) []int32 {
	d.gen++
	d.ev = ev
	d.picked = d.picked[:0]
	for k, i := range d.always {
		d.seen[i], d.steps[i] = d.gen, d.allStep[k]
		d.picked = append(d.picked, i)
	}
	for fi := range d.fields {
		ix := &d.fields[fi]
		v := ev.Ref(ix.f)
		if v == nil {
			continue
		}
		if v.Kind == ecs.String {
			// The common case, without Text's switch or a copy of v.
			d.recallValue(ix, v.Str)
			continue
		}
		for _, el := range v.Elems() {
			s, ok := el.Text()
			if !ok {
				continue
			}
			d.recallValue(ix, s)
		}
	}
	d.ev = nil
	if len(d.picked) > len(d.always) {
		sortInt32(d.picked)
	}
	return d.picked
}

// stepsOf returns the steps of rule i the current event reached (every bit
// for a single-event rule); i must be among those pick returned.
func (d *dispatch) stepsOf(i int32) uint64 { return d.steps[i] }

// matchOf returns rule i's match for events of the dispatch's shape.
func (d *dispatch) matchOf(i int32) ecs.Predicate { return d.match[i] }

// recallValue adds the slots of the keys of ix that s meets, from the
// field's memo when it remembers s.
func (d *dispatch) recallValue(ix *indexedField, s string) {
	slots, verdict := ix.memo.recall(s)
	switch verdict {
	case memoHit:
		d.add(slots)
	case memoBypassed:
		d.lookupValue(ix, s)
	case memoMiss:
		d.recording, d.recorded = true, d.recorded[:0]
		d.lookupValue(ix, s)
		d.recording = false
		ix.memo.keep(s, d.recorded)
	}
}

// lookupValue adds the slots of the keys of ix that s meets: the
// case-sensitive ones as it is, the folded ones lower-cased.
func (d *dispatch) lookupValue(ix *indexedField, s string) {
	if ix.sides&(1<<caseFolded) == 0 {
		d.lookup(&ix.keys, s, ix.sides)
		return
	}
	// A value already in lower case meets both sides' keys in one lookup;
	// any other is looked up once as it is and once lowered.
	low := d.folded(s)
	if low == s {
		d.lookup(&ix.keys, s, ix.sides)
		return
	}
	if ix.sides&(1<<caseSensitive) != 0 {
		d.lookup(&ix.keys, s, 1<<caseSensitive)
	}
	d.lookup(&ix.keys, low, 1<<caseFolded)
}

// lookup adds the slots of the keys on the sides in which that s meets.
func (d *dispatch) lookup(k *keyIndex, s string, which sides) {
	d.walk(&k.forward, s, false, which)
	d.walk(&k.backward, s, true, which)
	d.scan(&k.contains, s, which)
}

// scan adds the slots of every key on the sides in which that s contains.
func (d *dispatch) scan(x *substrIndex, s string, which sides) {
	if x.empty() {
		return
	}
	for _, k := range x.short {
		if strings.Contains(s, x.keys[k]) {
			d.addKey(x, k, which)
		}
	}
	pairs := x.pairs
	p := uint16(0)
	if len(s) > 0 {
		p = uint16(s[0])
	}
	for j := 1; j < len(s); j++ {
		// p is the pair of bytes at i = j-1, carried from the last one.
		p = p<<8 | uint16(s[j])
		if pairs[p/64]&(1<<(p%64)) == 0 {
			continue
		}
		i := j - 1
		rest := s[i:]
		if len(rest) < 8 {
			for _, c := range x.bucket(p) {
				if strings.HasPrefix(rest, x.keys[c.key]) {
					d.addKey(x, c.key, which)
				}
			}
			continue
		}
		// Eight bytes of text remain: one masked compare settles a key of
		// up to eight bytes and rules most longer ones out.
		w := head8(rest)
		for _, c := range x.bucket(p) {
			if w&c.mask == c.head && (!c.long || strings.HasPrefix(rest, x.keys[c.key])) {
				d.addKey(x, c.key, which)
			}
		}
	}
}

// addKey adds the slots of contained key k on the sides in which.
func (d *dispatch) addKey(x *substrIndex, k int32, which sides) {
	r := &x.rules[k]
	if which&(1<<caseSensitive) != 0 {
		d.add(r[caseSensitive])
	}
	if which&(1<<caseFolded) != 0 {
		d.add(r[caseFolded])
	}
}

// add marks the conjuncts slots meet; a target whose every conjunct is
// met picks its rule, for its steps.
func (d *dispatch) add(slots []int32) {
	if d.recording {
		d.recorded = append(d.recorded, slots...)
	}
	for _, sl := range slots {
		var t *target
		if sl < 0 {
			// A target of one conjunct: met as soon as the conjunct is.
			t = &d.targets[^sl]
		} else {
			t = &d.targets[sl>>slotBits]
			if t.stamp != d.gen {
				t.stamp, t.met = d.gen, 0
			}
			bit := uint8(1) << (sl & (1<<slotBits - 1))
			if t.met&bit != 0 {
				continue
			}
			t.met |= bit
			if t.met != t.need {
				continue
			}
		}
		if d.seen[t.rule] != d.gen {
			d.seen[t.rule], d.steps[t.rule] = d.gen, 0
			d.picked = append(d.picked, t.rule)
		}
		d.steps[t.rule] |= t.steps
	}
}

// folded returns s lower-cased: s itself when it has no upper-case
// letter, else a copy in a reused buffer (valid until the next call) for
// ASCII, or strings.ToLower for the rest. Within pick the event lowers
// an ASCII s: rules that fold the same value later reuse its answer.
func (d *dispatch) folded(s string) string {
	if d.ev != nil {
		if low, ascii := d.ev.LowerASCII(s); ascii {
			return low
		}
		return strings.ToLower(s)
	}
	ascii, upper := ecs.ASCIICase(s)
	switch {
	case !ascii:
		return strings.ToLower(s)
	case !upper:
		return s
	}
	d.lower = ecs.AppendLowerASCII(d.lower[:0], s)
	// The buffer is not touched while the lookup that uses it runs.
	return unsafeString(d.lower)
}

// sortInt32 is an insertion sort: the slices are short and nearly sorted.
func sortInt32(a []int32) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// router picks the dispatch of each event's shape. A shape's dispatch is
// built when its first event arrives; events of no known shape use the
// dispatch built for any event.
type router struct {
	rules   []*ruleState
	any     *dispatch
	byShape []*dispatch // by ecs.ShapeID; nil until built
	shapes  bool        // false: one dispatch for every event
}

func newRouter(rules []*ruleState, index bool) *router {
	r := &router{rules: rules, shapes: index}
	if !index {
		d := newDispatch(nil, nil)
		d.steps, d.seen = make([]uint64, len(rules)), make([]uint64, len(rules))
		for i, rs := range rules {
			d.match = append(d.match, rs.rule.match)
			d.always = append(d.always, int32(i))
			d.allStep = append(d.allStep, ecs.AllSteps)
		}
		r.any = d
		return r
	}
	r.any = newDispatch(rules, nil)
	return r
}

// pick returns the dispatch for ev's shape and the rules ev reaches.
func (r *router) pick(ev *ecs.Event) (*dispatch, []int32) {
	d := r.forShape(ev.Shape)
	return d, d.pick(ev)
}

func (r *router) forShape(id ecs.ShapeID) *dispatch {
	if id == 0 || !r.shapes {
		return r.any
	}
	if int(id) < len(r.byShape) && r.byShape[id] != nil {
		return r.byShape[id]
	}
	shape := ecs.ShapeOf(id)
	if shape == nil {
		return r.any
	}
	for int(id) >= len(r.byShape) {
		r.byShape = append(r.byShape, nil)
	}
	r.byShape[id] = newDispatch(r.rules, shape)
	return r.byShape[id]
}
