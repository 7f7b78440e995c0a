package config

import "strings"

// locate returns the 1-based line where the TOML key path is set in src,
// or the line of its nearest enclosing key or table when the key itself is
// inside an inline table; 0 when it cannot be found. src has already been
// parsed successfully, so only the line shapes of valid TOML matter.
func locate(src string, path []string) int {
	for n := len(path); n > 0; n-- {
		if line := locateExact(src, path[:n]); line > 0 {
			return line
		}
	}
	return 0
}

func locateExact(src string, want []string) int {
	var table []string
	inMultiline := "" // the closing delimiter while inside a multi-line string
	for i, line := range strings.Split(src, "\n") {
		if inMultiline != "" {
			if strings.Count(line, inMultiline)%2 == 1 {
				inMultiline = ""
			}
			continue
		}
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		if trimmed[0] == '[' {
			name := strings.TrimPrefix(strings.TrimPrefix(trimmed, "["), "[")
			end := closingBracket(name)
			if end < 0 {
				continue
			}
			table = splitKey(name[:end])
			if equalKeys(table, want) {
				return i + 1
			}
			continue
		}
		eq := keyEnd(trimmed)
		if eq < 0 {
			continue
		}
		full := append(append([]string(nil), table...), splitKey(trimmed[:eq])...)
		if equalKeys(full, want) {
			return i + 1
		}
		rest := trimmed[eq+1:]
		for _, delim := range []string{`"""`, `'''`} {
			if strings.Count(rest, delim)%2 == 1 {
				inMultiline = delim
			}
		}
	}
	return 0
}

// closingBracket finds the ']' that ends a table header, skipping quotes.
func closingBracket(s string) int { return indexUnquoted(s, ']', "") }

// keyEnd finds the '=' that ends a key, skipping quoted key parts; -1 when
// the line is not a key/value line.
func keyEnd(s string) int { return indexUnquoted(s, '=', ",[{#") }

// indexUnquoted returns the index of the first target byte outside TOML
// quotes, or -1 when none comes before one of the stop bytes.
func indexUnquoted(s string, target byte, stops string) int {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == target:
			return i
		case strings.IndexByte(stops, c) >= 0:
			return -1
		}
	}
	return -1
}

// splitKey splits a dotted TOML key into its parts and unquotes them.
func splitKey(s string) []string {
	var parts []string
	var cur strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' && i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		case c == ' ' || c == '\t':
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}

func equalKeys(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
