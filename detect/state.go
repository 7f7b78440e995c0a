package detect

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
)

// Durable engine state. Everything that can change a later alert is here:
// new-terms history, pending sequences, threshold groups, rate-limit
// windows and the event counter that orders events. TakeDelta hands over
// what changed since the previous call, so that a caller storing it in the
// same transaction as its read position stores exactly the state the
// engine had after the events that position covers; RestoreState puts it
// back. Each part costs what changed: terms and threshold groups entry by
// entry; pending sequences and rate-limit windows as a whole, and only when
// they changed.

// GroupEntry is one threshold group of a rule, encoded; a nil Data means
// the group is gone.
type GroupEntry struct {
	Rule string
	Key  string
	Data []byte
}

// StoreKey is a fixed-size key naming the group (rule and key may be long).
func (g GroupEntry) StoreKey() []byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(g.Rule)))
	h.Write(n[:])
	h.Write([]byte(g.Rule))
	h.Write([]byte(g.Key))
	return h.Sum(nil)
}

// EngineDelta is what changed in an engine's durable state.
type EngineDelta struct {
	// Terms are changed new-terms entries; entries with Forget set were
	// evicted and must be deleted.
	Terms []TermEntry
	// Sequences is every pending sequence, or nil when none changed.
	Sequences []byte
	// Limits is every rule's rate-limit window, or nil when none changed.
	Limits []byte
	// Groups are the changed threshold groups.
	Groups []GroupEntry
	// Counters are the engine's counters (events, per-rule numbers); small,
	// always set.
	Counters []byte
}

// EngineState is an engine's whole durable state, for RestoreState.
type EngineState struct {
	Terms     []TermEntry
	Sequences []byte
	Limits    []byte
	Groups    []GroupEntry
	Counters  []byte
}

type engineCounters struct {
	Events int64                `json:"events"`
	Rules  map[string]RuleStats `json:"rules,omitempty"`
}

type limitWindow struct {
	Bucket int64 `json:"b"`
	Count  int   `json:"c"`
}

type groupData struct {
	First    int64    `json:"f"`
	Count    int      `json:"c"`
	Distinct []string `json:"d,omitempty"`
	Alerted  bool     `json:"a,omitempty"`
}

