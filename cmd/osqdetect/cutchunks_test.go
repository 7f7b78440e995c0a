package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/osqdetect/osqdetect/detect/osqlog"
)

// cutReference is how chunks must cut a stream: every line whole, except
// that a line longer than maxLineBytes+1 bytes with its end keeps its
// first maxLineBytes+1 bytes and gets a line end (a last line without an
// end keeps as many and gets none).
func cutReference(in string) (out string, lines int) {
	limit := maxLineBytes + 1
	for in != "" {
		line := in
		if i := strings.IndexByte(in, '\n'); i >= 0 {
			line, in = in[:i+1], in[i+1:]
			lines++
			if len(line) > limit {
				line = line[:limit] + "\n"
			}
		} else {
			in = ""
			if len(line) > limit {
				line = line[:limit]
			}
		}
		out += line
	}
	return out, lines
}

// TestCutChunks: the chunks, end to end, are the stream cut as lines are
// cut, each chunk ends a line (but the last), and each names the lines
// before it; whatever the reads' sizes.
func TestCutChunks(t *testing.T) {
	if osqlog.MaxLineBytes < 4*(chunkBytes+chunkSlack) {
		t.Fatalf("lines may be %d bytes, too few over a chunk's %d", osqlog.MaxLineBytes, chunkBytes+chunkSlack)
	}
	defer func(n int) { maxLineBytes = n }(maxLineBytes)
	maxLineBytes = 4 * (chunkBytes + chunkSlack)
	limit := maxLineBytes + 1
	lines := func(n, size int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString(strings.Repeat("a", size+i%7) + "\n")
		}
		return b.String()
	}
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"one line", "abc\n"},
		{"no last line end", "abc\ndef"},
		{"many chunks", lines(2000, 700)},
		{"empty lines", "\n\n\na\n\n"},
		{"longer than a chunk", "a\n" + strings.Repeat("q", 600<<10) + "\nb\n"},
		{"as long as a line may be", strings.Repeat("y", limit-1) + "\nz\n"},
		{"one byte too long", strings.Repeat("y", limit) + "\nz\n"},
		{"too long in the middle", lines(500, 700) + strings.Repeat("x", 2*limit) + "\n" + lines(10, 5)},
		{"too long last line without end", "a\n" + strings.Repeat("x", limit+10)},
		{"too long, then the end", "a\n" + strings.Repeat("x", limit+10) + "\n"},
	} {
		for _, rd := range []struct {
			name string
			wrap func(io.Reader) io.Reader
		}{
			{"whole", func(r io.Reader) io.Reader { return r }},
			{"halves", iotest.HalfReader},
			{"with EOF", iotest.DataErrReader},
			{"bytes", iotest.OneByteReader},
		} {
			if rd.name == "bytes" && len(tc.in) > 100_000 {
				continue
			}
			t.Run(tc.name+"/"+rd.name, func(t *testing.T) {
				want, wantLines := cutReference(tc.in)
				got, chunks, err := runCut(rd.wrap(strings.NewReader(tc.in)))
				if err != nil {
					t.Fatalf("read error: %v", err)
				}
				if got != want {
					t.Fatalf("cut %d bytes, want %d", len(got), len(want))
				}
				seen := 0
				for i, c := range chunks {
					if c.firstLine != seen {
						t.Fatalf("chunk %d: first line %d, want %d", i, c.firstLine, seen)
					}
					seen += bytes.Count(c.data, []byte{'\n'})
					if i < len(chunks)-1 && !bytes.HasSuffix(c.data, []byte{'\n'}) {
						t.Fatalf("chunk %d does not end a line", i)
					}
				}
				if seen != wantLines {
					t.Fatalf("%d lines, want %d", seen, wantLines)
				}
			})
		}
	}
}

// runCut runs cutChunks over in, its parsers standing in, and returns the
// chunks with data in order, their bytes end to end, and the error a last
// chunk carried.
func runCut(in io.Reader) (string, []*chunk, error) {
	ordered := make(chan *chunk, chunksInFlight)
	work := make(chan *chunk, chunksInFlight)
	stop := make(chan struct{})
	defer close(stop)
	go cutChunks(context.Background(), in, ordered, work, make(chan *chunk), stop)
	go func() {
		for c := range work {
			close(c.done)
		}
	}()
	var out strings.Builder
	var chunks []*chunk
	var err error
	for c := range ordered {
		<-c.done
		if c.readErr != nil {
			err = c.readErr
			continue
		}
		out.Write(c.data)
		chunks = append(chunks, c)
	}
	return out.String(), chunks, err
}

// TestCutChunksReadError: a read that fails midway ends the chunks with
// one that carries the error, after the whole lines read before it.
func TestCutChunksReadError(t *testing.T) {
	boom := errors.New("boom")
	got, _, err := runCut(io.MultiReader(strings.NewReader("a\nb\npart"), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || got != "a\nb\npart" {
		t.Fatalf("chunks %q, error %v", got, err)
	}
}
