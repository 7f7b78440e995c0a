package ecs

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// jsonEntry is one field on its way out: its name split at the dots.
type jsonEntry struct {
	path []string
	v    Value
}

// jsonScratch holds the entry lists of appendNestedJSON between calls.
var jsonScratch = sync.Pool{New: func() any { s := make([]jsonEntry, 0, 64); return &s }}

// appendNestedJSON writes the event as marshalNested would, streaming
// instead of building maps. It reports false, having written nothing
// useful, when some field name is a dotted prefix of another: marshalNested
// resolves those clashes and is used instead.
func (e *Event) appendNestedJSON(b []byte) ([]byte, bool) {
	scratch := jsonScratch.Get().(*[]jsonEntry)
	defer func() {
		clear(*scratch)
		jsonScratch.Put(scratch)
	}()
	entries := (*scratch)[:0]
	if e.Get(Timestamp).Kind == Missing {
		ts := time.UnixMilli(e.Time).UTC().Format("2006-01-02T15:04:05.000Z")
		entries = append(entries, jsonEntry{path: []string{"@timestamp"}, v: Str(ts)})
	}
	e.Range(func(f Field, v Value) {
		entries = append(entries, jsonEntry{path: f.path(), v: v})
	})
	*scratch = entries
	sort.Slice(entries, func(i, j int) bool { return pathLess(entries[i].path, entries[j].path) })
	for i := 1; i < len(entries); i++ {
		if isPrefix(entries[i-1].path, entries[i].path) {
			return b, false
		}
	}
	b = append(b, '{')
	var open []string // the objects currently open below the root
	for i, en := range entries {
		common := 0
		for common < len(open) && common < len(en.path)-1 && open[common] == en.path[common] {
			common++
		}
		for len(open) > common {
			b = append(b, '}')
			open = open[:len(open)-1]
		}
		if i > 0 {
			b = append(b, ',')
		}
		for _, seg := range en.path[common : len(en.path)-1] {
			b = appendJSONString(b, seg)
			b = append(b, ':', '{')
			open = append(open, seg)
		}
		b = appendJSONString(b, en.path[len(en.path)-1])
		b = append(b, ':')
		b = appendJSONValue(b, en.v)
	}
	for range open {
		b = append(b, '}')
	}
	return append(b, '}'), true
}

// pathLess orders dotted names as nested objects with sorted keys do.
func pathLess(a, b []string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

func isPrefix(a, b []string) bool {
	if len(a) >= len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func appendJSONValue(b []byte, v Value) []byte {
	switch v.Kind {
	case String:
		return appendJSONString(b, v.Str)
	case Int:
		return strconv.AppendInt(b, v.num, 10)
	case Float:
		f := v.Float()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return append(b, "null"...)
		}
		out, err := json.Marshal(f)
		if err != nil {
			return append(b, "null"...)
		}
		return append(b, out...)
	case Bool:
		return strconv.AppendBool(b, v.num != 0)
	case Array:
		b = append(b, '[')
		for i, x := range v.Arr {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONValue(b, x)
		}
		return append(b, ']')
	}
	return append(b, "null"...)
}

// appendJSONString quotes s as encoding/json does with HTML escaping off:
// quotes, backslashes and control characters escaped, invalid UTF-8 as
// U+FFFD, and U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
