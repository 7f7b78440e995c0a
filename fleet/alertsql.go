package fleet

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Severities in increasing order, as rules and the alerts table spell them.
var Severities = []string{"low", "medium", "high", "critical"}

// SeveritiesAtLeast returns level and every higher severity, or an error
// when level is not one of Severities.
func SeveritiesAtLeast(level string) ([]string, error) {
	l := strings.ToLower(strings.TrimSpace(level))
	for i, s := range Severities {
		if s == l {
			return Severities[i:], nil
		}
	}
	return nil, fmt.Errorf("severity %q is not one of %s", level, strings.Join(Severities, ", "))
}

// QuoteLiteral renders s as an SQLite string literal: single quotes, inner
// quotes doubled. A NUL byte cannot be carried and is refused.
func QuoteLiteral(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", errors.New("value contains a NUL byte")
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'", nil
}

// AlertFilter selects alerts for a hunt. Zero fields do not filter.
type AlertFilter struct {
	RuleID      string        // exact rule id
	MinSeverity string        // this severity or higher
	Since       time.Duration // alerts whose time is within this long before Now
	Now         time.Time     // reference for Since; zero means time.Now()
}

// AlertsQuery builds the SELECT over the alerts table for f. Values are
// quoted as SQL literals and the time bound is an absolute Unix time, which
// the alerts table answers without a full scan.
func AlertsQuery(f AlertFilter) (string, error) {
	var where []string
	if f.RuleID != "" {
		q, err := QuoteLiteral(f.RuleID)
		if err != nil {
			return "", fmt.Errorf("rule id: %w", err)
		}
		where = append(where, "rule_id = "+q)
	}
	if f.MinSeverity != "" {
		levels, err := SeveritiesAtLeast(f.MinSeverity)
		if err != nil {
			return "", err
		}
		quoted := make([]string, len(levels))
		for i, l := range levels {
			quoted[i] = "'" + l + "'"
		}
		if len(quoted) == 1 {
			where = append(where, "severity = "+quoted[0])
		} else {
			where = append(where, "severity IN ("+strings.Join(quoted, ", ")+")")
		}
	}
	if f.Since < 0 {
		return "", fmt.Errorf("since %v is negative", f.Since)
	}
	if f.Since > 0 {
		now := f.Now
		if now.IsZero() {
			now = time.Now()
		}
		where = append(where, "time >= "+strconv.FormatInt(now.Add(-f.Since).Unix(), 10))
	}
	q := "SELECT * FROM alerts"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return q + " ORDER BY time;", nil
}
