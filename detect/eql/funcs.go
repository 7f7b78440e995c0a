package eql

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// valueFn computes a value from an event; Missing stands for null.
type valueFn func(ev *ecs.Event) ecs.Value

// value compiles an expression that yields a value.
func (c *compiler) value(e expr) (valueFn, error) {
	switch e := e.(type) {
	case *fieldExpr:
		id, err := c.fieldID(e.name, e.p)
		if err != nil {
			return nil, err
		}
		return func(ev *ecs.Event) ecs.Value { return ev.Get(id) }, nil
	case *litExpr:
		v := e.v
		if v.Kind == ecs.Null {
			v = ecs.Value{}
		}
		return func(*ecs.Event) ecs.Value { return v }, nil
	case *callExpr:
		return c.call(e)
	case *arithExpr:
		l, err := c.value(e.l)
		if err != nil {
			return nil, err
		}
		r, err := c.value(e.r)
		if err != nil {
			return nil, err
		}
		op := e.op
		return func(ev *ecs.Event) ecs.Value { return mapArgs([]ecs.Value{l(ev), r(ev)}, arith(op)) }, nil
	case *negExpr:
		x, err := c.value(e.x)
		if err != nil {
			return nil, err
		}
		mul := arith('*')
		return func(ev *ecs.Event) ecs.Value { return mapArgs([]ecs.Value{x(ev), ecs.IntVal(-1)}, mul) }, nil
	}
	// A condition used as a value is a boolean, or null: Elasticsearch
	// evaluates it in a script.
	return c.asScript().triValue(e)
}

// scalarFn computes a function over scalar arguments; a null argument has
// already made the result null when the function says so.
type scalarFn func(args []ecs.Value) ecs.Value

type funcSpec struct {
	min, max int // max < 0: any number
	foldable bool
	make     func(fold bool) scalarFn
}

var functions = map[string]funcSpec{
	"add":            {min: 2, max: 2, make: func(bool) scalarFn { return arith('+') }},
	"subtract":       {min: 2, max: 2, make: func(bool) scalarFn { return arith('-') }},
	"multiply":       {min: 2, max: 2, make: func(bool) scalarFn { return arith('*') }},
	"divide":         {min: 2, max: 2, make: func(bool) scalarFn { return arith('/') }},
	"modulo":         {min: 2, max: 2, make: func(bool) scalarFn { return arith('%') }},
	"startswith":     {min: 2, max: 2, foldable: true, make: stringTest(strings.HasPrefix)},
	"endswith":       {min: 2, max: 2, foldable: true, make: stringTest(strings.HasSuffix)},
	"stringcontains": {min: 2, max: 2, foldable: true, make: stringTest(strings.Contains)},
	"length":         {min: 1, max: 1, make: func(bool) scalarFn { return fnLength }},
	"indexof":        {min: 2, max: 3, foldable: true, make: fnIndexOf},
	"substring":      {min: 2, max: 3, make: func(bool) scalarFn { return fnSubstring }},
	"concat":         {min: 1, max: -1, make: func(bool) scalarFn { return fnConcat }},
	"number":         {min: 1, max: 2, make: func(bool) scalarFn { return fnNumber }},
	"string":         {min: 1, max: 1, make: func(bool) scalarFn { return fnString }},
	"between":        {min: 3, max: 4, foldable: true, make: fnBetween},
}

