package detect

// keyTrie finds in one walk over a value the exact keys it equals and the
// prefix keys it starts with; built over reversed keys and walked from the
// end, the suffix keys it ends with. A walk stops at the first byte no key
// continues with, so most values cost a few steps. Case-sensitive and
// lower-cased keys share the trie, each on its own side, so that a value
// with no upper-case letter finds both kinds in one walk.
type keyTrie struct {
	nodes []trieNode
	refs  [][]int32 // slot lists, indexed by trieNode.prefix and .exact
}

type trieNode struct {
	// first is the node's first edge (next is -1 when it has none), kept
	// in the node because most nodes of long keys have only that one: a
	// step along a key then loads no other memory.
	first  trieEdge
	edges  []trieEdge  // the other edges
	dense  *[256]int32 // next node by byte (-1: none), once edges grow long
	prefix [2]int32    // by side: index into refs of the keys ending here as prefixes; -1: none
	exact  [2]int32    // the same for exact keys
}

// A key's side says how values are compared with it.
type side uint8

const (
	caseSensitive side = iota // the value as it is
	caseFolded                // the value lower-cased; the key is lower-case
)

// sides is a set of sides: bit 1<<side.
type sides uint8

var noRefs = trieNode{first: trieEdge{next: -1}, prefix: [2]int32{-1, -1}, exact: [2]int32{-1, -1}}

type trieEdge struct {
	b    byte
	next int32
}

// denseAfter is the edge count beyond which a node looks bytes up in a
// table rather than scanning its edges.
const denseAfter = 8

func (t *keyTrie) empty() bool { return len(t.nodes) <= 1 }

// insert adds slot under key on side sd, walking key backwards when
// reverse is set; exact selects whether the key must equal the value or
// only start (end) it.
func (t *keyTrie) insert(key string, slot int32, exact, reverse bool, sd side) {
	if len(t.nodes) == 0 {
		t.nodes = append(t.nodes, noRefs)
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
			t.nodes = append(t.nodes, noRefs)
			n := &t.nodes[at]
			if n.first.next < 0 {
				n.first = trieEdge{b: b, next: next}
			} else {
				n.edges = append(n.edges, trieEdge{b: b, next: next})
			}
			if n.dense != nil {
				n.dense[b] = next
			} else if 1+len(n.edges) > denseAfter {
				n.dense = new([256]int32)
				for j := range n.dense {
					n.dense[j] = -1
				}
				n.dense[n.first.b] = n.first.next
				for _, e := range n.edges {
					n.dense[e.b] = e.next
				}
			}
		}
		at = next
	}
	ref := &t.nodes[at].prefix[sd]
	if exact {
		ref = &t.nodes[at].exact[sd]
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
	if n.first.b == b && n.first.next >= 0 {
		return n.first.next
	}
	for _, e := range n.edges {
		if e.b == b {
			return e.next
		}
	}
	return -1
}

// walk adds the slots of the keys on the sides in which that s matches:
// exact keys it equals and prefix keys it starts with, or, for a reversed
// trie, suffix keys it ends with.
func (d *dispatch) walk(t *keyTrie, s string, reverse bool, which sides) {
	if t.empty() {
		return
	}
	at := int32(0)
	for i := 0; ; i++ {
		n := &t.nodes[at]
		if n.prefix != noRefs.prefix {
			d.addSides(t.refs, n.prefix, which)
		}
		if i == len(s) {
			if n.exact != noRefs.exact {
				d.addSides(t.refs, n.exact, which)
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

// addSides adds the slot lists refs[at[sd]] of the sides in which.
func (d *dispatch) addSides(refs [][]int32, at [2]int32, which sides) {
	if r := at[caseSensitive]; r >= 0 && which&(1<<caseSensitive) != 0 {
		d.add(refs[r])
	}
	if r := at[caseFolded]; r >= 0 && which&(1<<caseFolded) != 0 {
		d.add(refs[r])
	}
}
