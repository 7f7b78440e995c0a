package extension

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	osquery "github.com/osquery/osquery-go"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/extension/config"
	"github.com/osqdetect/osqdetect/rules"
)

// Names of the state blobs the runner keeps in the store.
const (
	blobPoller    = "poller"    // pollState: cursor and durable counters
	blobSequences = "sequences" // the engine's pending sequences
	blobProcesses = "processes" // the process cache snapshot
)

// wiring holds the pieces around the runner: rules, store, table plugins.
type wiring struct {
	cfg    config.Config
	log    *slog.Logger
	rules  *rules.Set
	store  StateStore
	tables []osquery.OsqueryPlugin
}

// SavedState is what the store holds for the runner at start.
type SavedState struct {
	Terms []detect.TermEntry
	// Blobs are the named state blobs last committed.
	Blobs map[string][]byte
}

// StateStore is the durable state behind the runner: alerts, new-terms
// history and named state blobs, all written by one atomic Commit per poll
// so that a crash never separates alerts from the cursor that produced them.
type StateStore interface {
	Load() (SavedState, error)
	// Commit upserts alerts by id, records terms and replaces blobs, in one
	// transaction.
	Commit(alerts []*detect.Alert, terms []detect.TermEntry, blobs map[string][]byte) error
	// Prune applies the retention bounds and returns how many alerts went.
	Prune(now time.Time) (int, error)
	Close() error
}

// Backend opens the state store under cfg.StateDir and builds the table
// plugins (alerts, detection_rules, detection_health) over it.
type Backend func(cfg config.Config, set *rules.Set, health *Health, log *slog.Logger) (StateStore, []osquery.OsqueryPlugin, error)

// DefaultBackend is the Backend Run uses when Options.Backend is nil.
var DefaultBackend Backend

func openWiring(opts Options, health *Health, log *slog.Logger) (*wiring, error) {
	cfg := opts.Config
	set, err := rules.Load(cfg.RuleDirs, rules.LoadOptions{Disabled: cfg.DisabledRules})
	if err != nil {
		return nil, fmt.Errorf("loading rules: %w", err)
	}
	for _, st := range set.Rejected() {
		log.Warn("rule rejected", "rule_id", st.Meta.ID, "source", st.Meta.Source, "reason", st.Error)
	}
	backend := opts.Backend
	if backend == nil {
		backend = DefaultBackend
	}
	if backend == nil {
		return nil, errors.New("no state store available")
	}
	st, plugins, err := backend(cfg, set, health, log)
	if err != nil {
		return nil, err
	}
	return &wiring{cfg: cfg, log: log, rules: set, store: st, tables: plugins}, nil
}

func (w *wiring) plugins() []osquery.OsqueryPlugin { return w.tables }

func (w *wiring) sensorOptions() detect.SensorOptions {
	return detect.SensorOptions{
		MaxProcesses: w.cfg.Engine.ProcessCacheSize,
		Engine: detect.Options{
			MaxPending:       w.cfg.Engine.MaxPendingSequences,
			RateLimits:       w.cfg.RateLimit.Rules,
			DisableRateLimit: w.cfg.RateLimit.Disabled,
		},
	}
}

func (w *wiring) pruneInterval() time.Duration {
	if w.cfg.Retention.PruneInterval > 0 {
		return w.cfg.Retention.PruneInterval
	}
	return 10 * time.Minute
}

func (w *wiring) load() (SavedState, error) {
	s, err := w.store.Load()
	if err != nil {
		return s, fmt.Errorf("loading state from %s: %w", w.cfg.StateDir, err)
	}
	return s, nil
}

func (w *wiring) commit(pc *pendingCommit) error {
	return w.store.Commit(pc.alerts, pc.terms, pc.blobs)
}

func (w *wiring) prune(now time.Time) {
	n, err := w.store.Prune(now)
	if err != nil {
		w.log.Warn("pruning old alerts", "err", err)
		return
	}
	if n > 0 {
		w.log.Info("pruned old alerts", "count", n)
	}
}

func (w *wiring) close() {
	if w.store != nil {
		if err := w.store.Close(); err != nil {
			w.log.Warn("closing the state store", "err", err)
		}
	}
}
