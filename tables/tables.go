// Package tables assembles the osquery tables osqdetect serves: alerts,
// detection_rules and detection_health. Each lives in its own package
// with its columns next to its generate function; all are built through
// tablewrap, which bounds every read with a timeout and a worker cap and
// recovers panics.
//
// The runtime builds them once and registers Plugins() with the extension
// server before it starts:
//
//	set := tables.New(tables.Sources{Alerts: st, Rules: ruleRows, Health: snapshot},
//		tablewrap.Options{Timeout: cfg.Tables.Timeout, MaxConcurrent: cfg.Tables.MaxConcurrent})
//	server.RegisterPlugin(set.Plugins()...)
//
// Specs() is the tables' contract as data, compared with docs in tests.
package tables

import (
	"context"

	osquery "github.com/osquery/osquery-go"

	"github.com/osqdetect/osqdetect/tables/alerts"
	"github.com/osqdetect/osqdetect/tables/detectionhealth"
	"github.com/osqdetect/osqdetect/tables/detectionrules"
	"github.com/osqdetect/osqdetect/tables/tablewrap"
)

// Sources are where the tables read; the runtime provides them.
type Sources struct {
	// Alerts is the alert store (*store.Store).
	Alerts alerts.Source
	// Rules lists every loaded, disabled or rejected rule with its counts.
	Rules detectionrules.Source
	// Health snapshots the pipeline. Its Tables field is filled in by the
	// Set with the tables' own counters.
	Health detectionhealth.SnapshotFunc
}

// Set is the extension's tables.
type Set struct {
	Alerts, Rules, Health *tablewrap.Table
}

// New builds the tables over src with the given guard rails.
func New(src Sources, opts tablewrap.Options) *Set {
	s := &Set{}
	s.Alerts = alerts.New(src.Alerts, opts)
	s.Rules = detectionrules.New(src.Rules, opts)
	s.Health = detectionhealth.New(func(ctx context.Context) (detectionhealth.Snapshot, error) {
		snap, err := src.Health(ctx)
		if err != nil {
			return snap, err
		}
		snap.Tables = append(snap.Tables[:0:0], s.Stats()...)
		return snap, nil
	}, opts)
	return s
}

// Tables lists the tables in registration order.
func (s *Set) Tables() []*tablewrap.Table { return []*tablewrap.Table{s.Alerts, s.Rules, s.Health} }

// Plugins are the osquery plugins to register.
func (s *Set) Plugins() []osquery.OsqueryPlugin {
	var out []osquery.OsqueryPlugin
	for _, t := range s.Tables() {
		out = append(out, t.Plugin())
	}
	return out
}

// Stats returns every table's read counters.
func (s *Set) Stats() []tablewrap.Stats {
	var out []tablewrap.Stats
	for _, t := range s.Tables() {
		out = append(out, t.Stats())
	}
	return out
}

// Specs returns the contract of every table, in registration order.
func Specs() []tablewrap.Spec {
	return []tablewrap.Spec{alerts.Spec(), detectionrules.Spec(), detectionhealth.Spec()}
}
