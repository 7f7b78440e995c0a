package extension

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	osquery "github.com/osquery/osquery-go"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/extension/config"
	"github.com/osqdetect/osqdetect/extension/store"
	"github.com/osqdetect/osqdetect/rules"
)

// TablesFunc builds the table plugins the extension registers (alerts,
// detection_rules, detection_health) over the rule set, the store and the
// live health.
type TablesFunc func(cfg config.Config, set *rules.Set, st *store.Store, health *Health) ([]osquery.OsqueryPlugin, error)

// wiring holds the pieces around the runner: rules, store, table plugins.
type wiring struct {
	cfg    config.Config
	log    *slog.Logger
	rules  *rules.Set
	store  *store.Store
	tables []osquery.OsqueryPlugin
	health *Health
}

func openWiring(ctx context.Context, opts Options, health *Health, log *slog.Logger) (*wiring, error) {
	cfg := opts.Config
	set, err := rules.Load(cfg.RuleDirs, rules.LoadOptions{Disabled: cfg.DisabledRules})
	if err != nil {
		return nil, fmt.Errorf("loading rules: %w", err)
	}
	for _, st := range set.Rejected() {
		log.Warn("rule rejected", "rule_id", st.Meta.ID, "source", st.Meta.Source, "reason", st.Error)
	}
	tablesFn := opts.Tables
	if tablesFn == nil {
		tablesFn = StandardTables
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, res, err := store.Open(octx, cfg.StateDir, store.Options{})
	if err != nil {
		return nil, fmt.Errorf("opening the state store in %s: %w", cfg.StateDir, err)
	}
	if err := installFaults(st); err != nil {
		_ = st.Close()
		return nil, err
	}
	if res.Recovered {
		log.Error("state store was unusable and was replaced by an empty one", "reason", res.Reason, "moved_to", res.MovedTo)
		health.Update(func(s *HealthSnapshot) { s.StoreRecovery = res.Reason })
	}
	plugins, err := tablesFn(cfg, set, st, health)
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("building the tables: %w", err)
	}
	return &wiring{cfg: cfg, log: log, rules: set, store: st, tables: plugins, health: health}, nil
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

func (w *wiring) commit(ctx context.Context, pc *pendingCommit) error {
	res, err := w.store.Commit(ctx, pc.batch())
	if err != nil {
		return err
	}
	if res.Rejected > 0 {
		w.log.Error("alerts refused by the store", "count", res.Rejected, "last", res.LastRejectReason)
		w.health.Update(func(s *HealthSnapshot) {
			s.AlertsRefused += int64(res.Rejected)
			s.LastCommitError = res.LastRejectReason
		})
	}
	return nil
}

func (w *wiring) prune(ctx context.Context, now time.Time, eventTime int64) {
	n, err := w.store.Prune(ctx, now, w.cfg.Retention.MaxAge, w.cfg.Retention.MaxCount)
	if err != nil {
		w.log.Warn("pruning old alerts", "err", err)
		return
	}
	if n > 0 {
		w.log.Info("pruned old alerts", "count", n)
		w.health.Update(func(s *HealthSnapshot) { s.AlertsPruned += int64(n) })
	}
	// New-terms history older than every rule's window can never matter.
	var window time.Duration
	for _, st := range w.rules.Status {
		window = max(window, st.Meta.HistoryWindow)
	}
	if window > 0 && eventTime > 0 {
		before := eventTime*1000 - window.Milliseconds()
		if _, err := w.store.PruneTerms(ctx, before); err != nil {
			w.log.Warn("pruning new-terms history", "err", err)
		}
	}
}

func (w *wiring) close() {
	if err := w.store.Close(); err != nil {
		w.log.Warn("closing the state store", "err", err)
	}
}
