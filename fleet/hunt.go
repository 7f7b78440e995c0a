package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Targets names the hosts a hunt runs on. Hosts, labels and teams add up
// (Fleet takes their union).
type Targets struct {
	// Hosts are identifiers Fleet's host lookup accepts: hostname, UUID,
	// hardware serial, osquery host id or node key.
	Hosts  []string
	Labels []string // label names
	Teams  []string // team (fleet) names or numeric ids
}

// Empty reports whether no target was given.
func (t Targets) Empty() bool { return len(t.Hosts)+len(t.Labels)+len(t.Teams) == 0 }

// HostStatus is the outcome of one host in a hunt. Its String is the one
// word the progress line, the summary and the JSON summary records use.
type HostStatus int

const (
	// StatusRows: the host answered with at least one row.
	StatusRows HostStatus = iota
	// StatusEmpty: the host answered with no rows.
	StatusEmpty
	// StatusExtensionMissing: the host has no osqdetect tables
	// ("no such table: alerts"): the extension is not loaded there.
	StatusExtensionMissing
	// StatusFailed: the host answered with another error.
	StatusFailed
	// StatusOffline: the host was offline and did not answer.
	StatusOffline
	// StatusTimedOut: the host was online but did not answer in time.
	StatusTimedOut
	// StatusUnknown: no host has the identifier given.
	StatusUnknown
)

// Outcomes lists every HostStatus in summary order.
var Outcomes = []HostStatus{StatusRows, StatusEmpty, StatusExtensionMissing, StatusFailed, StatusOffline, StatusTimedOut, StatusUnknown}

func (s HostStatus) String() string {
	switch s {
	case StatusRows:
		return "rows"
	case StatusEmpty:
		return "empty"
	case StatusExtensionMissing:
		return "extension missing"
	case StatusFailed:
		return "failed"
	case StatusOffline:
		return "offline"
	case StatusTimedOut:
		return "timed out"
	case StatusUnknown:
		return "unknown"
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// Answered reports whether the status is a full answer: rows or an empty
// result.
func (s HostStatus) Answered() bool { return s == StatusRows || s == StatusEmpty }

// HostResult is one host's answer, handed to HuntOptions.OnResult.
type HostResult struct {
	Host   Host
	Status HostStatus
	Rows   []Row // server-added host_hostname and host_display_name removed
	Error  string
}

// HostOutcome is what the summary keeps of a host (no rows). Identifiers
// are the --hosts values that named it, as typed.
type HostOutcome struct {
	Host        Host
	Identifiers []string
	Status      HostStatus
	Rows        int
	Error       string
}

// Progress is the state of a hunt while hosts answer.
type Progress struct {
	Targeted uint // hosts Fleet resolved the targets to
	Online   uint // of those, online when the hunt started
	Offline  uint // offline or missing in action
	Answered uint // hosts that answered, whatever the answer
	// ByStatus counts the answers so far by outcome (rows, empty,
	// extension missing, failed).
	ByStatus [StatusUnknown + 1]uint
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
	// Hosts lists every host that answered, in answer order, then the
	// hosts named by identifier that did not answer (offline or timed
	// out), then the identifiers no host has (unknown).
	Hosts []HostOutcome
	// Silent is the number of targeted hosts that did not answer.
	Silent uint
	// SilentOffline and SilentTimedOut split Silent: hosts offline when
	// the hunt started, and online hosts that did not answer in time.
	SilentOffline, SilentTimedOut uint
	// TimedOut is set when the hunt hit its timeout with hosts outstanding.
	TimedOut bool
	// Unknown lists the identifiers that match no host.
	Unknown []string
	// StreamErrors holds the server's "error" messages and malformed
	// messages, in order.
	StreamErrors []string
}

// Count returns how many hosts had outcome st. Offline and timed-out hosts
// are counted whether or not they were named; unknown counts identifiers.
func (s *HuntSummary) Count(st HostStatus) int {
	switch st {
	case StatusOffline:
		return int(s.SilentOffline)
	case StatusTimedOut:
		return int(s.SilentTimedOut)
	case StatusUnknown:
		return len(s.Unknown)
	}
	return int(s.ByStatus[st])
}

// Complete reports whether every targeted host, and every identifier
// given, answered with rows or an empty result, and the result stream had
// no error.
func (s *HuntSummary) Complete() bool {
	if s.Silent > 0 || len(s.Unknown) > 0 || len(s.StreamErrors) > 0 || s.Targeted == 0 {
		return false
	}
	for _, h := range s.Hosts {
		if !h.Status.Answered() {
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
		return nil, errors.New("no SQL given")
	}
	if o.Targets.Empty() {
		return nil, errors.New("no hosts, labels or teams given")
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	named, unknown, err := c.resolveHosts(ctx, o.Targets.Hosts)
	if err != nil {
		return nil, err
	}
	if len(named) == 0 && len(o.Targets.Labels)+len(o.Targets.Teams) == 0 {
		return &HuntSummary{Unknown: unknown}, fmt.Errorf("no host has the identifier %s", strings.Join(quoteAll(unknown), ", "))
	}
	camp, err := c.startCampaign(ctx, o.SQL, o.Targets, named)
	if err != nil {
		return nil, err
	}
	stream, err := c.StreamCampaign(ctx, camp.ID)
	if err != nil {
		return nil, err
	}
	defer stream.Close()

	h := hunt{opts: o, sum: &HuntSummary{CampaignID: camp.ID, Unknown: unknown}, seen: map[uint]bool{}, named: named}
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
				return h.finish(), ctx.Err()
			}
			if errors.Is(err, ErrStreamClosed) {
				if h.sum.Answered == 0 && len(h.sum.StreamErrors) > 0 {
					// Nothing arrived and Fleet said why: the hunt did not run.
					last := h.sum.StreamErrors[len(h.sum.StreamErrors)-1]
					return h.finish(), fmt.Errorf("results stream closed by Fleet: %s", last)
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
				return nil, err
			}
			h.sum.StreamErrors = append(h.sum.StreamErrors, err.Error())
			break
		}
		h.handle(msg)
	}
	return h.finish(), nil
}

// namedHost is a host given by identifier, with every identifier that
// named it.
type namedHost struct {
	host   Host
	idents []string
}

// maxLookups bounds concurrent host lookups.
const maxLookups = 8

// resolveHosts looks every identifier up before the campaign, as Fleet's
// by-identifier campaign silently drops the ones that match no host. It
// returns the hosts found, in the order first named, and the identifiers
// no host has.
func (c *Client) resolveHosts(ctx context.Context, idents []string) ([]*namedHost, []string, error) {
	type lookup struct {
		host *Host
		err  error
	}
	found := make([]lookup, len(idents))
	sem := make(chan struct{}, maxLookups)
	var wg sync.WaitGroup
	for i, ident := range idents {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			found[i].host, found[i].err = c.HostByIdentifier(ctx, ident)
		}()
	}
	wg.Wait()
	var named []*namedHost
	byID := map[uint]*namedHost{}
	var unknown []string
	for i, ident := range idents {
		switch l := found[i]; {
		case errors.Is(l.err, ErrNotFound):
			if !slices.Contains(unknown, ident) {
				unknown = append(unknown, ident)
			}
		case l.err != nil:
			return nil, nil, l.err
		default:
			n := byID[l.host.ID]
			if n == nil {
				n = &namedHost{host: *l.host}
				byID[l.host.ID] = n
				named = append(named, n)
			}
			if !slices.Contains(n.idents, ident) {
				n.idents = append(n.idents, ident)
			}
		}
	}
	return named, unknown, nil
}

func quoteAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strconv.Quote(s)
	}
	return out
}

