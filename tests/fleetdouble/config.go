package fleetdouble

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file is the configuration side of the double: what `fleetctl apply
// -f` and `fleetctl gitops -f` do to a Fleet server with labels, queries
// and policies, and which hosts then run them. Each rule is Fleet's own,
// with its source:
//
//   - fleetctl splits a file on lines starting with "---", and a document
//     without kind and spec is an error (SplitYaml and GroupFromBytes in
//     fleetdm/fleet pkg/spec/spec.go). A document that holds only comments
//     is such a document.
//   - fleetctl apply applies every query of a file, then every label, then
//     the rest, whatever the order of the documents (ApplyGroup in
//     fleetdm/fleet server/service/client.go); a query or policy naming a
//     label Fleet does not have fails ("label not found", HTTP 500, seen on
//     Fleet 4.69).
//   - A dynamic label's query is sent only to hosts whose stored platform
//     equals the label's platform, or to every host when it is empty
//     (LabelQueriesForHost in fleetdm/fleet server/datastore/mysql/labels.go);
//     Fleet stores a Linux host's platform as its distribution, so a label
//     with platform "linux" is accepted and never matches a host (seen on
//     Fleet 4.69).
//   - A query or policy platform is a comma-separated list of families
//     (darwin, windows, linux, chrome); a Linux distribution is family
//     "linux".
//   - fleetctl gitops rejects unknown top-level keys; reports: is known only
//     from Fleet 4.82 (older releases answer "unknown top-level field:
//     reports"); "- path:" is relative to the file that holds it.

type appliedLabel struct {
	id                                    uint
	Name, Query, Platform, MembershipType string
	members                               map[uint]bool
}

type appliedQuery struct {
	Name, Query, Platform, Logging, Team string
	Interval                             int
	AutomationsEnabled, DiscardData      bool
	LabelsIncludeAny                     []string
}

type appliedPolicy struct {
	Name, Query, Platform, Team string
	LabelsIncludeAny            []string
}

type appliedConfig struct {
	labels   []*appliedLabel
	queries  map[string]*appliedQuery
	policies map[string]*appliedPolicy
}

