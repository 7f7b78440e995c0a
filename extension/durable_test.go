package extension

import (
	"bytes"
	"testing"

	"github.com/osqdetect/osqdetect/detect"
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
