package extension

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"testing"

	"github.com/osqdetect/osqdetect/detect"
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
