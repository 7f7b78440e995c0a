package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Host is a host as Fleet names it in live-query results and host lookups.
type Host struct {
	ID          uint   `json:"id"`
	Hostname    string `json:"hostname"`
	DisplayName string `json:"display_name,omitempty"`
	UUID        string `json:"uuid,omitempty"`
	Serial      string `json:"hardware_serial,omitempty"`
	Platform    string `json:"platform,omitempty"`
	Status      string `json:"status,omitempty"` // online, offline, mia, new
}

// Name is the display name when Fleet has one, else the hostname.
func (h Host) Name() string {
	if h.DisplayName != "" {
		return h.DisplayName
	}
	return h.Hostname
}

// Label is a Fleet label.
type Label struct {
	ID   uint   `json:"id"`
	Name string `json:"name"`
}

// Team is a Fleet team (called a fleet by newer Fleet releases).
type Team struct {
	ID   uint   `json:"id"`
	Name string `json:"name"`
}

// CampaignMetrics counts a campaign's targets when it was created. Fleet
// encodes this struct without json tags, hence the capitalized keys.
type CampaignMetrics struct {
	TotalHosts           uint `json:"TotalHosts"`
	OnlineHosts          uint `json:"OnlineHosts"`
	OfflineHosts         uint `json:"OfflineHosts"`
	MissingInActionHosts uint `json:"MissingInActionHosts"`
	NewHosts             uint `json:"NewHosts"`
}

// Campaign is a live-query campaign: one SQL statement sent to a set of
// hosts, whose answers stream over the results websocket.
type Campaign struct {
	ID      uint            `json:"id"`
	QueryID uint            `json:"query_id"`
	Status  int             `json:"status"`
	UserID  uint            `json:"user_id"`
	Metrics CampaignMetrics `json:"Metrics"`
}

// TargetIDs selects hosts by Fleet ids. Hosts, labels and teams add up.
type TargetIDs struct {
	Hosts  []uint `json:"hosts"`
	Labels []uint `json:"labels"`
	Teams  []uint `json:"teams"`
}

// TargetNames selects hosts by identifier (hostname, UUID or hardware
// serial) and labels by name. Hosts and labels add up.
type TargetNames struct {
	Hosts  []string `json:"hosts"`
	Labels []string `json:"labels"`
}

type campaignRequest struct {
	Query    string `json:"query"`
	QueryID  *uint  `json:"query_id"`
	Selected any    `json:"selected"`
}

type campaignResponse struct {
	Campaign *Campaign `json:"campaign"`
}

// CreateCampaign starts a live query of sql on the hosts, labels and teams
// given by id (POST /queries/run). Its results must be read with
// StreamCampaign within a minute or Fleet cancels it.
func (c *Client) CreateCampaign(ctx context.Context, sql string, t TargetIDs) (*Campaign, error) {
	t.Hosts, t.Labels, t.Teams = nonNil(t.Hosts), nonNil(t.Labels), nonNil(t.Teams)
	return c.createCampaign(ctx, "/queries/run", "/reports/run", campaignRequest{Query: sql, Selected: t})
}

// CreateCampaignByIdentifiers starts a live query of sql on hosts named by
// identifier and labels named by name (POST /queries/run_by_identifiers), as
// fleetctl query does. Unknown label names are an error from Fleet.
func (c *Client) CreateCampaignByIdentifiers(ctx context.Context, sql string, t TargetNames) (*Campaign, error) {
	t.Hosts, t.Labels = nonNil(t.Hosts), nonNil(t.Labels)
	return c.createCampaign(ctx, "/queries/run_by_identifiers", "/reports/run_by_identifiers", campaignRequest{Query: sql, Selected: t})
}

func (c *Client) createCampaign(ctx context.Context, oldPath, newPath string, req campaignRequest) (*Campaign, error) {
	var resp campaignResponse
	err := c.withFallback("queries", oldPath, newPath, func(p string) error {
		return c.do(ctx, http.MethodPost, p, req, &resp)
	})
	if err != nil {
		return nil, fmt.Errorf("creating live query campaign: %w", err)
	}
	if resp.Campaign == nil || resp.Campaign.ID == 0 {
		return nil, fmt.Errorf("creating live query campaign: answer has no campaign id")
	}
	return resp.Campaign, nil
}

