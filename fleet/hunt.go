package fleet

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Targets names the hosts a hunt runs on. Hosts, labels and teams add up
// (Fleet takes their union).
type Targets struct {
	Hosts  []string // hostnames, UUIDs or hardware serials
	Labels []string // label names
	Teams  []string // team (fleet) names or numeric ids
}

// Empty reports whether no target was given.
func (t Targets) Empty() bool { return len(t.Hosts)+len(t.Labels)+len(t.Teams) == 0 }

// HostStatus says how one host answered.
type HostStatus int

const (
	// StatusRows: the host answered with at least one row.
	StatusRows HostStatus = iota
	// StatusEmpty: the host answered with no rows.
	StatusEmpty
	// StatusExtensionMissing: the host has no osqdetect tables
	// ("no such table: alerts"): the extension is not loaded there.
	StatusExtensionMissing
	// StatusError: the host answered with another error.
	StatusError
)

func (s HostStatus) String() string {
	switch s {
	case StatusRows:
		return "rows"
	case StatusEmpty:
		return "empty"
	case StatusExtensionMissing:
		return "extension missing"
	case StatusError:
		return "error"
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// HostResult is one host's answer, handed to HuntOptions.OnResult.
type HostResult struct {
	Host   Host
	Status HostStatus
	Rows   []Row // server-added host_hostname and host_display_name removed
	Error  string
}

// HostOutcome is what the summary keeps of a host's answer (no rows).
type HostOutcome struct {
	Host   Host
	Status HostStatus
	Rows   int
	Error  string
}

// Progress is the state of a hunt while hosts answer.
type Progress struct {
	Targeted uint // hosts Fleet resolved the targets to
	Online   uint // of those, online when the hunt started
	Offline  uint // offline or missing in action
	Answered uint
	Errors   uint // answers with an error, extension missing included
}

// HuntOptions configures Hunt.
type HuntOptions struct {
	SQL     string
	Targets Targets
	// Timeout bounds the whole hunt; hosts that have not answered by then
	// are reported as timed out or offline. Zero means 60 s.
	Timeout time.Duration
	// WaitForOffline keeps waiting, until Timeout, for hosts that were
	// offline when the hunt started. By default the hunt ends once every
	// host that was online has answered.
	WaitForOffline bool
	// OnResult gets each host's answer as it arrives, from the goroutine
	// that called Hunt. Rows are not kept after it returns.
	OnResult func(HostResult)
	// OnProgress is called after every message that changes Progress.
	OnProgress func(Progress)
}

// HuntSummary is the outcome of a hunt.
type HuntSummary struct {
	CampaignID uint
	Progress
	Rows uint // rows over all hosts
	// Hosts lists every host that answered, in answer order.
	Hosts []HostOutcome
	// Silent is the number of targeted hosts that did not answer.
	Silent uint
	// TimedOut is set when the hunt hit its timeout with hosts outstanding.
	TimedOut bool
	// Unanswered names the hosts given by identifier that did not answer
	// (hosts reached through labels or teams are only counted).
	Unanswered []string
	// StreamErrors holds the server's "error" messages and malformed
	// messages, in order.
	StreamErrors []string
}

// Count returns how many answering hosts had status s.
func (s *HuntSummary) Count(st HostStatus) int {
	n := 0
	for _, h := range s.Hosts {
		if h.Status == st {
			n++
		}
	}
	return n
}

// Complete reports whether every targeted host answered without error.
func (s *HuntSummary) Complete() bool {
	if s.Silent > 0 || len(s.StreamErrors) > 0 || s.Targeted == 0 {
		return false
	}
	for _, h := range s.Hosts {
		if h.Status == StatusExtensionMissing || h.Status == StatusError {
			return false
		}
	}
	return true
}

// osqdetectTables are the tables whose absence means the extension is not
// running on a host.
var osqdetectTables = []string{"alerts", "detection_rules", "detection_health"}

// ExtensionMissing reports whether a host's error says an osqdetect table
// does not exist there.
func ExtensionMissing(hostError string) bool {
	i := strings.Index(hostError, "no such table: ")
	if i < 0 {
		return false
	}
	rest := hostError[i+len("no such table: "):]
	for _, t := range osqdetectTables {
		if strings.HasPrefix(rest, t) && (len(rest) == len(t) || !isIdentByte(rest[len(t)])) {
			return true
		}
	}
	return false
}

func isIdentByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// Hunt runs SQL on the targets through a live-query campaign and streams
// the answers. It tolerates offline hosts, hosts without the extension,
// slow hosts and server error messages: those end up in the summary. It
// returns an error only when the hunt could not run (bad credentials, unknown
// label, no host targeted, websocket unusable or closed by Fleet before any
// answer); the summary is then nil, or holds what was learnt.
func (c *Client) Hunt(ctx context.Context, o HuntOptions) (*HuntSummary, error) {
	if strings.TrimSpace(o.SQL) == "" {
		return nil, errors.New("hunt: no SQL given")
	}
	if o.Targets.Empty() {
		return nil, errors.New("hunt: no hosts, labels or teams given")
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	camp, err := c.startCampaign(ctx, o.SQL, o.Targets)
	if err != nil {
		return nil, err
	}
	stream, err := c.StreamCampaign(ctx, camp.ID)
	if err != nil {
		return nil, fmt.Errorf("hunt: %w", err)
	}
	defer stream.Close()

	h := hunt{opts: o, sum: &HuntSummary{CampaignID: camp.ID}, seen: map[uint]bool{}}
	// The campaign's metrics seed the totals until the stream sends its own.
	h.sum.Targeted = camp.Metrics.TotalHosts
	h.sum.Online = camp.Metrics.OnlineHosts
	h.sum.Offline = camp.Metrics.OfflineHosts + camp.Metrics.MissingInActionHosts
	h.haveTotals = camp.Metrics.TotalHosts > 0

	for !h.done() {
		msg, err := stream.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					h.sum.TimedOut = true
					break
				}
				return h.finish(), fmt.Errorf("hunt: %w", ctx.Err())
			}
			if errors.Is(err, ErrStreamClosed) {
				if h.sum.Answered == 0 && len(h.sum.StreamErrors) > 0 {
					// Nothing arrived and Fleet said why: the hunt did not run.
					last := h.sum.StreamErrors[len(h.sum.StreamErrors)-1]
					return h.finish(), fmt.Errorf("hunt: Fleet closed the results stream: %s", last)
				}
				break
			}
			var me *MessageError
			if errors.As(err, &me) {
				// One malformed message: note it and keep reading.
				h.sum.StreamErrors = append(h.sum.StreamErrors, err.Error())
				continue
			}
			if h.sum.Answered == 0 {
				return nil, fmt.Errorf("hunt: %w", err)
			}
			h.sum.StreamErrors = append(h.sum.StreamErrors, err.Error())
			break
		}
		h.handle(msg)
	}
	return h.finish(), nil
}