// TakeDelta returns what changed since the previous call (or since
// RestoreState) and starts anew.
func (e *Engine) TakeDelta() (EngineDelta, error) {
	d := EngineDelta{Terms: e.terms.takeDirty()}
	var changes uint64
	for _, rs := range e.rules {
		if rs.matcher != nil {
			changes += rs.matcher.Changes()
		}
	}
	if changes != e.savedSeqChanges {
		b, err := e.SequenceState()
		if err != nil {
			return EngineDelta{}, err
		}
		d.Sequences, e.savedSeqChanges = b, changes
	}
	if e.limitsDirty {
		b, err := json.Marshal(e.limitWindows())
		if err != nil {
			return EngineDelta{}, fmt.Errorf("encoding rate-limit windows: %w", err)
		}
		d.Limits, e.limitsDirty = b, false
	}
	for _, rs := range e.rules {
		if rs.threshold == nil || len(rs.threshold.dirty) == 0 {
			continue
		}
		keys := make([]string, 0, len(rs.threshold.dirty))
		for k := range rs.threshold.dirty {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		clear(rs.threshold.dirty)
		for _, k := range keys {
			g := GroupEntry{Rule: rs.rule.Meta.ID, Key: k}
			if grp := rs.threshold.groups[k]; grp != nil {
				b, err := json.Marshal(encodeGroup(grp))
				if err != nil {
					return EngineDelta{}, fmt.Errorf("encoding a threshold group of rule %s: %w", rs.rule.Meta.ID, err)
				}
				g.Data = b
			}
			d.Groups = append(d.Groups, g)
		}
	}
	c := engineCounters{Events: e.events, Rules: make(map[string]RuleStats, len(e.rules))}
	for _, rs := range e.rules {
		c.Rules[rs.rule.Meta.ID] = rs.stats
	}
	b, err := json.Marshal(c)
	if err != nil {
		return EngineDelta{}, fmt.Errorf("encoding engine counters: %w", err)
	}
	d.Counters = b
	return d, nil
}

// FullState returns the whole durable state (for a state file rewritten as
// a whole); it does not start a new delta.
func (e *Engine) FullState() (EngineState, error) {
	var st EngineState
	for rule, keys := range e.terms.seen {
		for k, t := range keys {
			st.Terms = append(st.Terms, TermEntry{Rule: rule, Key: k, LastSeen: t})
		}
	}
	sort.Slice(st.Terms, func(i, j int) bool {
		if st.Terms[i].Rule != st.Terms[j].Rule {
			return st.Terms[i].Rule < st.Terms[j].Rule
		}
		return st.Terms[i].Key < st.Terms[j].Key
	})
	var err error
	if st.Sequences, err = e.SequenceState(); err != nil {
		return st, err
	}
	if st.Limits, err = json.Marshal(e.limitWindows()); err != nil {
		return st, fmt.Errorf("encoding rate-limit windows: %w", err)
	}
	for _, rs := range e.rules {
		if rs.threshold == nil {
			continue
		}
		for k, grp := range rs.threshold.groups {
			b, err := json.Marshal(encodeGroup(grp))
			if err != nil {
				return st, fmt.Errorf("encoding a threshold group of rule %s: %w", rs.rule.Meta.ID, err)
			}
			st.Groups = append(st.Groups, GroupEntry{Rule: rs.rule.Meta.ID, Key: k, Data: b})
		}
	}
	c := engineCounters{Events: e.events, Rules: make(map[string]RuleStats, len(e.rules))}
	for _, rs := range e.rules {
		c.Rules[rs.rule.Meta.ID] = rs.stats
	}
	if st.Counters, err = json.Marshal(c); err != nil {
		return st, fmt.Errorf("encoding engine counters: %w", err)
	}
	return st, nil
}

// RestoreState loads a durable state into a new engine. State of rules no
// longer loaded is ignored. A part that cannot be read is skipped and named
// in the returned error; the other parts are restored.
func (e *Engine) RestoreState(st EngineState) error {
	var problems []error
	e.terms.load(st.Terms)
	clear(e.terms.dirty)
	if err := e.RestoreSequences(st.Sequences); err != nil {
		problems = append(problems, err)
	}
	for _, rs := range e.rules {
		if rs.matcher != nil {
			e.savedSeqChanges += rs.matcher.Changes()
		}
	}
	byID := make(map[string]*ruleState, len(e.rules))
	for _, rs := range e.rules {
		byID[rs.rule.Meta.ID] = rs
	}
	if len(st.Limits) > 0 {
		var w map[string]limitWindow
		if err := json.Unmarshal(st.Limits, &w); err != nil {
			problems = append(problems, fmt.Errorf("reading rate-limit windows: %w", err))
		} else {
			for id, lw := range w {
				if rs := byID[id]; rs != nil {
					rs.limiter.bucket, rs.limiter.count = lw.Bucket, lw.Count
				}
			}
		}
	}
	for _, g := range st.Groups {
		rs := byID[g.Rule]
		if rs == nil || rs.threshold == nil || g.Data == nil {
			continue
		}
		var gd groupData
		if err := json.Unmarshal(g.Data, &gd); err != nil {
			problems = append(problems, fmt.Errorf("reading a threshold group of rule %s: %w", g.Rule, err))
			continue
		}
		grp := &thresholdGroup{first: gd.First, count: gd.Count, alerted: gd.Alerted}
		if len(gd.Distinct) > 0 {
			grp.distinct = make(map[string]struct{}, len(gd.Distinct))
			for _, v := range gd.Distinct {
				grp.distinct[v] = struct{}{}
			}
		}
		rs.threshold.groups[g.Key] = grp
	}
	if len(st.Counters) > 0 {
		var c engineCounters
		if err := json.Unmarshal(st.Counters, &c); err != nil {
			problems = append(problems, fmt.Errorf("reading engine counters: %w", err))
		} else {
			e.events = c.Events
			for id, s := range c.Rules {
				if rs := byID[id]; rs != nil {
					rs.stats = s
				}
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("restoring engine state: %v", problems)
	}
	return nil
}

func (e *Engine) limitWindows() map[string]limitWindow {
	w := map[string]limitWindow{}
	for _, rs := range e.rules {
		if rs.limiter.limit > 0 && rs.limiter.interval > 0 {
			w[rs.rule.Meta.ID] = limitWindow{Bucket: rs.limiter.bucket, Count: rs.limiter.count}
		}
	}
	return w
}

func encodeGroup(g *thresholdGroup) groupData {
	gd := groupData{First: g.first, Count: g.count, Alerted: g.alerted}
	for v := range g.distinct {
		gd.Distinct = append(gd.Distinct, v)
	}
	sort.Strings(gd.Distinct)
	return gd
}