// SavedQueryResult is one host's answer to a synchronous saved-query run.
type SavedQueryResult struct {
	HostID uint    `json:"host_id"`
	Rows   []Row   `json:"rows"`
	Error  *string `json:"error"`
}

// SavedQueryRun is Fleet's answer to RunSavedQuery. Fewer responded than
// targeted hosts means some did not answer before Fleet's REST deadline
// (FLEET_LIVE_QUERY_REST_PERIOD, 25 s by default) or were offline.
type SavedQueryRun struct {
	QueryID            uint               `json:"query_id"`
	TargetedHostCount  int                `json:"targeted_host_count"`
	RespondedHostCount int                `json:"responded_host_count"`
	Results            []SavedQueryResult `json:"results"`
}

// RunSavedQuery runs the saved query id on the given hosts and waits for
// the answers (POST /queries/{id}/run). Observers may run saved queries
// marked observer_can_run, which ad-hoc SQL does not allow.
func (c *Client) RunSavedQuery(ctx context.Context, queryID uint, hostIDs []uint) (*SavedQueryRun, error) {
	id := strconv.FormatUint(uint64(queryID), 10)
	body := map[string][]uint{"host_ids": nonNil(hostIDs)}
	var out SavedQueryRun
	err := c.withFallback("queries", "/queries/"+id+"/run", "/reports/"+id+"/run", func(p string) error {
		return c.do(ctx, http.MethodPost, p, body, &out)
	})
	if err != nil {
		return nil, fmt.Errorf("running saved query %d: %w", queryID, err)
	}
	return &out, nil
}

// ListTeams lists the teams the token's user can see (GET /teams, or
// /fleets on servers that dropped the old name).
func (c *Client) ListTeams(ctx context.Context) ([]Team, error) {
	var out struct {
		Teams  []Team `json:"teams"`
		Fleets []Team `json:"fleets"`
	}
	err := c.withFallback("teams", "/teams?per_page=10000", "/fleets?per_page=10000", func(p string) error {
		return c.getQuery(ctx, p, &out)
	})
	if err != nil {
		return nil, fmt.Errorf("listing teams: %w", err)
	}
	return append(out.Teams, out.Fleets...), nil
}

// ListLabels lists the labels the token's user can see.
func (c *Client) ListLabels(ctx context.Context) ([]Label, error) {
	var out struct {
		Labels []Label `json:"labels"`
	}
	if err := c.getQuery(ctx, "/labels?per_page=10000", &out); err != nil {
		return nil, fmt.Errorf("listing labels: %w", err)
	}
	return out.Labels, nil
}

// HostByIdentifier finds a host by hostname, UUID, hardware serial,
// osquery host id or node key (Fleet matches all five: HostByIdentifier in
// fleetdm/fleet server/datastore/mysql/hosts.go). No such host is an error
// matching ErrNotFound.
func (c *Client) HostByIdentifier(ctx context.Context, identifier string) (*Host, error) {
	var out struct {
		Host *Host `json:"host"`
	}
	if err := c.do(ctx, http.MethodGet, "/hosts/identifier/"+url.PathEscape(identifier), nil, &out); err != nil {
		return nil, fmt.Errorf("looking up host %q: %w", identifier, err)
	}
	if out.Host == nil {
		return nil, fmt.Errorf("looking up host %q: answer has no host", identifier)
	}
	return out.Host, nil
}

// getQuery is a GET whose path may carry a query string.
func (c *Client) getQuery(ctx context.Context, pathAndQuery string, out any) error {
	return c.do(ctx, http.MethodGet, pathAndQuery, nil, out)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Row is one result row. osquery answers every column as a string; numbers,
// booleans and nulls a server or proxy may turn them into are read back as
// text ("" for null), so no row is rejected for its value types.
type Row map[string]string

// UnmarshalJSON reads an object of scalars.
func (r *Row) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	m := make(Row, len(raw))
	for k, v := range raw {
		var s string
		if len(v) > 0 && v[0] == '"' {
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("column %q: %w", k, err)
			}
		} else if string(v) != "null" {
			s = string(v)
		}
		m[k] = s
	}
	*r = m
	return nil
}
