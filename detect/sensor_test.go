package detect_test

import (
	"encoding/json"
	"testing"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/rules"
)

// TestDeferredNormalizationKeepsAlerts: with the bundled rules, which read
// few fields, the sensor leaves most fields out of events until an alert or
// a sequence needs them; the alerts are byte for byte those of normalizing
// every field of every event.
func TestDeferredNormalizationKeepsAlerts(t *testing.T) {
	set, err := rules.Load(nil, rules.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rows := syntheticStream(20_000, 3_000, 500, false)
	run := func(eager bool) []string {
		s := detect.NewSensor(set.Rules, detect.SensorOptions{EagerNormalize: eager,
			Engine: detect.Options{DisableRateLimit: true}})
		var out []string
		for _, r := range rows {
			if err := s.Process(r, func(a *detect.Alert) {
				b, err := json.Marshal(a)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, string(b))
			}); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	lazy, eager := run(false), run(true)
	if len(eager) < 40 {
		t.Fatalf("only %d alerts: the stream does not exercise alert building", len(eager))
	}
	if len(lazy) != len(eager) {
		t.Fatalf("%d alerts deferring, %d normalizing eagerly", len(lazy), len(eager))
	}
	for i := range lazy {
		if lazy[i] != eager[i] {
			t.Fatalf("alert %d differs:\ndeferring %s\neager     %s", i, lazy[i], eager[i])
		}
	}
}
