package rules

import (
	"bytes"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/osqdetect/osqdetect/detect/ecs"
	"github.com/osqdetect/osqdetect/detect/eql"
	"github.com/osqdetect/osqdetect/detect/kql"
	"github.com/osqdetect/osqdetect/rules/schema"
)

// unknownFields checks every field a rule names against the schema
// Elastic's detection-rules tooling validates with (ECS 9.4.0 and its
// non-ECS schemas, see rules/schema): a field it does not know is a
// mistake (a typo such as process.nme), reported with the line it is on
// and the closest known name. Optional EQL fields (?field) may be absent
// from any mapping and are not checked.
func unknownFields(data []byte, queryLine int, fields, optional []string) string {
	opt := map[string]bool{}
	for _, f := range optional {
		opt[f] = true
	}
	var unknown []string
	seen := map[string]bool{}
	for _, f := range fields {
		f = strings.TrimPrefix(f, "?")
		if f == "" || opt[f] || seen[f] {
			continue
		}
		seen[f] = true
		if _, ok := schema.Type(f); !ok {
			unknown = append(unknown, f)
		}
	}
	if len(unknown) == 0 {
		return ""
	}
	sort.Strings(unknown)
	f := unknown[0]
	msg := fmt.Sprintf("line %d: unknown field %q (not in ECS 9.4.0 or Elastic's non-ECS schemas)", fieldLine(data, f, queryLine), f)
	if c := schema.Closest(f); c != "" {
		msg += fmt.Sprintf("; did you mean %q?", c)
	}
	if len(unknown) > 1 {
		msg += fmt.Sprintf(" (%d more unknown: %s)", len(unknown)-1, strings.Join(unknown[1:], ", "))
	}
	return msg
}

// fieldLine returns the line of the file where name first appears as a
// whole field name at or after line from, else from.
func fieldLine(data []byte, name string, from int) int {
	lines := bytes.Split(data, []byte("\n"))
	for i := max(from-1, 0); i < len(lines); i++ {
		l := lines[i]
		for off := 0; ; {
			j := bytes.Index(l[off:], []byte(name))
			if j < 0 {
				break
			}
			j += off
			end := j + len(name)
			if (j == 0 || !isFieldByte(l[j-1])) && (end == len(l) || !isFieldByte(l[end])) {
				return i + 1
			}
			off = j + 1
		}
	}
	return from
}

func isFieldByte(c byte) bool {
	return c == '.' || c == '_' || c == '@' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// typeMismatch checks the constants a query compares fields with against
// the fields' types, as Elasticsearch's query verification and Elastic's
// rule tooling do: a number compared with a keyword field (EQL), text that
// is not a number on a numeric field, cidrMatch or a value that is not an
// address on a field that is not of type ip.
func typeMismatch(data []byte, queryLine int, lits []literal) string {
	for _, l := range lits {
		typ, ok := schema.Type(l.field)
		if !ok {
			continue
		}
		var problem string
		switch {
		case l.cidr && typ != "ip":
			problem = fmt.Sprintf("cidrMatch needs an ip field; %s is %s", l.field, typ)
		case l.cidr:
		case schema.Numeric(typ) && !l.number && !isNumberText(l.text):
			problem = fmt.Sprintf("%s is a %s field; %q is not a number", l.field, typ, l.text)
		case l.number && keywordLike(typ):
			problem = fmt.Sprintf("%s is a %s field; compare it with the string \"%s\", not the number %s", l.field, typ, l.text, l.text)
		case typ == "ip" && l.kql && !l.rangeBound && !isIPOrCIDR(l.text):
			problem = fmt.Sprintf("%s is an ip field; %q is neither an address nor a CIDR block", l.field, l.text)
		}
		if problem != "" {
			return fmt.Sprintf("line %d: %s", fieldLine(data, l.field, queryLine), problem)
		}
	}
	return ""
}

// literal is a constant a rule's query compares a field with.
type literal struct {
	field      string
	text       string
	number     bool // an EQL number literal
	cidr       bool // cidrMatch's field
	kql        bool
	rangeBound bool
}

func keywordLike(typ string) bool {
	switch typ {
	case "keyword", "constant_keyword", "wildcard", "match_only_text", "text":
		return true
	}
	return false
}

func isNumberText(s string) bool {
	_, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return err == nil
}

func isIPOrCIDR(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(s)
	return err == nil
}

func eqlLiterals(q *eql.Query) []literal {
	var out []literal
	for _, l := range q.Literals() {
		out = append(out, literal{field: l.Field, text: l.Text, cidr: l.CIDR,
			number: l.Kind == ecs.Int || l.Kind == ecs.Float})
	}
	return out
}

func kqlLiterals(q *kql.Query) []literal {
	var out []literal
	for _, l := range q.Literals() {
		out = append(out, literal{field: l.Field, text: l.Value, kql: true, rangeBound: l.Range})
	}
	return out
}
