package ecs

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// jsonScratch holds appendNestedJSON's lists between calls.
var jsonScratch = sync.Pool{New: func() any { return new(jsonLists) }}

type jsonLists struct {
	order []uint64 // a field's JSON rank << 32 | its place in vals
	vals  []jsonField
	open  []string // the objects currently open below the root
}

type jsonField struct {
	f Field
	v Value
}

// appendNestedJSON writes the event as marshalNested would, streaming
// instead of building maps. It reports false, having written nothing
// useful, when some field name is a dotted prefix of another: marshalNested
// resolves those clashes and is used instead.
func (e *Event) appendNestedJSON(b []byte) ([]byte, bool) {
	lists := jsonScratch.Get().(*jsonLists)
	defer func() {
		clear(lists.vals)
		jsonScratch.Put(lists)
	}()
	// Fields are registered before they are set, so the ranks cover every
	// field of e.
	ranks := jsonRanks()
	order, vals := lists.order[:0], lists.vals[:0]
	if e.Get(Timestamp).Kind == Missing {
		ts := time.UnixMilli(e.Time).UTC().Format("2006-01-02T15:04:05.000Z")
		order = append(order, uint64(ranks[Timestamp])<<32)
		vals = append(vals, jsonField{Timestamp, Str(ts)})
	}
	e.Range(func(f Field, v Value) {
		order = append(order, uint64(ranks[f])<<32|uint64(len(vals)))
		vals = append(vals, jsonField{f, v})
	})
	lists.order, lists.vals = order, vals
	slices.Sort(order)
	paths := *fields.paths.Load()
	for i := 1; i < len(order); i++ {
		if isPrefix(paths[vals[uint32(order[i-1])].f], paths[vals[uint32(order[i])].f]) {
			return b, false
		}
	}
	b = append(b, '{')
	open := lists.open[:0]
	for i, o := range order {
		en := vals[uint32(o)]
		path := paths[en.f]
		common := 0
		for common < len(open) && common < len(path)-1 && open[common] == path[common] {
			common++
		}
		for len(open) > common {
			b = append(b, '}')
			open = open[:len(open)-1]
		}
		if i > 0 {
			b = append(b, ',')
		}
		for _, seg := range path[common : len(path)-1] {
			b = appendJSONString(b, seg)
			b = append(b, ':', '{')
			open = append(open, seg)
		}
		b = appendJSONString(b, path[len(path)-1])
		b = append(b, ':')
		b = appendJSONValue(b, en.v)
	}
	for range open {
		b = append(b, '}')
	}
	lists.open = open[:0]
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

// appendJSONString quotes s as encoding/json does with HTML escaping off.
func appendJSONString(b []byte, s string) []byte { return AppendJSONString(b, s, false) }

// AppendJSONString appends s quoted as encoding/json quotes it: quotes,
// backslashes and control characters escaped, invalid UTF-8 as U+FFFD,
// U+2028 and U+2029 escaped, and with escapeHTML (json.Marshal's default)
// <, > and & escaped too.
func AppendJSONString(b []byte, s string, escapeHTML bool) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!escapeHTML || (c != '<' && c != '>' && c != '&')) {
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
