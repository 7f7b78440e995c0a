package extension

import (
	"context"
	"time"

	osquery "github.com/osquery/osquery-go"

	"github.com/osqdetect/osqdetect/extension/config"
	"github.com/osqdetect/osqdetect/extension/store"
	"github.com/osqdetect/osqdetect/rules"
	"github.com/osqdetect/osqdetect/tables"
	"github.com/osqdetect/osqdetect/tables/detectionhealth"
	"github.com/osqdetect/osqdetect/tables/detectionrules"
	"github.com/osqdetect/osqdetect/tables/tablewrap"
)

// StandardTables builds the alerts, detection_rules and detection_health
// tables over the store, the rule set and the live health. It is the
// TablesFunc Run uses by default.
func StandardTables(cfg config.Config, set *rules.Set, st *store.Store, health *Health) ([]osquery.OsqueryPlugin, error) {
	ts := tables.New(tables.Sources{
		Alerts: st,
		Rules:  ruleRows(set, st, health),
		Health: healthSnapshot(cfg, set, st, health),
	}, tablewrap.Options{Timeout: cfg.Tables.Timeout, MaxConcurrent: cfg.Tables.MaxConcurrent})
	return ts.Plugins(), nil
}

// ruleRows lists every loaded, disabled or rejected rule with the store's
// alert counts and the engine's suppression counts.
func ruleRows(set *rules.Set, st *store.Store, health *Health) detectionrules.Source {
	return func(ctx context.Context) ([]detectionrules.Rule, error) {
		counts, err := st.RuleAlertCounts(ctx)
		if err != nil {
			return nil, err
		}
		perRule := health.Snapshot().Engine.PerRule
		out := make([]detectionrules.Rule, 0, len(set.Status))
		for _, s := range set.Status {
			c := counts[s.Meta.ID]
			out = append(out, detectionrules.Rule{
				ID: s.Meta.ID, Name: s.Meta.Name, Type: s.Meta.Type, Language: s.Meta.Language,
				Severity: s.Meta.Severity, RiskScore: s.Meta.RiskScore,
				Enabled: s.Enabled && !s.Rejected, Source: s.Meta.Source,
				Alerts: c.Count, LastAlertTime: c.LastTime,
				Suppressed: perRule[s.Meta.ID].Suppressed,
				Error:      s.Error,
			})
		}
		return out, nil
	}
}

// healthSnapshot renders the runner's health for detection_health.
func healthSnapshot(cfg config.Config, set *rules.Set, st *store.Store, health *Health) detectionhealth.SnapshotFunc {
	return func(ctx context.Context) (detectionhealth.Snapshot, error) {
		h := health.Snapshot()
		snap := detectionhealth.Snapshot{
			Taken: time.Now(),
			Extension: detectionhealth.Extension{
				Version: Version, StartedAt: h.StartedAt, HostID: h.HostID, ConfigPath: cfg.Path,
				CoreReachable: h.CoreReachable, Registered: h.Registered, Registrations: h.Registrations,
				LastCoreError: h.LastCoreError, EventsExpiry: h.EventsExpiry,
			},
			Engine: detectionhealth.Engine{
				RulesEnabled:     len(set.Rules),
				RulesRejected:    len(set.Rejected()),
				EventsProcessed:  h.Engine.Events,
				AlertsEmitted:    h.Engine.Alerts,
				AlertsSuppressed: h.Engine.Suppressed,
				PendingSequences: h.Engine.PendingSequences,
				DroppedSequences: h.Engine.DroppedSequences,
				ProcessCacheSize: h.Engine.Normalize.CacheSize,
				Terms:            h.Engine.Terms,
				RowsRejected:     h.RowsRejected,
				LastRejectReason: h.LastRejectError,
			},
			Store: detectionhealth.Store{
				Path: st.Path(), Recovered: h.StoreRecovery != "", RecoveryReason: h.StoreRecovery,
				Commits: h.Commits, CommitErrors: h.CommitErrors, LastCommitError: h.LastCommitError,
				AlertsPruned: h.AlertsPruned, Durable: durableSummary, RestoreError: h.StateRestoreError,
			},
			Warnings: h.Warnings,
		}
		if info, err := st.Info(ctx); err == nil {
			snap.Store.Alerts, snap.Store.SizeBytes = info.Alerts, info.SizeBytes
		}
		for _, s := range h.Sources {
			snap.Sources = append(snap.Sources, detectionhealth.Source{
				Table: s.Table, EventsEnabled: s.EventsEnabled, EventsProblem: s.EventsProblem,
				RowsRead: s.RowsRead, RowsDelivered: s.RowsDelivered, Malformed: s.Malformed,
				Polls: s.Polls, Errors: s.Errors, LastError: s.LastError, LastPoll: s.LastPoll,
				Cursor: s.Cursor, LagSeconds: s.LagSeconds,
				Quarantined: s.Quarantined, LastQuarantine: s.LastQuarantine,
				StalledSince: s.StalledSince, StallReason: s.StallReason,
			})
		}
		return snap, nil
	}
}