func (a *appliedConfig) label(name string) *appliedLabel {
	for _, l := range a.labels {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// yamlSeparator is fleetctl's document separator.
var yamlSeparator = regexp.MustCompile(`(?m:^---[\t ]*)`)

type specDoc struct {
	Kind string    `yaml:"kind"`
	Spec yaml.Node `yaml:"spec"`
}

type labelFields struct {
	Name           string `yaml:"name"`
	Description    string `yaml:"description"`
	Query          string `yaml:"query"`
	Platform       string `yaml:"platform"`
	MembershipType string `yaml:"label_membership_type"`
}

type queryFields struct {
	Name               string   `yaml:"name"`
	Description        string   `yaml:"description"`
	Query              string   `yaml:"query"`
	Team               string   `yaml:"team"`
	Platform           string   `yaml:"platform"`
	Interval           int      `yaml:"interval"`
	ObserverCanRun     bool     `yaml:"observer_can_run"`
	AutomationsEnabled bool     `yaml:"automations_enabled"`
	Logging            string   `yaml:"logging"`
	DiscardData        bool     `yaml:"discard_data"`
	LabelsIncludeAny   []string `yaml:"labels_include_any"`
}

type policyFields struct {
	Name             string   `yaml:"name"`
	Description      string   `yaml:"description"`
	Resolution       string   `yaml:"resolution"`
	Query            string   `yaml:"query"`
	Team             string   `yaml:"team"`
	Platform         string   `yaml:"platform"`
	Critical         bool     `yaml:"critical"`
	LabelsIncludeAny []string `yaml:"labels_include_any"`
}

// Apply does what `fleetctl apply -f` does with the file's contents.
func (s *Server) Apply(file []byte) error {
	var queries []queryFields
	var labels []labelFields
	var policies []policyFields
	for _, chunk := range yamlSeparator.Split(string(file), -1) {
		chunk = strings.TrimSpace(chunk)
		if chunk == "" {
			continue
		}
		var d specDoc
		if err := yaml.Unmarshal([]byte(chunk), &d); err != nil {
			return fmt.Errorf("failed to unmarshal spec item %w: \n%s", err, chunk)
		}
		if d.Spec.Kind == 0 {
			// fleetctl's own words, capital and full stop included.
			if d.Kind == "" {
				//lint:ignore ST1005 fleetctl's message, verbatim
				return errors.New(`Missing required fields ("spec", "kind") on provided configuration.`)
			}
			//lint:ignore ST1005 fleetctl's message, verbatim
			return fmt.Errorf(`Missing required fields ("spec") on provided %q configuration.`, d.Kind)
		}
		var err error
		switch strings.ToLower(d.Kind) {
		case "query", "report":
			var q queryFields
			err = d.Spec.Decode(&q)
			queries = append(queries, q)
		case "label":
			var l labelFields
			err = d.Spec.Decode(&l)
			labels = append(labels, l)
		case "policy":
			var p policyFields
			err = d.Spec.Decode(&p)
			policies = append(policies, p)
		default:
			return fmt.Errorf("unknown kind %q", d.Kind)
		}
		if err != nil {
			return fmt.Errorf("unmarshaling %s spec: %w", d.Kind, err)
		}
	}
	// fleetctl's order, not the file's.
	if len(queries) > 0 {
		if err := s.applyQueries(queries); err != nil {
			return fmt.Errorf("applying queries: %w", err)
		}
	}
	if len(labels) > 0 {
		s.applyLabels(labels)
	}
	if len(policies) > 0 {
		if err := s.applyPolicies(policies); err != nil {
			return fmt.Errorf("applying policies: %w", err)
		}
	}
	return nil
}

func (s *Server) teamExists(name string) bool {
	if name == "" {
		return true
	}
	for _, t := range s.cfg.Teams {
		if t.Name == name {
			return true
		}
	}
	return false
}

func (s *Server) checkLabels(names []string) error {
	for _, n := range names {
		if !s.labelExists(n) {
			return fmt.Errorf("POST /api/latest/fleet/spec/queries: 500 Internal Server Error: label %q not found", n)
		}
	}
	return nil
}

func (s *Server) applyQueries(qs []queryFields) error {
	for _, q := range qs {
		if q.Name == "" || q.Query == "" {
			return errors.New("422 Validation Failed: query name and query are required")
		}
		if !s.teamExists(q.Team) {
			return fmt.Errorf("404 Not Found: team %q", q.Team)
		}
		if err := s.checkLabels(q.LabelsIncludeAny); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.applied.queries == nil {
		s.applied.queries = map[string]*appliedQuery{}
	}
	for _, q := range qs {
		s.applied.queries[q.Name] = &appliedQuery{
			Name: q.Name, Query: q.Query, Platform: q.Platform, Logging: q.Logging, Team: q.Team,
			Interval: q.Interval, AutomationsEnabled: q.AutomationsEnabled, DiscardData: q.DiscardData,
			LabelsIncludeAny: q.LabelsIncludeAny,
		}
	}
	return nil
}

func (s *Server) applyLabels(ls []labelFields) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range ls {
		// Fleet takes any platform string here without a warning.
		if old := s.applied.label(l.Name); old != nil {
			old.Query, old.Platform, old.MembershipType = l.Query, l.Platform, l.MembershipType
			continue
		}
		s.applied.labels = append(s.applied.labels, &appliedLabel{
			id: uint(1000 + len(s.applied.labels)), Name: l.Name, Query: l.Query, Platform: l.Platform,
			MembershipType: l.MembershipType, members: map[uint]bool{},
		})
	}
}

func (s *Server) applyPolicies(ps []policyFields) error {
	for _, p := range ps {
		if !s.teamExists(p.Team) {
			return fmt.Errorf("404 Not Found: team %q", p.Team)
		}
		if err := s.checkLabels(p.LabelsIncludeAny); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.applied.policies == nil {
		s.applied.policies = map[string]*appliedPolicy{}
	}
	for _, p := range ps {
		s.applied.policies[p.Name] = &appliedPolicy{Name: p.Name, Query: p.Query, Platform: p.Platform, Team: p.Team, LabelsIncludeAny: p.LabelsIncludeAny}
	}
	return nil
}

// gitopsKeys are the top-level keys of a GitOps file every Fleet release
// here knows; gitopsNewKeys are the ones Fleet 4.82 added.
var (
	gitopsKeys    = []string{"name", "org_settings", "team_settings", "agent_options", "controls", "policies", "queries", "software", "labels"}
	gitopsNewKeys = []string{"settings", "reports", "custom_host_vitals"}
)

// GitOps does what `fleetctl gitops -f FILE ...` does with the labels,
// queries (reports) and policies of the files on disk. Other keys are
// checked for being known and otherwise ignored.
func (s *Server) GitOps(files ...string) error {
	var labels []labelFields
	var queries []queryFields
	var policies []policyFields
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		var top map[string]yaml.Node
		if err := yaml.Unmarshal(b, &top); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		known := append([]string(nil), gitopsKeys...)
		if s.cfg.GitOpsReports {
			known = append(known, gitopsNewKeys...)
		}
		keys := make([]string, 0, len(top))
		for k := range top {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !contains(known, k) {
				return fmt.Errorf("%s: unknown top-level field: %s", file, k)
			}
		}
		team := ""
		if n, ok := top["name"]; ok {
			team = n.Value
		}
		dir := filepath.Dir(file)
		if n, ok := top["labels"]; ok {
			if err := gitopsItems(dir, &n, &labels); err != nil {
				return fmt.Errorf("%s: labels: %w", file, err)
			}
		}
		for _, key := range []string{"queries", "reports"} {
			if n, ok := top[key]; ok {
				var qs []queryFields
				if err := gitopsItems(dir, &n, &qs); err != nil {
					return fmt.Errorf("%s: %s: %w", file, key, err)
				}
				for i := range qs {
					qs[i].Team = team
				}
				queries = append(queries, qs...)
			}
		}
		if n, ok := top["policies"]; ok {
			var ps []policyFields
			if err := gitopsItems(dir, &n, &ps); err != nil {
				return fmt.Errorf("%s: policies: %w", file, err)
			}
			for i := range ps {
				ps[i].Team = team
			}
			policies = append(policies, ps...)
		}
	}
	// GitOps creates labels first, then the rest.
	s.applyLabels(labels)
	if err := s.applyQueries(queries); err != nil {
		return err
	}
	return s.applyPolicies(policies)
}

// gitopsItems reads a list whose items are either inline or "- path: X",
// X relative to dir, a file holding a list of items.
func gitopsItems[T any](dir string, n *yaml.Node, out *[]T) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // an empty key: no items
	}
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: expected a list", n.Line)
	}
	for _, item := range n.Content {
		var ref struct {
			Path string `yaml:"path"`
		}
		if item.Kind == yaml.MappingNode && len(item.Content) == 2 && item.Content[0].Value == "path" {
			if err := item.Decode(&ref); err != nil {
				return err
			}
			p := filepath.Join(dir, ref.Path)
			b, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("failed to read %s: %w", ref.Path, err)
			}
			var list []T
			if err := yaml.Unmarshal(b, &list); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			*out = append(*out, list...)
			continue
		}
		var v T
		if err := item.Decode(&v); err != nil {
			return err
		}
		*out = append(*out, v)
	}
	return nil
}

