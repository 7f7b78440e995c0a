package kql

import (
	"strings"
	"sync"

	"github.com/osqdetect/osqdetect/detect/ecs"
	"github.com/osqdetect/osqdetect/detect/glob"
)

// wildFieldNode is a query on a field name holding wildcards
// ("process.*:bash"): it holds when the query holds on some field of the
// event whose name matches, as Kibana documents ("Wildcards in field
// names", https://www.elastic.co/guide/en/kibana/current/kuery-query.html).
// A field with no value matches nothing, so `not process.*:x` holds when
// no matching field is x.
type wildFieldNode struct {
	pattern string // glob source
	pat     *glob.Pattern
	proto   node // the value query, parsed against a placeholder field

	perField sync.Map // ecs.Field -> node: proto for that field
}

func newWildField(pattern string, proto node) *wildFieldNode {
	return &wildFieldNode{pattern: pattern, pat: glob.Compile(pattern, glob.Options{Escape: true}), proto: proto}
}

func (n *wildFieldNode) match(e *ecs.Event) bool {
	found := false
	e.Range(func(f ecs.Field, _ ecs.Value) {
		if found || !n.pat.Match(f.Name()) {
			return
		}
		found = n.forField(f).match(e)
	})
	return found
}

func (n *wildFieldNode) forField(f ecs.Field) node {
	if k, ok := n.perField.Load(f); ok {
		return k.(node)
	}
	name := f.Name()
	k := retarget(n.proto, fieldRef{id: f, name: name, ip: isIPField(name)})
	finalize(k)
	n.perField.Store(f, k)
	return k
}

// retarget copies a value query onto field f.
func retarget(n node, f fieldRef) node {
	switch n := n.(type) {
	case *termNode:
		return &termNode{f: f, terms: n.terms}
	case *rangeNode:
		return newRange(f, n.op, n.bound)
	case *notNode:
		return &notNode{kid: retarget(n.kid, f)}
	case *andNode:
		kids := make([]node, len(n.kids))
		for i, k := range n.kids {
			kids[i] = retarget(k, f)
		}
		return &andNode{kids: kids}
	case *orNode:
		kids := make([]node, len(n.kids))
		for i, k := range n.kids {
			kids[i] = retarget(k, f)
		}
		return &orNode{kids: kids}
	}
	return n
}

func (n *wildFieldNode) cost() int { return 8 * n.proto.cost() }

func (n *wildFieldNode) write(b *strings.Builder, indent int) {
	b.WriteString("wildcard field ")
	b.WriteString(n.pattern)
	b.WriteString(" {")
	n.proto.write(b, indent)
	b.WriteString("}")
}
