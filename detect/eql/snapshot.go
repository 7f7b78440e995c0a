package eql

import (
	"encoding/json"
	"fmt"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// snapshotVersion changes when the snapshot format does.
const snapshotVersion = 1

type snapshot struct {
	Version int    `json:"version"`
	Query   string `json:"query"` // canonical form of the sequence
	Dropped int64  `json:"dropped"`
	// Events are stored once even when several partial sequences share one.
	Events  []snapEvent   `json:"events"`
	Pending []snapPending `json:"pending"` // oldest first
}

type snapPending struct {
	Stage  int    `json:"stage"`
	Key    []byte `json:"key"`
	Events []int  `json:"events"` // indexes into snapshot.Events
}

type snapEvent struct {
	Time   int64       `json:"time"`
	Seq    uint64      `json:"seq"`
	Fields []snapField `json:"fields"`
}

type snapField struct {
	Name  string    `json:"name"`
	Value snapValue `json:"value"`
}

// snapValue keeps the exact kind of a value: K is the ecs.Kind; I holds an
// Int, the bits of a Float, or a Bool as 0/1.
type snapValue struct {
	K ecs.Kind    `json:"k"`
	S string      `json:"s,omitempty"`
	I int64       `json:"i,omitempty"`
	A []snapValue `json:"a,omitempty"`
}

func encodeValue(v ecs.Value) snapValue {
	sv := snapValue{K: v.Kind}
	switch v.Kind {
	case ecs.String:
		sv.S = v.Str
	case ecs.Int, ecs.Bool:
		sv.I = v.Int()
	case ecs.Float:
		sv.I = int64(floatBits(v.Float()))
	case ecs.Array:
		sv.A = make([]snapValue, len(v.Arr))
		for i, e := range v.Arr {
			sv.A[i] = encodeValue(e)
		}
	}
	return sv
}

func decodeValue(sv snapValue, depth int) (ecs.Value, error) {
	switch sv.K {
	case ecs.Null:
		return ecs.NullVal(), nil
	case ecs.String:
		return ecs.Str(sv.S), nil
	case ecs.Int:
		return ecs.IntVal(sv.I), nil
	case ecs.Float:
		return ecs.FloatVal(floatFromBits(uint64(sv.I))), nil
	case ecs.Bool:
		return ecs.BoolVal(sv.I != 0), nil
	case ecs.Array:
		if depth > 0 {
			return ecs.Value{}, fmt.Errorf("nested array")
		}
		elems := make([]ecs.Value, len(sv.A))
		for i, e := range sv.A {
			v, err := decodeValue(e, depth+1)
			if err != nil {
				return ecs.Value{}, err
			}
			elems[i] = v
		}
		return ecs.ArrayOf(elems...), nil
	}
	return ecs.Value{}, fmt.Errorf("bad value kind %d", sv.K)
}

// Snapshot serialises the pending partial sequences so that a restarted
// process can resume matching with Restore.
func (m *Matcher) Snapshot() ([]byte, error) {
	s := snapshot{Version: snapshotVersion, Query: m.seq.tree, Dropped: m.dropped}
	index := map[ecs.Packed]int{}
	for p := m.head; p != nil; p = p.next {
		sp := snapPending{Stage: p.stage, Key: []byte(p.key), Events: make([]int, len(p.events))}
		for i, packed := range p.events {
			n, ok := index[packed]
			if !ok {
				n = len(s.Events)
				index[packed] = n
				ev := packed.Unpack()
				se := snapEvent{Time: ev.Time, Seq: ev.Seq, Fields: make([]snapField, 0, ev.Len())}
				ev.Range(func(f ecs.Field, v ecs.Value) {
					se.Fields = append(se.Fields, snapField{Name: f.Name(), Value: encodeValue(v)})
				})
				s.Events = append(s.Events, se)
			}
			sp.Events[i] = n
		}
		s.Pending = append(s.Pending, sp)
	}
	b, err := json.Marshal(&s)
	if err != nil {
		return nil, fmt.Errorf("encoding sequence state: %w", err)
	}
	return b, nil
}

// Restore replaces the matcher's pending sequences with those of a
// Snapshot taken from a matcher of the same query. On error the matcher is
// left empty.
func (m *Matcher) Restore(data []byte) error {
	m.reset()
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("decoding sequence state: %w", err)
	}
	if s.Version != snapshotVersion {
		return fmt.Errorf("sequence state has version %d, want %d", s.Version, snapshotVersion)
	}
	if s.Query != m.seq.tree {
		return fmt.Errorf("sequence state was saved for a different query")
	}
	events := make([]ecs.Packed, len(s.Events))
	for i, se := range s.Events {
		ev := &ecs.Event{Time: se.Time, Seq: se.Seq}
		for _, sf := range se.Fields {
			v, err := decodeValue(sf.Value, 0)
			if err != nil {
				return fmt.Errorf("sequence state event %d field %q: %w", i, sf.Name, err)
			}
			f, ok := ecs.FieldOf(sf.Name)
			if !ok {
				return fmt.Errorf("sequence state event %d: field registry full at %q", i, sf.Name)
			}
			ev.Set(f, v)
		}
		events[i] = ecs.Pack(ev)
	}
	for i, sp := range s.Pending {
		if sp.Stage < 0 || sp.Stage >= len(m.stages) || len(sp.Events) != sp.Stage+1 {
			m.reset()
			return fmt.Errorf("sequence state pending %d: bad stage %d with %d events", i, sp.Stage, len(sp.Events))
		}
		p := &pending{stage: sp.Stage, key: string(sp.Key), events: make([]ecs.Packed, len(sp.Events), len(m.seq.Steps)-1)}
		for j, n := range sp.Events {
			if n < 0 || n >= len(events) {
				m.reset()
				return fmt.Errorf("sequence state pending %d: bad event index %d", i, n)
			}
			p.events[j] = events[n]
		}
		m.insert(p)
	}
	m.dropped = s.Dropped
	for m.count > m.maxPending {
		m.remove(m.head)
		m.dropped++
	}
	return nil
}
