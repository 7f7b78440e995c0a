package extension

import (
	"sort"
	"sync"
	"time"

	"github.com/osqdetect/osqdetect/detect"
)

// SourceHealth is the state of one event table the extension reads.
type SourceHealth struct {
	Table string `json:"table"`
	// EventsEnabled is false when osquery is not collecting this table's
	// events (events or audit disabled, subscriber inactive): reads then
	// return no rows rather than an error.
	EventsEnabled bool   `json:"events_enabled"`
	EventsProblem string `json:"events_problem,omitempty"`
	// RowsRead counts rows osquery returned in this run (re-reads of held
	// back seconds included); RowsDelivered counts rows handed to the
	// engine over the extension's whole life (durable).
	RowsRead      int64     `json:"rows_read"`
	RowsDelivered int64     `json:"rows_delivered"`
	Malformed     int64     `json:"malformed"`
	Polls         int64     `json:"polls"`
	Errors        int64     `json:"errors"`
	LastError     string    `json:"last_error,omitempty"`
	LastPoll      time.Time `json:"last_poll"`
	Cursor        int64     `json:"cursor"`
	LagSeconds    int64     `json:"lag_seconds"`
	// Quarantined counts rows (once each) whose time lay beyond the time
	// guard's bound ahead of the host's clock; they are never read.
	Quarantined    int64  `json:"quarantined"`
	LastQuarantine string `json:"last_quarantine,omitempty"`
	// StalledSince is when the cursor stopped moving while rows of
	// complete seconds waited beyond it; zero when reading keeps up.
	StalledSince time.Time `json:"stalled_since"`
	StallReason  string    `json:"stall_reason,omitempty"`
}

// HealthSnapshot is everything detection_health reports.
type HealthSnapshot struct {
	HostID    string    `json:"host_id"`
	StartedAt time.Time `json:"started_at"`
	// Registered is whether osquery listed the extension at the last check.
	Registered    bool   `json:"registered"`
	Registrations int64  `json:"registrations"`
	CoreReachable bool   `json:"core_reachable"`
	LastCoreError string `json:"last_core_error,omitempty"`
	Sources       []SourceHealth
	EventsExpiry  int64 `json:"events_expiry"`
	// Warnings are conditions that lose or miss events (events disabled,
	// lag close to events_expiry, ...), one sentence each.
	Warnings []string `json:"warnings,omitempty"`
	// EventsIngested is the total rows handed to the engine (durable);
	// Engine holds this run's engine and normalizer counters.
	EventsIngested  int64              `json:"events_ingested"`
	RowsRejected    int64              `json:"rows_rejected"`
	LastRejectError string             `json:"last_reject_error,omitempty"`
	Engine          detect.SensorStats `json:"engine"`
	AlertsCommitted int64              `json:"alerts_committed"`
	AlertsRefused   int64              `json:"alerts_refused"`
	Commits         int64              `json:"commits"`
	CommitErrors    int64              `json:"commit_errors"`
	LastCommitError string             `json:"last_commit_error,omitempty"`
	StoreRecovery   string             `json:"store_recovery,omitempty"`
	// StateRestoreError says which part of the durable engine state could
	// not be read at start (that part started empty).
	StateRestoreError string `json:"state_restore_error,omitempty"`
	AlertsPruned      int64  `json:"alerts_pruned"`
}

// Health is the extension's live health, updated by the runner and read by
// the detection_health table. It is safe for concurrent use.
type Health struct {
	mu   sync.RWMutex
	snap HealthSnapshot
	src  map[string]*SourceHealth
}

// NewHealth returns an empty Health.
func NewHealth() *Health {
	return &Health{snap: HealthSnapshot{StartedAt: time.Now()}, src: map[string]*SourceHealth{}}
}

// Update applies fn to the snapshot under the lock.
func (h *Health) Update(fn func(s *HealthSnapshot)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fn(&h.snap)
}

// UpdateSource applies fn to the health of table, creating it when new.
func (h *Health) UpdateSource(table string, fn func(s *SourceHealth)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.src[table]
	if s == nil {
		s = &SourceHealth{Table: table}
		h.src[table] = s
	}
	fn(s)
}

// Snapshot returns a copy of the current health.
func (h *Health) Snapshot() HealthSnapshot {
	h.mu.RLock()
	defer h.mu.RUnlock()
	s := h.snap
	s.Warnings = append([]string(nil), h.snap.Warnings...)
	s.Sources = make([]SourceHealth, 0, len(h.src))
	for _, src := range h.src {
		s.Sources = append(s.Sources, *src)
	}
	sort.Slice(s.Sources, func(i, j int) bool { return s.Sources[i].Table < s.Sources[j].Table })
	if h.snap.Engine.PerRule != nil {
		per := make(map[string]detect.RuleStats, len(h.snap.Engine.PerRule))
		for k, v := range h.snap.Engine.PerRule {
			per[k] = v
		}
		s.Engine.PerRule = per
	}
	return s
}
