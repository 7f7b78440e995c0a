package kql

// Input limits, checked before any pattern is compiled: a query or a
// value this long is hostile or broken (the longest of Elastic's Linux
// rules is about 10 KB, its longest value under 200 bytes), and wildcard
// values cost memory and time in proportion to their length.
const (
	// MaxQueryLen bounds a query's length in bytes.
	MaxQueryLen = 64 << 10
	// MaxValueLen bounds one value (quoted or not) in bytes.
	MaxValueLen = 8 << 10
)

// checkLimits rejects over-long queries and values.
func checkLimits(src string, toks []token) error {
	for _, t := range toks {
		if len(t.text) > MaxValueLen {
			return syntaxErr(src, t.pos, "value longer than %d bytes", MaxValueLen)
		}
	}
	return nil
}