// call compiles a function call. Argument values that are arrays are
// expanded element by element for the first argument (the result is then
// an array, and a boolean result holds when any element does); other
// arguments use their first element.
func (c *compiler) call(e *callExpr) (valueFn, error) {
	if e.name == "cidrmatch" {
		return c.cidrMatchValue(e)
	}
	spec, ok := functions[e.name]
	if !ok {
		return nil, unsupported(e.p, "function "+e.name+"()")
	}
	if len(e.args) < spec.min || (spec.max >= 0 && len(e.args) > spec.max) {
		return nil, syntaxErr(e.p, "%s() takes %s, found %d", e.name, arity(spec), len(e.args))
	}
	if e.fold && !spec.foldable {
		return nil, syntaxErr(e.p, "%s() has no case-insensitive form %s~()", e.name, e.name)
	}
	args := make([]valueFn, len(e.args))
	for i, a := range e.args {
		fn, err := c.value(a)
		if err != nil {
			return nil, err
		}
		args[i] = fn
	}
	if e.name == "number" && len(args) == 2 {
		// number(s, null) reads s in base 10: the base is optional and
		// null means "not given" (eql-function-ref, number).
		base := args[1]
		args[1] = func(ev *ecs.Event) ecs.Value {
			if b := base(ev); b.Exists() {
				return b
			}
			return ecs.IntVal(10)
		}
	}
	impl := spec.make(e.fold)
	// Argument lists are reused through a pool: a function's result never
	// refers to the list it was given.
	n := len(args)
	lists := &sync.Pool{New: func() any { l := make([]ecs.Value, n); return &l }}
	return func(ev *ecs.Event) ecs.Value {
		l := lists.Get().(*[]ecs.Value)
		vals := *l
		for i, a := range args {
			vals[i] = a(ev)
		}
		r := mapArgs(vals, impl)
		clear(vals)
		lists.Put(l)
		return r
	}, nil
}

func arity(s funcSpec) string {
	switch {
	case s.max < 0:
		return "at least " + itoa(s.min) + " arguments"
	case s.min == s.max:
		return itoa(s.min) + " arguments"
	}
	return itoa(s.min) + " to " + itoa(s.max) + " arguments"
}

// mapArgs applies fn with null propagation: any null argument makes the
// result null. An array first argument maps fn over its elements.
func mapArgs(vals []ecs.Value, fn scalarFn) ecs.Value {
	for i := 1; i < len(vals); i++ {
		v := &vals[i]
		if v.Kind == ecs.Array {
			*v = firstElem(v)
		}
		if !v.Exists() {
			return ecs.Value{}
		}
	}
	first := vals[0]
	if !first.Exists() {
		return ecs.Value{}
	}
	if first.Kind != ecs.Array {
		return fn(vals)
	}
	out := make([]ecs.Value, 0, len(first.Arr))
	for _, el := range first.Arr {
		if el.Kind == ecs.Null {
			continue
		}
		vals[0] = el
		if r := fn(vals); r.Kind != ecs.Missing {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return ecs.Value{}
	}
	return ecs.ArrayOf(out...)
}

func firstElem(v *ecs.Value) ecs.Value {
	for _, e := range v.Arr {
		if e.Kind != ecs.Null {
			return e
		}
	}
	return ecs.Value{}
}

// number reading of an argument: integers stay integers.
type numArg struct {
	i     int64
	f     float64
	isInt bool
}

func readNum(v ecs.Value) (numArg, bool) {
	switch v.Kind {
	case ecs.Int:
		return numArg{i: v.Int(), f: v.Float(), isInt: true}, true
	case ecs.Float:
		return numArg{f: v.Float()}, true
	case ecs.String:
		if i, err := strconv.ParseInt(v.Str, 10, 64); err == nil {
			return numArg{i: i, f: float64(i), isInt: true}, true
		}
		if f, ok := parseNum(v.Str); ok {
			return numArg{f: f}, true
		}
	}
	return numArg{}, false
}

func arith(op byte) scalarFn {
	return func(args []ecs.Value) ecs.Value {
		a, ok1 := readNum(args[0])
		b, ok2 := readNum(args[1])
		if !ok1 || !ok2 {
			return ecs.Value{}
		}
		if a.isInt && b.isInt {
			switch op {
			case '+':
				return ecs.IntVal(a.i + b.i)
			case '-':
				return ecs.IntVal(a.i - b.i)
			case '*':
				return ecs.IntVal(a.i * b.i)
			case '/':
				if b.i == 0 || (a.i == math.MinInt64 && b.i == -1) {
					return ecs.Value{}
				}
				return ecs.IntVal(a.i / b.i)
			case '%':
				if b.i == 0 || b.i == -1 {
					if b.i == -1 {
						return ecs.IntVal(0)
					}
					return ecs.Value{}
				}
				return ecs.IntVal(a.i % b.i)
			}
		}
		var r float64
		switch op {
		case '+':
			r = a.f + b.f
		case '-':
			r = a.f - b.f
		case '*':
			r = a.f * b.f
		case '/':
			if b.f == 0 {
				return ecs.Value{}
			}
			r = a.f / b.f
		case '%':
			if b.f == 0 {
				return ecs.Value{}
			}
			r = math.Mod(a.f, b.f)
		}
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return ecs.Value{}
		}
		return ecs.FloatVal(r)
	}
}

