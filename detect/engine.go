package detect

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/osqdetect/osqdetect/detect/ecs"
	"github.com/osqdetect/osqdetect/detect/eql"
)

// Options tune an Engine. The zero value is usable.
type Options struct {
	// MaxPending bounds the partial sequences each sequence rule keeps.
	MaxPending int
	// MaxTerms bounds the new-terms history across rules (default 1,000,000).
	MaxTerms int
	// MaxGroups bounds each threshold rule's open groups (default 100,000).
	MaxGroups int
	// RateLimits overrides a rule's max_signals (alerts per interval) by rule id.
	RateLimits map[string]int
	// DisableRateLimit turns the per-rule max_signals limit off.
	DisableRateLimit bool
	// DisableIndex runs every rule on every event instead of only the
	// rules the event's shape allows and whose prefilters it meets (for
	// comparisons).
	DisableIndex bool
}

// RuleStats are one rule's counters.
type RuleStats struct {
	Matches    int64 `json:"matches"`
	Alerts     int64 `json:"alerts"`
	Suppressed int64 `json:"suppressed"`
	LastAlert  int64 `json:"last_alert"` // Unix seconds of the last alert's event, 0 if none
}

// Stats are the engine's counters.
type Stats struct {
	Events           int64                `json:"events"`
	Alerts           int64                `json:"alerts"`
	Suppressed       int64                `json:"suppressed"`
	PendingSequences int                  `json:"pending_sequences"`
	DroppedSequences int64                `json:"dropped_sequences"`
	Terms            int                  `json:"terms"`
	TermsEvicted     int64                `json:"terms_evicted"`
	PerRule          map[string]RuleStats `json:"per_rule"`
}

// Engine runs compiled rules over a stream of events in time order. It is
// not safe for concurrent use: one goroutine owns it.
type Engine struct {
	rules    []*ruleState
	dispatch *router
	terms    *termHistory
	events   int64
	copies   eql.EventCopy // one copy of the event for every sequence keeping it

	// What TakeDelta (state.go) has handed over already.
	savedSeqChanges uint64 // the matchers' change counts at the last delta
	limitsDirty     bool   // a rate-limit window moved since the last delta
}

type ruleState struct {
	rule      *Rule
	matcher   *eql.Matcher
	limiter   rateLimiter
	threshold *thresholdState
	stats     RuleStats
}

// NewEngine prepares rules for streaming.
func NewEngine(rules []*Rule, opts Options) *Engine {
	e := &Engine{terms: newTermHistory(opts.MaxTerms)}
	for _, r := range rules {
		rs := &ruleState{rule: r}
		limit := r.Meta.MaxSignals
		if l, ok := opts.RateLimits[r.Meta.ID]; ok {
			limit = l
		}
		if opts.DisableRateLimit {
			limit = 0
		}
		rs.limiter = rateLimiter{limit: limit, interval: r.Meta.Interval.Milliseconds()}
		switch r.kind {
		case KindSequence:
			rs.matcher = r.sequence.NewMatcher(eql.Limits{MaxPending: opts.MaxPending, NoSpanTTL: r.Meta.From})
		case KindThreshold:
			rs.threshold = newThresholdState(r, opts.MaxGroups)
		}
		e.rules = append(e.rules, rs)
	}
	e.dispatch = newRouter(e.rules, !opts.DisableIndex)
	return e
}

// Process runs every rule on ev and calls emit for each alert. ev may be
// reused by the caller after Process returns.
func (e *Engine) Process(ev *ecs.Event, emit func(*Alert)) {
	e.events++
	e.copies.For(ev)
	d, picked := e.dispatch.pick(ev)
	for _, i := range picked {
		rs := e.rules[i]
		r := rs.rule
		switch r.kind {
		case KindQuery, KindEQLEvent:
			if d.matchOf(i)(ev) {
				rs.stats.Matches++
				e.alert(rs, []*ecs.Event{ev}, "", emit)
			}
		case KindSequence:
			for _, seq := range rs.matcher.PushSteps(ev, &e.copies, d.stepsOf(i)) {
				rs.stats.Matches++
				e.alert(rs, seq, "", emit)
			}
		case KindNewTerms:
			if !d.matchOf(i)(ev) {
				continue
			}
			rs.stats.Matches++
			eachTerm(ev, r.terms, func(key string) {
				if e.terms.observe(r.Meta.ID, key, ev.Time, r.Meta.HistoryWindow.Milliseconds()) {
					e.alert(rs, []*ecs.Event{ev}, key, emit)
				}
			})
		case KindThreshold:
			if d.matchOf(i)(ev) {
				rs.stats.Matches++
				if rs.threshold.add(ev) {
					e.alert(rs, []*ecs.Event{ev}, rs.threshold.lastKey, emit)
				}
			}
		}
	}
}