// startCampaign creates the campaign in the form the targets need: by
// identifiers (what fleetctl uses) unless teams are given, which only the
// id form accepts.
func (c *Client) startCampaign(ctx context.Context, sql string, t Targets) (*Campaign, error) {
	if len(t.Teams) == 0 {
		camp, err := c.CreateCampaignByIdentifiers(ctx, sql, TargetNames{Hosts: t.Hosts, Labels: t.Labels})
		if err != nil {
			return nil, fmt.Errorf("hunt: %w", err)
		}
		return camp, nil
	}
	ids, err := c.resolveTargets(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("hunt: %w", err)
	}
	camp, err := c.CreateCampaign(ctx, sql, ids)
	if err != nil {
		return nil, fmt.Errorf("hunt: %w", err)
	}
	return camp, nil
}

// resolveTargets turns names into Fleet ids for the id form of a campaign.
func (c *Client) resolveTargets(ctx context.Context, t Targets) (TargetIDs, error) {
	var ids TargetIDs
	if len(t.Teams) > 0 {
		var teams []Team
		for _, name := range t.Teams {
			if id, err := strconv.ParseUint(name, 10, 32); err == nil {
				ids.Teams = append(ids.Teams, uint(id))
				continue
			}
			if teams == nil {
				var err error
				if teams, err = c.ListTeams(ctx); err != nil {
					return ids, err
				}
			}
			id, ok := findByName(teams, name, func(x Team) (uint, string) { return x.ID, x.Name })
			if !ok {
				return ids, fmt.Errorf("no team named %q", name)
			}
			ids.Teams = append(ids.Teams, id)
		}
	}
	if len(t.Labels) > 0 {
		labels, err := c.ListLabels(ctx)
		if err != nil {
			return ids, err
		}
		for _, name := range t.Labels {
			id, ok := findByName(labels, name, func(x Label) (uint, string) { return x.ID, x.Name })
			if !ok {
				return ids, fmt.Errorf("no label named %q", name)
			}
			ids.Labels = append(ids.Labels, id)
		}
	}
	for _, ident := range t.Hosts {
		h, err := c.HostByIdentifier(ctx, ident)
		if err != nil {
			return ids, err
		}
		ids.Hosts = append(ids.Hosts, h.ID)
	}
	return ids, nil
}

