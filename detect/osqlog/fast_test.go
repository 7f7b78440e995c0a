package osqlog

import (
	"bytes"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"testing"

	"github.com/osqdetect/osqdetect/detect/normalize"
)

// render shows a parse result as the slow path's rows would be read.
func render(rows []rowsOut) string { return fmt.Sprintf("%+v", rows) }

type rowsOut struct {
	Table, Host string
	Seq         uint64
	Cols        string
}

func parseBoth(t *testing.T, line []byte) (fast, slow string, fastOK bool) {
	t.Helper()
	collect := func(r *Reader, rows []rowMaybe, reason string) string {
		var out []rowsOut
		for _, row := range rows {
			out = append(out, rowsOut{row.Table, row.Host, row.Seq, fmt.Sprint(row.cols)})
		}
		return fmt.Sprintf("%s | %q | removed %d", render(out), reason, r.stats.Removed)
	}
	rf := NewReader(nil, "f")
	fl, ok := rf.parseFast(line)
	if ok {
		rows, reason := rf.rowsFast(&fl)
		fast = collect(rf, maybe(rows), reason)
	}
	rs := NewReader(nil, "s")
	rows, reason := rs.parseSlow(line)
	slow = collect(rs, maybe(rows), reason)
	return fast, slow, ok
}

// FuzzFastMatchesSlow: whenever the fast path reads a line, it gives the
// rows, the error and the counts encoding/json's path gives.
func FuzzFastMatchesSlow(f *testing.F) {
	logs, _ := filepath.Glob("testdata/*.log")
	for _, p := range logs {
		b, _ := os.ReadFile(p)
		for _, line := range bytes.Split(b, []byte("\n")) {
			f.Add(bytes.TrimSpace(line))
		}
	}
	for _, s := range []string{
		`{"name":"process_events","hostIdentifier":"h","columns":{"pid":"1","cmdline":"a \"b\" \u00e9","x":1.5e3,"y":null,"z":[1,{"a":2}],"pid":"2"},"action":"added"}`,
		`{"Name":"x","hostIdentifier":"h","columns":{"syscall":"execve","cmdline":"c"},"action":"added"}`,
		`{"diffResults":{"added":[{"syscall":"execve","cmdline":"c","time":"5"}],"removed":[{"a":"b"},1]},"hostIdentifier":"h","unixTime":7}`,
		`{"snapshot":[],"action":"snapshot","hostIdentifier":"h"}`,
		`{"action":"snapshot","columns":{"pid":"1"},"hostIdentifier":"h"}`,
		`{"decorations":{"host_uuid":42},"columns":{"syscall":"execve","cmdline":"c"},"action":"added"}`,
		`{"name":"socket_events","host_uuid":"u","columns":{"pid":"01"},"action":"added"}`,
		"{\"name\":\"process_events\",\"hostIdentifier\":\"h\xff\",\"columns\":{},\"action\":\"added\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		fast, slow, ok := parseBoth(t, line)
		if ok && fast != slow {
			t.Fatalf("line %q\nfast %s\nslow %s", line, fast, slow)
		}
	})
}

// TestFastReadsOsqueryLines: the lines osquery writes take the fast path.
func TestFastReadsOsqueryLines(t *testing.T) {
	for _, p := range []string{"testdata/event.log", "testdata/batch.log", "testdata/snapshot.log", "../../tests/scenarios/demo-results.log"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range bytes.Split(b, []byte("\n")) {
			line = bytes.TrimSpace(bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")))
			if len(line) == 0 {
				continue
			}
			fast, slow, ok := parseBoth(t, line)
			if !ok {
				t.Errorf("%s:%d: left to encoding/json", p, i+1)
			} else if fast != slow {
				t.Errorf("%s:%d:\nfast %s\nslow %s", p, i+1, fast, slow)
			}
		}
	}
}

type rowMaybe struct {
	Table, Host string
	Seq         uint64
	cols        map[string]string
}

func maybe(rows []normalize.Row) []rowMaybe {
	var out []rowMaybe
	for i := range rows {
		out = append(out, rowMaybe{rows[i].Table, rows[i].Host, rows[i].Seq, rows[i].ColMap()})
	}
	return out
}

// TestHasSpecial checks the eight-byte test against the table, byte by
// byte, in every position.
func TestHasSpecial(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 8; pos++ {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			x := uint64(0)
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(b[i])
			}
			if got := hasSpecial(x); got != strSpecial[c] {
				t.Fatalf("byte %#x at %d: hasSpecial %v, table %v", c, pos, got, strSpecial[c])
			}
		}
	}
}

// TestSpecialMaskFindsFirst: the lowest flagged byte is the first special
// one, whatever follows it.
func TestSpecialMaskFindsFirst(t *testing.T) {
	for first := 0; first < 8; first++ {
		for _, c := range []byte{'"', '\\', 0, 0x1f, 0x80, 0xff} {
			for _, after := range []byte{'a', '"', 0, 0xff, '\\', 0x1f} {
				b := []byte("abcdefgh")
				b[first] = c
				for i := first + 1; i < 8; i++ {
					b[i] = after
				}
				x := uint64(0)
				for i := 7; i >= 0; i-- {
					x = x<<8 | uint64(b[i])
				}
				if got := bits.TrailingZeros64(specialMask(x)) >> 3; got != first {
					t.Fatalf("%q: first special at %d, mask says %d", b, first, got)
				}
			}
		}
	}
}