func (e *Engine) alert(rs *ruleState, events []*ecs.Event, term string, emit func(*Alert)) {
	last := events[len(events)-1]
	if rs.limiter.active() {
		e.limitsDirty = true
	}
	if !rs.limiter.allow(last.Time) {
		rs.stats.Suppressed++
		return
	}
	for _, ev := range events {
		ev.Complete()
	}
	a := buildAlert(rs.rule, events, term)
	rs.stats.Alerts++
	rs.stats.LastAlert = a.Time
	emit(a)
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	s := Stats{Events: e.events, PerRule: make(map[string]RuleStats, len(e.rules))}
	for _, rs := range e.rules {
		s.Alerts += rs.stats.Alerts
		s.Suppressed += rs.stats.Suppressed
		if rs.matcher != nil {
			s.PendingSequences += rs.matcher.Pending()
			s.DroppedSequences += rs.matcher.Dropped()
		}
		s.PerRule[rs.rule.Meta.ID] = rs.stats
	}
	s.Terms = e.terms.len()
	s.TermsEvicted = e.terms.evicted
	return s
}

// TermEntry is one new-terms history entry, for durable storage.
type TermEntry struct {
	Rule     string `json:"rule"`
	Key      string `json:"key"`
	LastSeen int64  `json:"last_seen"` // Unix milliseconds
	// Forget marks an entry evicted from the history (TakeDelta): the
	// stored entry goes too.
	Forget bool `json:"-"`
}

// DirtyTerms returns the history entries changed since the last call.
func (e *Engine) DirtyTerms() []TermEntry { return e.terms.takeDirty() }

// LoadTerms restores history entries, keeping the newest sighting of each.
func (e *Engine) LoadTerms(entries []TermEntry) { e.terms.load(entries) }

// SequenceState serializes every sequence rule's partial sequences.
func (e *Engine) SequenceState() ([]byte, error) {
	state := map[string]json.RawMessage{}
	for _, rs := range e.rules {
		if rs.matcher == nil || rs.matcher.Pending() == 0 {
			continue
		}
		b, err := rs.matcher.Snapshot()
		if err != nil {
			return nil, fmt.Errorf("saving sequences of rule %s: %w", rs.rule.Meta.ID, err)
		}
		state[rs.rule.Meta.ID] = b
	}
	return json.Marshal(state)
}

// RestoreSequences loads what SequenceState saved. State of rules that are
// no longer loaded is ignored.
func (e *Engine) RestoreSequences(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	var state map[string]json.RawMessage
	if err := json.Unmarshal(b, &state); err != nil {
		return fmt.Errorf("reading sequence state: %w", err)
	}
	for _, rs := range e.rules {
		if raw, ok := state[rs.rule.Meta.ID]; ok && rs.matcher != nil {
			if err := rs.matcher.Restore(raw); err != nil {
				return fmt.Errorf("restoring sequences of rule %s: %w", rs.rule.Meta.ID, err)
			}
		}
	}
	return nil
}

// rateLimiter enforces max_signals alerts per interval of event time.
type rateLimiter struct {
	limit    int
	interval int64 // ms
	bucket   int64
	count    int
}

func (l *rateLimiter) active() bool { return l.limit > 0 && l.interval > 0 }

func (l *rateLimiter) allow(t int64) bool {
	if !l.active() {
		return true
	}
	b := t / l.interval
	if b != l.bucket {
		l.bucket, l.count = b, 0
	}
	if l.count >= l.limit {
		return false
	}
	l.count++
	return true
}

// eachTerm calls fn with the key of every combination of the fields'
// values; each element of an array field is its own term. Events missing a
// field yield no term.
func eachTerm(ev *ecs.Event, fields []ecs.Field, fn func(key string)) {
	var vals [3][]ecs.Value
	for i, f := range fields {
		v := ev.Ref(f)
		if v == nil || !v.Exists() {
			return
		}
		vals[i] = v.Elems()
	}
	var rec func(i int, prefix string)
	rec = func(i int, prefix string) {
		if i == len(fields) {
			fn(prefix)
			return
		}
		seen := map[string]bool{}
		for _, el := range vals[i] {
			s, ok := el.Text()
			if !ok || seen[s] {
				continue
			}
			seen[s] = true
			if i > 0 {
				rec(i+1, prefix+"\x1f"+s)
			} else {
				rec(i+1, s)
			}
		}
	}
	rec(0, "")
}

// termHistory remembers when each rule last saw each term, bounded.
type termHistory struct {
	max     int
	seen    map[string]map[string]int64 // rule -> key -> last seen ms
	size    int
	dirty   map[termKey]int64
	evicted int64
	newest  int64
}

type termKey struct{ rule, key string }

func newTermHistory(max int) *termHistory {
	if max <= 0 {
		max = 1_000_000
	}
	return &termHistory{max: max, seen: map[string]map[string]int64{}, dirty: map[termKey]int64{}}
}