// platform is the host's platform as Fleet stores it.
func (h *Host) platform() string {
	if h.Platform == "" {
		return "ubuntu"
	}
	return h.Platform
}

// family is the platform family a query's platform list names.
func (h *Host) family() string {
	switch p := h.platform(); p {
	case "darwin", "windows", "chrome":
		return p
	}
	return "linux"
}

// labelQueryMatches evaluates a label's SQL on a host. The double knows the
// one shape osqdetect exports: a row from osquery_extensions for the
// osqdetect extension, present when the host runs it.
func labelQueryMatches(h *Host, sql string) bool {
	return strings.Contains(sql, "osquery_extensions") && strings.Contains(sql, "'osqdetect'") && !h.MissingExtension
}

// RefreshLabels runs every applied dynamic label's query on every online
// host it is sent to, as hosts do at osquery.label_update_interval.
func (s *Server) RefreshLabels() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.applied.labels {
		for i := range s.cfg.Hosts {
			h := &s.cfg.Hosts[i]
			if h.Offline {
				continue
			}
			if l.Platform != "" && l.Platform != h.platform() {
				continue // the host is never sent this label's query
			}
			l.members[h.ID] = labelQueryMatches(h, l.Query)
		}
	}
}

// LabelMembers returns the hostnames in an applied label, sorted.
func (s *Server) LabelMembers(name string) []string {
	var out []string
	for i := range s.cfg.Hosts {
		if s.inLabel(&s.cfg.Hosts[i], name) {
			out = append(out, s.cfg.Hosts[i].Hostname)
		}
	}
	sort.Strings(out)
	return out
}

func platformListHas(list, family string) bool {
	if strings.TrimSpace(list) == "" {
		return true
	}
	for _, p := range strings.Split(list, ",") {
		if strings.TrimSpace(p) == family {
			return true
		}
	}
	return false
}

func (s *Server) targets(h *Host, platform string, labels []string) bool {
	if !platformListHas(platform, h.family()) {
		return false
	}
	if len(labels) == 0 {
		return true
	}
	for _, l := range labels {
		if s.inLabel(h, l) {
			return true
		}
	}
	return false
}

// ScheduledFor returns the names of the applied queries Fleet sends to the
// host, sorted, with whether each ships its results to the log destination
// (automations on).
func (s *Server) ScheduledFor(hostname string) map[string]bool {
	out := map[string]bool{}
	for i := range s.cfg.Hosts {
		h := &s.cfg.Hosts[i]
		if h.Hostname != hostname {
			continue
		}
		s.mu.Lock()
		qs := make([]*appliedQuery, 0, len(s.applied.queries))
		for _, q := range s.applied.queries {
			qs = append(qs, q)
		}
		s.mu.Unlock()
		for _, q := range qs {
			if q.Interval > 0 && s.targets(h, q.Platform, q.LabelsIncludeAny) {
				out[q.Name] = q.AutomationsEnabled
			}
		}
	}
	return out
}

// PoliciesFor returns the names of the applied policies Fleet runs on the
// host, sorted.
func (s *Server) PoliciesFor(hostname string) []string {
	var out []string
	for i := range s.cfg.Hosts {
		h := &s.cfg.Hosts[i]
		if h.Hostname != hostname {
			continue
		}
		s.mu.Lock()
		ps := make([]*appliedPolicy, 0, len(s.applied.policies))
		for _, p := range s.applied.policies {
			ps = append(ps, p)
		}
		s.mu.Unlock()
		for _, p := range ps {
			if s.targets(h, p.Platform, p.LabelsIncludeAny) {
				out = append(out, p.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}
