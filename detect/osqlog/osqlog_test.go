package osqlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/osqdetect/osqdetect/detect/normalize"
	"github.com/osqdetect/osqdetect/internal/testutil"
)

// readAll reads every line, rendering each Next result as one JSON line,
// then the stats.
func readAll(t *testing.T, r *Reader) []byte {
	t.Helper()
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatal("reader does not end")
		}
		rows, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !IsLineError(err) {
				t.Fatalf("unexpected error: %v", err)
			}
			enc.Encode(map[string]string{"error": err.Error()})
			continue
		}
		type jrow struct {
			Table string            `json:"table"`
			Host  string            `json:"host"`
			Seq   uint64            `json:"seq"`
			Cols  map[string]string `json:"cols"`
		}
		var js []jrow
		for _, row := range rows {
			js = append(js, jrow{row.Table, row.Host, row.Seq, row.Cols})
		}
		enc.Encode(map[string]any{"rows": js})
	}
	enc.Encode(map[string]any{"stats": r.Stats()})
	return out.Bytes()
}

// TestGolden reads each testdata/*.log and compares with *.golden; -update
// rewrites them.
func TestGolden(t *testing.T) {
	logs, err := filepath.Glob("testdata/*.log")
	if err != nil || len(logs) == 0 {
		t.Fatalf("no logs: %v", err)
	}
	for _, path := range logs {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got := readAll(t, NewReader(f, filepath.Base(path)))
			testutil.Golden(t, strings.TrimSuffix(path, ".log")+".golden", got)
		})
	}
}

func TestReadsOneByteAtATime(t *testing.T) {
	data, err := os.ReadFile("testdata/event.log")
	if err != nil {
		t.Fatal(err)
	}
	whole := readAll(t, NewReader(bytes.NewReader(data), "event.log"))
	slow := readAll(t, NewReader(iotest.OneByteReader(bytes.NewReader(data)), "event.log"))
	if !bytes.Equal(whole, slow) {
		t.Errorf("byte-at-a-time read differs:\n%s\nvs\n%s", slow, whole)
	}
}

func TestLongLines(t *testing.T) {
	long := `{"name":"process_events","hostIdentifier":"h","columns":{"pid":"1","time":"1","syscall":"execve","path":"/x","cmdline":"` +
		strings.Repeat("A", 200<<10) + `"},"action":"added"}`
	short := `{"name":"process_events","hostIdentifier":"h","columns":{"pid":"2","time":"1","syscall":"execve","path":"/y","cmdline":"y"},"action":"added"}`
	input := long + "\n" + short + "\n"

	// A 200 KiB line is read whole (more than bufio.Scanner's default).
	r := NewReader(strings.NewReader(input), "big.log")
	rows, err := r.Next()
	if err != nil || len(rows) != 1 || len(rows[0].Cols["cmdline"]) != 200<<10 {
		t.Fatalf("long line: %d rows, err %v", len(rows), err)
	}

	// Over the limit, the line is reported and skipped, the next one read.
	r = NewReader(strings.NewReader(input), "big.log")
	r.maxLine = 64 << 10
	_, err = r.Next()
	var le *LineError
	if !errors.As(err, &le) || le.Line != 1 || !strings.Contains(err.Error(), "big.log:1: line is longer than 65536 bytes") {
		t.Fatalf("err = %v", err)
	}
	rows, err = r.Next()
	if err != nil || len(rows) != 1 || rows[0].Cols["pid"] != "2" {
		t.Fatalf("line after the long one: %v %v", rows, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
	if st := r.Stats(); st.BadLines != 1 || st.Lines != 2 || st.Rows != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestUnderlyingReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	r := NewReader(io.MultiReader(strings.NewReader("{\"x\":1}\n"), iotest.ErrReader(boom)), "f.log")
	_, err := r.Next()
	if !IsLineError(err) {
		t.Fatalf("first line should be a line error, got %v", err)
	}
	_, err = r.Next()
	if !errors.Is(err, boom) || IsLineError(err) {
		t.Fatalf("err = %v, want the reader's error wrapped", err)
	}
}

func TestInferTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		cols []string
		want string
	}{
		{"pack/osqdetect/process_events", nil, normalize.TableProcessEvents},
		{"pack_x_socket_events", nil, normalize.TableSocketEvents},
		{"pack_x_bpf_process_events", nil, normalize.TableBPFProcessEvents},
		{"pack/t/bpf_socket_events_fast", nil, normalize.TableBPFSocketEvents},
		{"processes_snapshot", nil, normalize.TableProcesses},
		{"q", []string{"syscall", "cmdline", "pid"}, normalize.TableProcessEvents},
		{"q", []string{"syscall", "cmdline", "tid", "ntime"}, normalize.TableBPFProcessEvents},
		{"q", []string{"action", "remote_address"}, normalize.TableSocketEvents},
		{"q", []string{"syscall", "remote_address", "ntime"}, normalize.TableBPFSocketEvents},
		{"q", []string{"pid", "name", "path", "start_time"}, normalize.TableProcesses},
		{"q", []string{"pid", "name"}, ""},
	} {
		cols := map[string]string{}
		for _, c := range tc.cols {
			cols[c] = "1"
		}
		if got := InferTable(tc.name, cols); got != tc.want {
			t.Errorf("InferTable(%q, %v) = %q, want %q", tc.name, tc.cols, got, tc.want)
		}
	}
}

