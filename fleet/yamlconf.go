package fleet

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseYAMLMap reads the block-mapping subset of YAML that fleetctl writes
// to its config file (ghodss/yaml over yaml.v2): nested "key: value"
// mappings indented with spaces, plain, single- and double-quoted scalars
// (quoted ones may continue on following lines), "{}", null and comments.
// Values are strings or nested maps. Lists, anchors, block scalars and flow
// collections other than {} are refused with the line they are on.
func parseYAMLMap(src []byte) (map[string]any, error) {
	if !utf8.Valid(src) {
		return nil, errors.New("config is not valid UTF-8")
	}
	text := strings.ReplaceAll(string(src), "\r\n", "\n")
	text = strings.TrimPrefix(text, "\ufeff")
	lines := strings.Split(text, "\n")

	type frame struct {
		indent int
		m      map[string]any
	}
	root := map[string]any{}
	stack := []frame{{indent: -1, m: root}}
	// pending is a key whose value is a nested map starting on a later line.
	var pendingKey string
	var pendingParent map[string]any
	pendingIndent := -1
	rootSet := false

	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		raw := lines[i]
		body := strings.TrimLeft(raw, " ")
		if strings.HasPrefix(body, "\t") {
			return nil, fmt.Errorf("line %d: tab in indentation", lineNo)
		}
		if t := strings.TrimSpace(body); t == "" || t[0] == '#' || t == "---" {
			continue
		}
		if body == "..." {
			break
		}
		indent := len(raw) - len(body)

		if pendingParent != nil {
			if indent > pendingIndent {
				child := map[string]any{}
				pendingParent[pendingKey] = child
				stack = append(stack, frame{indent: indent, m: child})
			} else {
				pendingParent[pendingKey] = ""
			}
			pendingParent = nil
		}
		if !rootSet {
			stack[0].indent, rootSet = indent, true
		}
		for len(stack) > 1 && indent < stack[len(stack)-1].indent {
			stack = stack[:len(stack)-1]
		}
		if indent != stack[len(stack)-1].indent {
			return nil, fmt.Errorf("line %d: indentation does not match any enclosing mapping", lineNo)
		}

		if body[0] == '-' && (len(body) == 1 || body[1] == ' ') {
			return nil, fmt.Errorf("line %d: lists are not supported here", lineNo)
		}
		key, rest, err := splitKey(body)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		m := stack[len(stack)-1].m
		if _, dup := m[key]; dup {
			return nil, fmt.Errorf("line %d: key %q repeated", lineNo, key)
		}
		rest = strings.TrimSpace(rest)
		if rest == "" || rest[0] == '#' {
			pendingKey, pendingParent, pendingIndent = key, m, indent
			continue
		}
		// A quoted scalar may continue on the following lines.
		if rest[0] == '"' || rest[0] == '\'' {
			for !quoteClosed(rest) && i+1 < len(lines) {
				i++
				next := strings.TrimSpace(lines[i])
				if strings.HasSuffix(rest, "\\") && rest[0] == '"' {
					rest = rest[:len(rest)-1] + next
				} else if next == "" {
					rest += "\n"
				} else if strings.HasSuffix(rest, "\n") {
					rest += next
				} else {
					rest += " " + next
				}
			}
		}
		val, err := parseScalar(rest)
		if err != nil {
			return nil, fmt.Errorf("line %d: key %q: %w", lineNo, key, err)
		}
		m[key] = val
	}
	if pendingParent != nil {
		pendingParent[pendingKey] = ""
	}
	return root, nil
}

// splitKey splits "key: rest" where key may be quoted.
func splitKey(line string) (key, rest string, err error) {
	if line[0] == '"' || line[0] == '\'' {
		end := closingQuote(line)
		if end < 0 {
			return "", "", errors.New("unterminated quoted key")
		}
		k, err := parseScalar(line[:end+1])
		if err != nil {
			return "", "", err
		}
		after := line[end+1:]
		if !strings.HasPrefix(after, ":") {
			return "", "", errors.New(`expected ":" after key`)
		}
		return k.(string), after[1:], nil
	}
	for j := 0; j < len(line); j++ {
		if line[j] == ':' && (j+1 == len(line) || line[j+1] == ' ') {
			k := strings.TrimSpace(line[:j])
			if k == "" {
				return "", "", errors.New("empty key")
			}
			return k, line[j+1:], nil
		}
	}
	return "", "", errors.New(`expected "key: value"`)
}

// closingQuote returns the index of the quote closing the scalar that
// starts at s[0], or -1.
func closingQuote(s string) int {
	q := s[0]
	for j := 1; j < len(s); j++ {
		switch {
		case q == '"' && s[j] == '\\':
			j++
		case s[j] == q && q == '\'' && j+1 < len(s) && s[j+1] == '\'':
			j++
		case s[j] == q:
			return j
		}
	}
	return -1
}

func quoteClosed(s string) bool { return closingQuote(s) >= 0 }

// parseScalar reads one scalar value (with any trailing comment).
func parseScalar(s string) (any, error) {
	switch s[0] {
	case '"', '\'':
		end := closingQuote(s)
		if end < 0 {
			return nil, errors.New("unterminated quoted string")
		}
		if tail := strings.TrimSpace(s[end+1:]); tail != "" && tail[0] != '#' {
			return nil, fmt.Errorf("unexpected %q after quoted string", tail)
		}
		inner := s[1:end]
		if s[0] == '\'' {
			return strings.ReplaceAll(inner, "''", "'"), nil
		}
		return unescapeDouble(inner)
	case '{':
		if strings.TrimSpace(stripComment(s)) == "{}" {
			return map[string]any{}, nil
		}
		return nil, errors.New("flow mappings are not supported")
	case '[':
		return nil, errors.New("flow sequences are not supported")
	case '|', '>':
		return nil, errors.New("block scalars are not supported")
	case '&', '*', '!':
		return nil, errors.New("anchors, aliases and tags are not supported")
	}
	v := strings.TrimSpace(stripComment(s))
	if v == "null" || v == "~" || v == "Null" || v == "NULL" {
		return "", nil
	}
	return v, nil
}

// stripComment removes a " #..." comment from a plain scalar.
func stripComment(s string) string {
	if i := strings.Index(s, " #"); i >= 0 {
		return s[:i]
	}
	return s
}

func unescapeDouble(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			return "", errors.New("trailing backslash")
		}
		switch s[i] {
		case '"', '\\', '/', ' ':
			b.WriteByte(s[i])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'a':
			b.WriteByte('\a')
		case 'v':
			b.WriteByte('\v')
		case 'e':
			b.WriteByte(0x1b)
		case '\t':
			b.WriteByte('\t')
		case 'N':
			b.WriteString("\u0085")
		case '_':
			b.WriteString("\u00a0")
		case 'L':
			b.WriteString("\u2028")
		case 'P':
			b.WriteString("\u2029")
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[i]]
			if i+1+n > len(s) {
				return "", fmt.Errorf("short \\%c escape", s[i])
			}
			r, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
			if err != nil || !utf8.ValidRune(rune(r)) {
				return "", fmt.Errorf("bad \\%c escape", s[i])
			}
			b.WriteRune(rune(r))
			i += n
		default:
			return "", fmt.Errorf("unknown escape \\%c", s[i])
		}
	}
	return b.String(), nil
}
