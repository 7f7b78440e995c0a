package detect

// keyTrie finds in one walk over a value the exact keys it equals and the
// prefix keys it starts with; built over reversed keys and walked from the
// end, the suffix keys it ends with. A walk stops at the first byte no key
// continues with, so most values cost a few steps.
type keyTrie struct {
	nodes []trieNode
	refs  [][]int32 // slot lists, indexed by trieNode.prefix and .exact
}

type trieNode struct {
	edges  []trieEdge
	dense  *[256]int32 // next node by byte (-1: none), once edges grow long
	prefix int32       // index into refs of the keys ending here as prefixes; -1: none
	exact  int32       // the same for exact keys
}

type trieEdge struct {
	b    byte
	next int32
}

// denseAfter is the edge count beyond which a node looks bytes up in a
// table rather than scanning its edges.
const denseAfter = 8

func (t *keyTrie) empty() bool { return len(t.nodes) <= 1 }

// insert adds slot under key, walking key backwards when reverse is set;
// exact selects whether the key must equal the value or only start (end)
// it.
func (t *keyTrie) insert(key string, slot int32, exact, reverse bool) {
	if len(t.nodes) == 0 {
		t.nodes = append(t.nodes, trieNode{prefix: -1, exact: -1})
	}
	at := int32(0)
	for i := range key {
		b := key[i]
		if reverse {
			b = key[len(key)-1-i]
		}
		next := t.child(at, b)
		if next < 0 {
			next = int32(len(t.nodes))
			t.nodes = append(t.nodes, trieNode{prefix: -1, exact: -1})
			n := &t.nodes[at]
			n.edges = append(n.edges, trieEdge{b: b, next: next})
			if n.dense != nil {
				n.dense[b] = next
			} else if len(n.edges) > denseAfter {
				n.dense = new([256]int32)
				for j := range n.dense {
					n.dense[j] = -1
				}
				for _, e := range n.edges {
					n.dense[e.b] = e.next
				}
			}
		}
		at = next
	}
	ref := &t.nodes[at].prefix
	if exact {
		ref = &t.nodes[at].exact
	}
	if *ref < 0 {
		*ref = int32(len(t.refs))
		t.refs = append(t.refs, nil)
	}
	if list := t.refs[*ref]; len(list) == 0 || list[len(list)-1] != slot {
		t.refs[*ref] = append(list, slot)
	}
}

func (t *keyTrie) child(at int32, b byte) int32 {
	n := &t.nodes[at]
	if n.dense != nil {
		return n.dense[b]
	}
	for _, e := range n.edges {
		if e.b == b {
			return e.next
		}
	}
	return -1
}

// walk adds the slots of the keys s matches: exact keys it equals and
// prefix keys it starts with, or, for a reversed trie, suffix keys it
// ends with.
func (d *dispatch) walk(t *keyTrie, s string, reverse bool) {
	if t.empty() {
		return
	}
	at := int32(0)
	for i := 0; ; i++ {
		n := &t.nodes[at]
		if n.prefix >= 0 {
			d.add(t.refs[n.prefix])
		}
		if i == len(s) {
			if n.exact >= 0 {
				d.add(t.refs[n.exact])
			}
			return
		}
		b := s[i]
		if reverse {
			b = s[len(s)-1-i]
		}
		if at = t.child(at, b); at < 0 {
			return
		}
	}
}