// observe records a sighting at t and reports whether the term is new: never
// seen, or last seen more than window before t.
func (h *termHistory) observe(rule, key string, t, window int64) bool {
	keys := h.seen[rule]
	if keys == nil {
		keys = map[string]int64{}
		h.seen[rule] = keys
	}
	last, ok := keys[key]
	isNew := !ok || t-last > window
	if !ok {
		h.size++
		// The history outlives the event: keep a copy of its own, not a
		// string that may share the memory of a whole batch of rows.
		key = strings.Clone(key)
	}
	if !ok || t > last {
		keys[key] = t
		h.dirty[termKey{rule, key}] = t
	}
	if t > h.newest {
		h.newest = t
	}
	if h.size > h.max {
		h.evictOldest()
	}
	return isNew
}

// evictOldest drops the oldest tenth of the history when it is full.
func (h *termHistory) evictOldest() {
	type entry struct {
		rule, key string
		t         int64
	}
	all := make([]entry, 0, h.size)
	for r, keys := range h.seen {
		for k, t := range keys {
			all = append(all, entry{r, k, t})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].t < all[j].t })
	n := len(all) / 10
	if n == 0 {
		n = 1
	}
	for _, e := range all[:n] {
		delete(h.seen[e.rule], e.key)
		h.dirty[termKey{e.rule, e.key}] = forgotten
		h.size--
		h.evicted++
	}
}

// forgotten marks a dirty entry that was evicted.
const forgotten = math.MinInt64

func (h *termHistory) len() int { return h.size }

func (h *termHistory) takeDirty() []TermEntry {
	if len(h.dirty) == 0 {
		return nil
	}
	out := make([]TermEntry, 0, len(h.dirty))
	for k, t := range h.dirty {
		if t == forgotten {
			out = append(out, TermEntry{Rule: k.rule, Key: k.key, Forget: true})
			continue
		}
		out = append(out, TermEntry{Rule: k.rule, Key: k.key, LastSeen: t})
	}
	clear(h.dirty)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Rule != out[j].Rule {
			return out[i].Rule < out[j].Rule
		}
		return out[i].Key < out[j].Key
	})
	return out
}

func (h *termHistory) load(entries []TermEntry) {
	for _, en := range entries {
		keys := h.seen[en.Rule]
		if keys == nil {
			keys = map[string]int64{}
			h.seen[en.Rule] = keys
		}
		last, ok := keys[en.Key]
		if !ok {
			h.size++
		}
		if !ok || en.LastSeen > last {
			keys[en.Key] = en.LastSeen
		}
	}
	for h.size > h.max {
		h.evictOldest()
	}
}

// thresholdState counts events per group over the rule's look-back window.
type thresholdState struct {
	t       *Threshold
	window  int64
	max     int
	fields  []ecs.Field
	card    ecs.Field
	groups  map[string]*thresholdGroup
	lastKey string
	dirty   map[string]struct{} // groups changed since the last TakeDelta
}

type thresholdGroup struct {
	first    int64
	count    int
	distinct map[string]struct{}
	alerted  bool
}

func newThresholdState(r *Rule, max int) *thresholdState {
	if max <= 0 {
		max = 100_000
	}
	s := &thresholdState{t: r.threshold, window: r.Meta.From.Milliseconds(), max: max, groups: map[string]*thresholdGroup{}, dirty: map[string]struct{}{}}
	for _, name := range r.threshold.Fields {
		f, _ := ecs.FieldOf(name)
		s.fields = append(s.fields, f)
	}
	if r.threshold.CardinalityField != "" {
		s.card, _ = ecs.FieldOf(r.threshold.CardinalityField)
	}
	return s
}

// add counts ev in its group and reports whether the group just reached
// the threshold. A group alerts once per window.
func (s *thresholdState) add(ev *ecs.Event) bool {
	key := ""
	for i, f := range s.fields {
		v := ev.Get(f)
		if !v.Exists() {
			return false // Kibana's terms aggregation skips documents missing a group field
		}
		if i > 0 {
			key += "\x1f"
		}
		key += v.Key()
	}
	g := s.groups[key]
	if g != nil && ev.Time-g.first > s.window {
		delete(s.groups, key)
		s.dirty[key] = struct{}{}
		g = nil
	}
	if g == nil {
		if len(s.groups) >= s.max {
			s.expire(ev.Time)
			if len(s.groups) >= s.max {
				return false
			}
		}
		g = &thresholdGroup{first: ev.Time}
		s.groups[key] = g
	}
	s.dirty[key] = struct{}{}
	g.count++
	if s.t.Cardinality > 0 {
		if g.distinct == nil {
			g.distinct = map[string]struct{}{}
		}
		if len(g.distinct) < s.t.Cardinality {
			v := ev.Get(s.card)
			for _, el := range v.Elems() {
				if txt, ok := el.Text(); ok {
					g.distinct[txt] = struct{}{}
				}
			}
		}
	}
	if g.alerted || g.count < s.t.Value || len(g.distinct) < s.t.Cardinality {
		return false
	}
	g.alerted = true
	s.lastKey = key
	return true
}

func (s *thresholdState) expire(now int64) {
	for k, g := range s.groups {
		if now-g.first > s.window {
			delete(s.groups, k)
			s.dirty[k] = struct{}{}
		}
	}
}
