package timeguard

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	const now = 1700000000
	tests := []struct {
		name  string
		guard Guard
		t     int64
		ok    bool
	}{
		{"same second", Guard{}, now, true},
		{"past", Guard{}, now - 86400*365, true},
		{"just within the default bound", Guard{}, now + 300, true},
		{"just over the default bound", Guard{}, now + 301, false},
		{"year 3000", Guard{}, 32503680000, false},
		{"custom bound", Guard{MaxAhead: 10 * time.Second}, now + 11, false},
		{"sub-second bound rounds up to one second", Guard{MaxAhead: time.Millisecond}, now + 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.guard.Check(tt.t, now)
			if (err == nil) != tt.ok {
				t.Fatalf("Check(%d, %d) = %v, want ok %v", tt.t, int64(now), err, tt.ok)
			}
			var te *Error
			if err != nil && (!errors.As(err, &te) || te.Time != tt.t || te.Ref != now) {
				t.Fatalf("error %#v does not carry the times", err)
			}
		})
	}
}

func TestErrorNamesTheTimes(t *testing.T) {
	err := Guard{}.Check(32503680000, 1700000000)
	msg := err.Error()
	for _, want := range []string{"32503680000", "3000-01-01T00:00:00Z", "1700000000", "5m0s bound"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if msg := (&Error{Time: 1 << 62, Ref: 0, MaxAhead: time.Minute}).Error(); !strings.Contains(msg, "out of range") {
		t.Errorf("huge time rendered as %q", msg)
	}
}