func textArgs(args []ecs.Value, fold bool) ([]string, bool) {
	out := make([]string, len(args))
	for i, a := range args {
		s, ok := textArg(a, fold)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

func stringTest(test func(s, sub string) bool) func(fold bool) scalarFn {
	return func(fold bool) scalarFn {
		return func(args []ecs.Value) ecs.Value {
			s, ok := textArg(args[0], fold)
			sub, ok2 := textArg(args[1], fold)
			if !ok || !ok2 {
				return ecs.Value{}
			}
			return ecs.BoolVal(test(s, sub))
		}
	}
}

// textArg is one argument's text, lower-cased under fold.
func textArg(a ecs.Value, fold bool) (string, bool) {
	s, ok := a.Text()
	if ok && fold {
		s = strings.ToLower(s)
	}
	return s, ok
}

func fnLength(args []ecs.Value) ecs.Value {
	if args[0].Kind != ecs.String {
		return ecs.Value{}
	}
	return ecs.IntVal(int64(utf8.RuneCountInString(args[0].Str)))
}

func fnIndexOf(fold bool) scalarFn {
	return func(args []ecs.Value) ecs.Value {
		s, ok := textArgs(args[:2], fold)
		if !ok {
			return ecs.Value{}
		}
		runes := []rune(s[0])
		start := int64(0)
		if len(args) == 3 {
			n, ok := readNum(args[2])
			if !ok || !n.isInt {
				return ecs.Value{}
			}
			start = max(n.i, 0)
		}
		if start > int64(len(runes)) {
			return ecs.Value{}
		}
		idx := strings.Index(string(runes[start:]), s[1])
		if idx < 0 {
			return ecs.Value{}
		}
		return ecs.IntVal(start + int64(utf8.RuneCountInString(string(runes[start:])[:idx])))
	}
}

// fnSubstring takes Python-style indices: negative ones count from the end.
func fnSubstring(args []ecs.Value) ecs.Value {
	str, ok := args[0].Text()
	if !ok {
		return ecs.Value{}
	}
	runes := []rune(str)
	n := int64(len(runes))
	clamp := func(i int64) int64 {
		if i < 0 {
			i += n
		}
		return min(max(i, 0), n)
	}
	s, ok := readNum(args[1])
	if !ok || !s.isInt {
		return ecs.Value{}
	}
	start, end := clamp(s.i), n
	if len(args) == 3 {
		e, ok := readNum(args[2])
		if !ok || !e.isInt {
			return ecs.Value{}
		}
		end = clamp(e.i)
	}
	if end < start {
		return ecs.Str("")
	}
	return ecs.Str(string(runes[start:end]))
}

func fnConcat(args []ecs.Value) ecs.Value {
	var b strings.Builder
	for _, a := range args {
		s, ok := a.Text()
		if !ok {
			return ecs.Value{}
		}
		b.WriteString(s)
	}
	return ecs.Str(b.String())
}

func fnNumber(args []ecs.Value) ecs.Value {
	v := args[0]
	if v.Kind == ecs.Int || v.Kind == ecs.Float {
		return v
	}
	if v.Kind != ecs.String {
		return ecs.Value{}
	}
	base := int64(10)
	if len(args) == 2 {
		b, ok := readNum(args[1])
		if !ok || !b.isInt || b.i < 2 || b.i > 36 {
			return ecs.Value{}
		}
		base = b.i
	}
	s := strings.TrimSpace(v.Str)
	if base == 10 {
		n, ok := readNum(ecs.Str(s))
		if !ok {
			return ecs.Value{}
		}
		if n.isInt {
			return ecs.IntVal(n.i)
		}
		return ecs.FloatVal(n.f)
	}
	if base == 16 {
		s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	}
	i, err := strconv.ParseInt(s, int(base), 64)
	if err != nil {
		return ecs.Value{}
	}
	return ecs.IntVal(i)
}

func fnString(args []ecs.Value) ecs.Value {
	s, ok := args[0].Text()
	if !ok {
		return ecs.Value{}
	}
	return ecs.Str(s)
}

// fnBetween returns the text of source between left and right: the first
// right after left, or the last one when greedy.
func fnBetween(fold bool) scalarFn {
	return func(args []ecs.Value) ecs.Value {
		orig, ok := args[0].Text()
		if !ok {
			return ecs.Value{}
		}
		s, ok := textArgs(args[:3], fold)
		if !ok {
			return ecs.Value{}
		}
		greedy := len(args) == 4 && args[3].Bool()
		src, left, right := s[0], s[1], s[2]
		if fold && len(src) != len(orig) {
			orig = src // lower-casing changed byte offsets: return folded text
		}
		i := strings.Index(src, left)
		if i < 0 {
			return ecs.Str("")
		}
		from := i + len(left)
		var j int
		if greedy {
			j = strings.LastIndex(src[from:], right)
		} else {
			j = strings.Index(src[from:], right)
		}
		if j < 0 {
			return ecs.Str("")
		}
		return ecs.Str(orig[from : from+j])
	}
}

// cidrArgs parses the constant CIDR arguments of cidrMatch.
func (c *compiler) cidrArgs(e *callExpr) ([]netip.Prefix, error) {
	if e.fold {
		return nil, syntaxErr(e.p, "cidrMatch() has no case-insensitive form")
	}
	if len(e.args) < 2 {
		return nil, syntaxErr(e.p, "cidrMatch() takes an address and at least one CIDR block, found %d arguments", len(e.args))
	}
	var prefixes []netip.Prefix
	for _, a := range e.args[1:] {
		l, ok := a.(*litExpr)
		if !ok || l.v.Kind != ecs.String {
			return nil, syntaxErr(a.at(), "cidrMatch() takes constant CIDR strings, found %s", exprString(a))
		}
		s := l.v.Str
		var pfx netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			pfx, err = netip.ParsePrefix(s)
			pfx = pfx.Masked()
		} else {
			var addr netip.Addr
			addr, err = netip.ParseAddr(s)
			if err == nil {
				pfx = netip.PrefixFrom(addr, addr.BitLen())
			}
		}
		if err != nil {
			return nil, syntaxErr(a.at(), "bad CIDR block %q in cidrMatch()", s)
		}
		prefixes = append(prefixes, pfx)
	}
	return prefixes, nil
}

func cidrContains(prefixes []netip.Prefix, e *ecs.Value) bool {
	if e.Kind != ecs.String {
		return false
	}
	addr, err := netip.ParseAddr(e.Str)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// cidrMatchFast compiles cidrMatch(field, ...) into an allocation-free
// predicate. ok is false when the first argument is not a field.
func (c *compiler) cidrMatchFast(e *callExpr) (ecs.Predicate, bool, error) {
	prefixes, err := c.cidrArgs(e)
	if err != nil {
		return nil, false, err
	}
	f, ok := e.args[0].(*fieldExpr)
	if !ok {
		return nil, false, nil
	}
	id, err := c.fieldID(f.name, f.p)
	if err != nil {
		return nil, false, err
	}
	return func(ev *ecs.Event) bool {
		return anyElem(ev.Ref(id), func(el *ecs.Value) bool { return cidrContains(prefixes, el) })
	}, true, nil
}

func (c *compiler) cidrMatchValue(e *callExpr) (valueFn, error) {
	prefixes, err := c.cidrArgs(e)
	if err != nil {
		return nil, err
	}
	ip, err := c.value(e.args[0])
	if err != nil {
		return nil, err
	}
	return func(ev *ecs.Event) ecs.Value {
		v := ip(ev)
		if !v.Exists() {
			return ecs.Value{}
		}
		return ecs.BoolVal(anyElem(&v, func(el *ecs.Value) bool { return cidrContains(prefixes, el) }))
	}, nil
}