// startCampaign creates the campaign: by identifiers (what fleetctl uses)
// when only labels are given, otherwise by ids, with the hosts already
// resolved (teams are only accepted in the id form).
func (c *Client) startCampaign(ctx context.Context, sql string, t Targets, named []*namedHost) (*Campaign, error) {
	if len(t.Teams) == 0 && len(t.Hosts) == 0 {
		return c.CreateCampaignByIdentifiers(ctx, sql, TargetNames{Labels: t.Labels})
	}
	ids, err := c.resolveTargets(ctx, Targets{Labels: t.Labels, Teams: t.Teams})
	if err != nil {
		return nil, err
	}
	for _, n := range named {
		ids.Hosts = append(ids.Hosts, n.host.ID)
	}
	return c.CreateCampaign(ctx, sql, ids)
}

// resolveTargets turns label and team names into Fleet ids for the id
// form of a campaign.
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
	named      []*namedHost
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
		hr.Status = StatusFailed
	case len(hr.Rows) == 0:
		hr.Status = StatusEmpty
	default:
		hr.Status = StatusRows
	}
	s.ByStatus[hr.Status]++
	s.Rows += uint(len(hr.Rows))
	var idents []string
	for _, n := range h.named {
		if n.host.ID == r.Host.ID {
			idents = n.idents
		}
	}
	s.Hosts = append(s.Hosts, HostOutcome{Host: r.Host, Identifiers: idents, Status: hr.Status, Rows: len(hr.Rows), Error: hr.Error})
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
	s.SilentOffline = min(s.Offline, s.Silent)
	s.SilentTimedOut = s.Silent - s.SilentOffline
	// Name the hosts given by identifier that did not answer; Fleet's
	// lookup said whether each was online.
	for _, n := range h.named {
		if h.seen[n.host.ID] {
			continue
		}
		st := StatusTimedOut
		if n.host.Status == "offline" || n.host.Status == "mia" {
			st = StatusOffline
		}
		s.Hosts = append(s.Hosts, HostOutcome{Host: n.host, Identifiers: n.idents, Status: st})
	}
	for _, ident := range s.Unknown {
		s.Hosts = append(s.Hosts, HostOutcome{Identifiers: []string{ident}, Status: StatusUnknown})
	}
	return s
}
