package ecs

import "strings"

// Prefilter is a necessary condition a compiled query states about the
// events it can match: some element of Field equals one of Values
// (compared after lower-casing both when Fold is set). An engine uses it to
// skip rules that cannot match an event with a map lookup.
type Prefilter struct {
	Field  string
	Values []string
	Fold   bool
}

// Selective reports whether indexing on the field narrows the rules an
// event reaches: fields describing the kind of event or host hold the same
// few values on nearly every event.
func Selective(field string) bool {
	return !(strings.HasPrefix(field, "event.") || strings.HasPrefix(field, "host.") ||
		strings.HasPrefix(field, "data_stream.") || strings.HasPrefix(field, "agent.") ||
		strings.HasSuffix(field, ".ip") || field == "@timestamp")
}

// PlainText reports whether a literal compares as text only: it is not a
// number or boolean, which query languages also match against numeric or
// boolean values written differently.
func PlainText(s string) bool {
	if s == "" || s == "true" || s == "false" {
		return false
	}
	if _, ok := Str(s).Number(); ok {
		return false
	}
	return true
}

// BetterDisjunction reports whether the disjunction a is a better index
// key than b: fewer fields to look up, then fields that name the process,
// then fewer values.
func BetterDisjunction(a, b []Prefilter) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	ra, rb, va, vb := 0, 0, 0, 0
	for _, p := range a {
		ra += prefilterRank(p.Field)
		va += len(p.Values)
	}
	for _, p := range b {
		rb += prefilterRank(p.Field)
		vb += len(p.Values)
	}
	if ra != rb {
		return ra < rb
	}
	return va < vb
}

// MergePrefilters joins the prefilters of a disjunction that test the same
// field the same way.
func MergePrefilters(ps []Prefilter) []Prefilter {
	var out []Prefilter
	for _, p := range ps {
		merged := false
		for i := range out {
			if out[i].Field == p.Field && out[i].Fold == p.Fold {
				out[i].Values = append(out[i].Values, p.Values...)
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, Prefilter{Field: p.Field, Fold: p.Fold, Values: append([]string(nil), p.Values...)})
		}
	}
	return out
}

func prefilterRank(field string) int {
	switch field {
	case "process.name":
		return 0
	case "process.executable":
		return 1
	case "process.parent.name":
		return 2
	case "process.parent.executable":
		return 3
	}
	return 4
}
