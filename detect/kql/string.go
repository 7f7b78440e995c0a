package kql

import (
	"net/netip"
	"strconv"
	"strings"
)

func writeIndent(b *strings.Builder, indent int) {
	for i := 0; i < indent; i++ {
		b.WriteString("  ")
	}
}

func writeGroup(b *strings.Builder, name string, kids []node, indent int) {
	b.WriteString(name)
	b.WriteString("(\n")
	for _, k := range kids {
		writeIndent(b, indent+1)
		k.write(b, indent+1)
		b.WriteByte('\n')
	}
	writeIndent(b, indent)
	b.WriteByte(')')
}

func (n *andNode) write(b *strings.Builder, indent int) { writeGroup(b, "and", n.kids, indent) }
func (n *orNode) write(b *strings.Builder, indent int)  { writeGroup(b, "or", n.kids, indent) }

func (n *notNode) write(b *strings.Builder, indent int) {
	b.WriteString("not ")
	n.kid.write(b, indent)
}

func (n *termNode) write(b *strings.Builder, _ int) {
	b.WriteString(n.f.name)
	b.WriteByte(':')
	if len(n.terms) == 1 {
		b.WriteString(n.f.termString(n.terms[0]))
		return
	}
	b.WriteByte('(')
	for i, t := range n.terms {
		if i > 0 {
			b.WriteString(" or ")
		}
		b.WriteString(n.f.termString(t))
	}
	b.WriteByte(')')
}

func (f fieldRef) termString(t term) string {
	switch t.kind {
	case termExists:
		return "*"
	case termPattern:
		return patternString(t.text)
	}
	if f.ip {
		if pf, ok := parseCIDR(t.text); ok {
			return "cidr(" + pf.String() + ")"
		}
		if a, err := netip.ParseAddr(t.text); err == nil {
			return "ip(" + a.Unmap().String() + ")"
		}
	}
	return strconv.Quote(t.text)
}

func (n *rangeNode) write(b *strings.Builder, _ int) {
	b.WriteString(n.f.name)
	b.WriteByte(' ')
	b.WriteString(n.op)
	b.WriteByte(' ')
	if n.isNum {
		b.WriteString(strconv.FormatFloat(n.num, 'g', -1, 64))
	} else {
		b.WriteString(strconv.Quote(n.bound))
	}
}

// patternString renders a glob source (where only \* and \\ are escaped)
// as an unquoted KQL value, escaping the characters KQL reserves.
func patternString(src string) string {
	var b strings.Builder
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\\' && i+1 < len(src):
			b.WriteByte(c)
			b.WriteByte(src[i+1])
			i++
			continue
		case strings.IndexByte(`():<>"{}`, c) >= 0:
			b.WriteByte('\\')
		case c == '\t':
			b.WriteString(`\t`)
			continue
		case c == '\r':
			b.WriteString(`\r`)
			continue
		case c == '\n':
			b.WriteString(`\n`)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