// FuzzReader: arbitrary input never panics, every error is a LineError or
// EOF, and every row has a known table and a host.
func FuzzReader(f *testing.F) {
	for _, p := range []string{"testdata/event.log", "testdata/batch.log", "testdata/snapshot.log", "testdata/bad.log"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("{\"diffResults\":null}\n\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), "fuzz")
		r.maxLine = 4096
		for i := 0; i <= len(data)+1; i++ {
			rows, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !IsLineError(err) {
					t.Fatalf("error %T: %v", err, err)
				}
				continue
			}
			for _, row := range rows {
				if !normalize.KnownTable(row.Table) || row.Host == "" {
					t.Fatalf("row with table %q host %q", row.Table, row.Host)
				}
			}
		}
		t.Fatalf("reader did not reach EOF")
	})
}

// TestBytesReaderMatchesReader: lines read from memory give what the same
// bytes give through an io.Reader, for every testdata log and for the
// edge cases of lines (too long, unterminated, blank, CRLF).
func TestBytesReaderMatchesReader(t *testing.T) {
	logs, err := filepath.Glob("testdata/*.log")
	if err != nil || len(logs) == 0 {
		t.Fatalf("no logs: %v", err)
	}
	inputs := map[string][]byte{
		"long line":   []byte(strings.Repeat("x", 5000) + "\n{\"a\":1}\n"),
		"last line":   []byte("{\"a\":1}\n{\"name\":\"process_events\",\"hostIdentifier\":\"h\",\"columns\":{\"pid\":\"1\"},\"action\":\"added\"}"),
		"blank lines": []byte("\n\n \r\n"),
		"empty":       nil,
	}
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(path)] = b
		inputs[filepath.Base(path)+" CRLF"] = bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) { checkBytesReader(t, data) })
	}
}

func checkBytesReader(t *testing.T, data []byte) {
	want := NewReader(bytes.NewReader(data), "f.log")
	want.maxLine = 4096
	got := NewBytesReader(nil, "f.log")
	got.ResetBytes(data)
	got.maxLine = 4096
	if w, g := readAll(t, want), readAll(t, got); !bytes.Equal(w, g) {
		t.Errorf("from memory:\n%s\nthrough a reader:\n%s", g, w)
	}
}

// FuzzBytesReaderMatchesReader: any input reads the same from memory as
// through an io.Reader.
func FuzzBytesReaderMatchesReader(f *testing.F) {
	for _, p := range []string{"testdata/event.log", "testdata/batch.log", "testdata/bad.log"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(strings.Repeat("y", 4097) + "\n\n{}"))
	f.Fuzz(checkBytesReader)
}