func findByName[T any](items []T, name string, get func(T) (uint, string)) (uint, bool) {
	for _, it := range items {
		if id, n := get(it); n == name {
			return id, true
		}
	}
	for _, it := range items {
		if id, n := get(it); strings.EqualFold(n, name) {
			return id, true
		}
	}
	return 0, false
}

type hunt struct {
	opts       HuntOptions
	sum        *HuntSummary
	seen       map[uint]bool
	haveTotals bool
	finished   bool // the server said every online host answered
}

func (h *hunt) done() bool {
	s := h.sum
	if !h.haveTotals {
		return false
	}
	if s.Answered >= s.Targeted {
		return true
	}
	if h.opts.WaitForOffline {
		return false
	}
	return h.finished || s.Answered >= s.Online
}

func (h *hunt) handle(m Message) {
	s := h.sum
	switch {
	case m.Totals != nil:
		s.Targeted, s.Online = m.Totals.Count, m.Totals.Online
		s.Offline = m.Totals.Offline + m.Totals.MissingInAction
		h.haveTotals = true
	case m.Status != nil:
		h.finished = m.Status.Status == "finished" && s.Answered >= m.Status.ExpectedResults
	case m.Result != nil:
		h.result(m.Result)
	case m.Type == "error":
		s.StreamErrors = append(s.StreamErrors, m.Error)
	default:
		return
	}
	if h.opts.OnProgress != nil {
		h.opts.OnProgress(s.Progress)
	}
}

func (h *hunt) result(r *Result) {
	s := h.sum
	if h.seen[r.Host.ID] {
		return // a repeated answer from one host counts once
	}
	h.seen[r.Host.ID] = true
	s.Answered++
	hr := HostResult{Host: r.Host, Rows: r.Rows}
	if r.Error != nil && *r.Error != "" {
		hr.Error = *r.Error
	}
	for _, row := range hr.Rows {
		delete(row, "host_hostname")
		delete(row, "host_display_name")
	}
	switch {
	case hr.Error != "" && ExtensionMissing(hr.Error):
		hr.Status = StatusExtensionMissing
	case hr.Error != "":
		hr.Status = StatusError
	case len(hr.Rows) == 0:
		hr.Status = StatusEmpty
	default:
		hr.Status = StatusRows
	}
	if hr.Error != "" {
		s.Errors++
	}
	s.Rows += uint(len(hr.Rows))
	s.Hosts = append(s.Hosts, HostOutcome{Host: r.Host, Status: hr.Status, Rows: len(hr.Rows), Error: hr.Error})
	if h.opts.OnResult != nil {
		h.opts.OnResult(hr)
	}
}

func (h *hunt) finish() *HuntSummary {
	s := h.sum
	if s.Targeted > s.Answered {
		s.Silent = s.Targeted - s.Answered
	}
	if s.Silent == 0 {
		s.TimedOut = false
	}
	// Name the hosts asked for by identifier that stayed silent.
	if s.Silent > 0 {
		answered := make(map[string]bool, 3*len(s.Hosts))
		for _, o := range s.Hosts {
			answered[o.Host.Hostname] = true
			answered[o.Host.DisplayName] = true
			answered[o.Host.UUID] = true
			answered[strconv.FormatUint(uint64(o.Host.ID), 10)] = true
		}
		for _, ident := range h.opts.Targets.Hosts {
			if !answered[ident] {
				s.Unanswered = append(s.Unanswered, ident)
			}
		}
		sort.Strings(s.Unanswered)
	}
	return s
}
