package detect

import (
	"fmt"
	"time"

	"github.com/osqdetect/osqdetect/detect/ecs"
	"github.com/osqdetect/osqdetect/detect/eql"
)

// Kind is how a rule turns matching events into alerts.
type Kind int

const (
	// KindQuery alerts on every event its query matches (Kibana "query").
	KindQuery Kind = iota
	// KindEQLEvent alerts on every event a single-event EQL query matches.
	KindEQLEvent
	// KindSequence alerts on every completed EQL sequence.
	KindSequence
	// KindNewTerms alerts when a combination of field values is seen for
	// the first time within the history window.
	KindNewTerms
	// KindThreshold alerts when a group of events reaches a count.
	KindThreshold
)

// Rule is a compiled rule ready for an Engine. Build one with NewQueryRule,
// NewEQLRule, NewNewTermsRule or NewThresholdRule.
type Rule struct {
	Meta RuleMeta
	// Fields lists the ECS fields the query references.
	Fields []string
	// Prefilters are necessary conditions of the query (at least one
	// holds for any event the rule can use); the engine indexes rules by
	// them. Nil means the rule sees every event.
	Prefilters []ecs.Prefilter
	// Targets, when set, returns what the engine indexes the rule by for
	// events of a shape (nil: any event): the rule, or each step of a
	// sequence, with the conditions an event must meet to matter to it.
	// An empty result means no event of the shape can. Nil means
	// Prefilters, for the whole rule.
	Targets func(*ecs.Shape) []ecs.Target
	// MatchFor, when set, returns the rule's condition specialised for
	// events of a shape (see eql.Query.EventFor and kql.Query.MatchFor);
	// the engine calls it once per shape. Nil means the condition as built.
	MatchFor func(*ecs.Shape) ecs.Predicate

	kind      Kind
	match     ecs.Predicate
	sequence  *eql.Sequence
	terms     []ecs.Field
	threshold *Threshold
}

// targets returns what to index the rule by for events of shape (nil: any
// event).
func (r *Rule) targets(shape *ecs.Shape) []ecs.Target {
	switch {
	case r.Targets != nil:
		return r.Targets(shape)
	case len(r.Prefilters) == 0:
		return ecs.WholeTarget(nil, false)
	}
	return ecs.WholeTarget([][]ecs.Prefilter{r.Prefilters}, false)
}

// matcher returns the rule's match for events of shape (nil: any event).
func (r *Rule) matcher(shape *ecs.Shape) ecs.Predicate {
	if shape == nil || r.MatchFor == nil {
		return r.match
	}
	return r.MatchFor(shape)
}

// Kind returns how the rule produces alerts.
func (r *Rule) Kind() Kind { return r.kind }

// Threshold is a threshold rule's grouping and count.
type Threshold struct {
	Fields []string // group-by fields; empty means one group
	Value  int      // alert when a group reaches this many events
	// Cardinality, when set, also requires this many distinct values of
	// CardinalityField within the group.
	CardinalityField string
	Cardinality      int
}

// NewQueryRule builds a rule that alerts on every event match accepts.
func NewQueryRule(meta RuleMeta, match ecs.Predicate, fields []string) *Rule {
	return &Rule{Meta: withDefaults(meta), Fields: fields, kind: KindQuery, match: match}
}

// NewEQLRule builds a rule from a compiled EQL query: single-event queries
// alert per event, sequences per completed sequence.
func NewEQLRule(meta RuleMeta, q *eql.Query) (*Rule, error) {
	r := &Rule{Meta: withDefaults(meta), Fields: q.Fields, Prefilters: q.Prefilters, Targets: q.Targets}
	switch {
	case q.Sequence != nil:
		r.kind, r.sequence = KindSequence, q.Sequence
	case q.Event != nil:
		r.kind, r.match, r.MatchFor = KindEQLEvent, q.Event, q.EventFor
	default:
		return nil, fmt.Errorf("rule %s: EQL query compiled to nothing", meta.ID)
	}
	return r, nil
}

// NewNewTermsRule builds a new_terms rule: match filters the events, and
// meta.NewTermsFields (1 to 3 fields) and meta.HistoryWindow define a term.
func NewNewTermsRule(meta RuleMeta, match ecs.Predicate, fields []string) (*Rule, error) {
	meta = withDefaults(meta)
	if n := len(meta.NewTermsFields); n < 1 || n > 3 {
		return nil, fmt.Errorf("rule %s: new_terms needs 1 to 3 fields, got %d", meta.ID, n)
	}
	if meta.HistoryWindow <= 0 {
		return nil, fmt.Errorf("rule %s: new_terms needs a history window (history_window_start)", meta.ID)
	}
	r := &Rule{Meta: meta, Fields: fields, kind: KindNewTerms, match: match}
	for _, name := range meta.NewTermsFields {
		f, ok := ecs.FieldOf(name)
		if !ok {
			return nil, fmt.Errorf("rule %s: too many distinct fields to register %q", meta.ID, name)
		}
		r.terms = append(r.terms, f)
	}
	return r, nil
}

// NewThresholdRule builds a threshold rule over the events match accepts.
func NewThresholdRule(meta RuleMeta, match ecs.Predicate, fields []string, t Threshold) (*Rule, error) {
	if t.Value < 1 {
		return nil, fmt.Errorf("rule %s: threshold value must be at least 1, got %d", meta.ID, t.Value)
	}
	if len(t.Fields) > 5 {
		return nil, fmt.Errorf("rule %s: threshold groups by at most 5 fields, got %d", meta.ID, len(t.Fields))
	}
	return &Rule{Meta: withDefaults(meta), Fields: fields, kind: KindThreshold, match: match, threshold: &t}, nil
}

// Kibana's defaults for rules that leave them out.
const (
	DefaultInterval   = 5 * time.Minute
	DefaultFrom       = 6 * time.Minute
	DefaultMaxSignals = 100
)

func withDefaults(m RuleMeta) RuleMeta {
	if m.Interval <= 0 {
		m.Interval = DefaultInterval
	}
	if m.From <= 0 {
		m.From = DefaultFrom
	}
	if m.MaxSignals <= 0 {
		m.MaxSignals = DefaultMaxSignals
	}
	return m
}
