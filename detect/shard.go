package detect

// Host-local rules, and rate limits applied across engines: what a caller
// needs to run one engine per group of hosts (osqdetect scan does, one per
// CPU) and still emit what one engine would.

// hostKeys are the fields whose value tells hosts apart: host.id itself,
// and the synthetic entity ids, which are derived from it.
var hostKeys = map[string]bool{
	"host.id":                          true,
	"process.entity_id":                true,
	"process.parent.entity_id":         true,
	"process.group_leader.entity_id":   true,
	"process.session_leader.entity_id": true,
}

// PerHost reports whether the rule's state only ever combines events of
// one host, so that engines fed disjoint sets of hosts raise, between
// them, the alerts one engine fed every host would: queries and single
// event EQL keep no state; a sequence must join every step (and its until
// step) on host.id or an entity id; new_terms must count host.id among its
// fields; threshold rules must group by host.id. Rate limits (max_signals)
// count across hosts: apply them with an AlertLimiter.
func (r *Rule) PerHost() bool {
	hasHost := func(fields []string) bool {
		for _, f := range fields {
			if hostKeys[f] {
				return true
			}
		}
		return false
	}
	switch r.kind {
	case KindSequence:
		steps := r.sequence.Steps
		if r.sequence.Until != nil {
			steps = append(steps[:len(steps):len(steps)], *r.sequence.Until)
		}
		for _, st := range steps {
			var keys []string
			for _, k := range st.Keys {
				if !k.Optional {
					keys = append(keys, k.Field)
				}
			}
			if !hasHost(keys) {
				return false
			}
		}
		return true
	case KindNewTerms:
		for _, f := range r.Meta.NewTermsFields {
			if f == "host.id" {
				return true
			}
		}
		return false
	case KindThreshold:
		for _, f := range r.threshold.Fields {
			if f == "host.id" {
				return true
			}
		}
		return false
	}
	return true
}

// AlertLimiter applies the rules' max_signals per interval of event time,
// as an Engine does, to alerts raised by engines that run with
// DisableRateLimit. Give it the alerts in the order one engine would have
// raised them.
type AlertLimiter struct {
	limits     map[string]*rateLimiter
	suppressed int64
}

// NewAlertLimiter returns a limiter for rules with the engine options'
// limits (RateLimits overrides, DisableRateLimit).
func NewAlertLimiter(rules []*Rule, opts Options) *AlertLimiter {
	l := &AlertLimiter{limits: map[string]*rateLimiter{}}
	for _, r := range rules {
		limit := r.Meta.MaxSignals
		if v, ok := opts.RateLimits[r.Meta.ID]; ok {
			limit = v
		}
		if opts.DisableRateLimit {
			limit = 0
		}
		l.limits[r.Meta.ID] = &rateLimiter{limit: limit, interval: r.Meta.Interval.Milliseconds()}
	}
	return l
}

// Allow reports whether the alert is within its rule's limit, counting it
// as suppressed when not.
func (l *AlertLimiter) Allow(a *Alert) bool {
	rl := l.limits[a.RuleID]
	if rl == nil || rl.allow(a.TimeMillis) {
		return true
	}
	l.suppressed++
	return false
}

// Suppressed is how many alerts Allow refused.
func (l *AlertLimiter) Suppressed() int64 { return l.suppressed }
