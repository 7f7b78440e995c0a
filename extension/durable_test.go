package extension

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"testing"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/detect/normalize"
	"github.com/osqdetect/osqdetect/extension/store"
)

func TestGroupRecordRoundTrip(t *testing.T) {
	for _, g := range []detect.GroupEntry{
		{Rule: "r", Key: "host\x1fuser", Data: []byte(`{"f":1,"c":2}`)},
		{Rule: "", Key: "", Data: []byte{}},
	} {
		got, ok := decodeGroup(encodeGroup(g))
		if !ok || got.Rule != g.Rule || got.Key != g.Key || !bytes.Equal(got.Data, g.Data) {
			t.Errorf("round trip of %+v = %+v, %v", g, got, ok)
		}
	}
}

func FuzzDecodeGroup(f *testing.F) {
	f.Add(encodeGroup(detect.GroupEntry{Rule: "r", Key: "k", Data: []byte("{}")}))
	f.Add([]byte{0, 0, 0, 9, 'x'})
	f.Fuzz(func(t *testing.T, v []byte) {
		g, ok := decodeGroup(v)
		if ok && !bytes.Equal(encodeGroup(g), v) {
			t.Fatalf("decode(%q) = %+v does not encode back", v, g)
		}
	})
}

// TestLoadPacksLegacyProcessRecords: a store written with one record per
// process cache slot loads the same slots and is rewritten packed, once.
func TestLoadPacksLegacyProcessRecords(t *testing.T) {
	ctx := context.Background()
	st, _, err := store.Open(ctx, t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var recs []store.Record
	want := map[int32]string{}
	for _, n := range []uint32{0, 1, 2, 17, 40} {
		k := binary.BigEndian.AppendUint32(nil, n)
		v := fmt.Sprintf(`{"h":"host","p":%d}`, n)
		recs = append(recs, store.Record{Key: k, Value: []byte(v)})
		want[int32(n)] = v
	}
	if _, err := st.Commit(ctx, store.Batch{Records: map[string][]store.Record{recordsProcesses: recs}}); err != nil {
		t.Fatal(err)
	}
	w := &wiring{store: st}
	for pass := range 2 {
		s, err := w.load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int32]string{}
		for _, sl := range s.sensor.ProcessSlots {
			got[sl.Slot] = string(sl.Data)
		}
		if !maps.Equal(got, want) {
			t.Errorf("pass %d: slots %v, want %v", pass, got, want)
		}
		legacy := 0
		_ = st.Records(ctx, recordsProcesses, func(_, _ []byte) error { legacy++; return nil })
		if legacy != 0 {
			t.Errorf("pass %d: %d legacy records left", pass, legacy)
		}
	}
}

// A commit that fails is kept and merged with the next; its process
// journal views storage the next journal reuses, and its list of slots is
// the storage the runner hands the next commit, so both are copied when
// kept: the slots it stores in the end are the ones it was made with.
func TestKeptCommitOwnsItsJournal(t *testing.T) {
	sensor := detect.NewSensor(nil, detect.SensorOptions{MaxProcesses: 100})
	take := func(from int, reuse []store.Slot) (*pendingCommit, map[uint32]string) {
		var rows []normalize.Row
		for i := from; i < from+20; i++ {
			rows = append(rows, benchExecRow(10000+i, 1700000000, i))
		}
		sensor.Ingest(rows, func(*detect.Alert) {})
		d, err := sensor.TakeDelta()
		if err != nil {
			t.Fatal(err)
		}
		want := map[uint32]string{}
		for _, s := range d.Processes.Slots {
			want[uint32(s.Slot)] = string(s.Data)
		}
		return newPendingCommit(nil, d, nil, nil, reuse), want
	}
	kept, want := take(0, nil)
	list := kept.slots[slotsProcesses] // reused by the next commit, as the runner does
	kept.ownSlots()                    // the commit failed
	next, wantNext := take(20, list)
	if len(wantNext) == 0 || len(want) == 0 {
		t.Fatal("no slots journaled")
	}
	for _, s := range kept.slots[slotsProcesses] {
		if string(s.Value) != want[s.N] {
			t.Fatalf("slot %d of the kept commit changed with the next journal", s.N)
		}
	}
	kept.merge(next)
	maps.Copy(want, wantNext)
	got := map[uint32]string{}
	for _, s := range kept.slots[slotsProcesses] {
		got[s.N] = string(s.Value)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("merged commit holds %d slots, want %d (or other values)", len(got), len(want))
	}
}
