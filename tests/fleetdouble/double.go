// Package fleetdouble is a stand-in for a Fleet server's live-query API,
// built on net/http/httptest. It speaks the request and answer shapes of
// Fleet's REST API (campaign creation, saved-query runs, labels, teams, host
// lookup, error bodies) and the results websocket protocol (auth,
// select_campaign, then totals, status, result and error messages), with
// simulated hosts that can be online, offline, slow, silent, missing the
// osqdetect extension or failing. Its configuration side (config.go) does
// what fleetctl apply and fleetctl gitops do with labels, queries and
// policies, and which hosts then run them, by Fleet's own rules. It does
// not import the client it tests.
package fleetdouble

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Host is one simulated host.
type Host struct {
	ID          uint
	Hostname    string
	DisplayName string
	UUID        string
	Serial      string
	Labels      []string // label names the host belongs to
	TeamID      uint     // 0: no team
	// Platform is the platform Fleet stores for the host: a Linux host's
	// distribution ("ubuntu", "rhel", "debian", ...), or "darwin",
	// "windows". Empty means "ubuntu".
	Platform string
	// NodeKey and OsqueryHostID are the host's other identifiers Fleet's
	// host lookup accepts.
	NodeKey, OsqueryHostID string

	Offline bool // never answers; counted offline in totals
	// Silent hosts are online but never answer (a host slower than any
	// timeout).
	Silent bool
	// Delay is how long after the campaign starts the host answers.
	Delay time.Duration
	// MissingExtension answers "no such table: alerts".
	MissingExtension bool
	// Error, when set, is the host's answer instead of rows.
	Error string
	// Rows is the host's answer. The double adds host_hostname and
	// host_display_name to each row it sends, as Fleet does.
	Rows []map[string]string
}

// Label is a label known to the double.
type Label struct {
	ID   uint
	Name string
}

// Team is a team known to the double.
type Team struct {
	ID   uint
	Name string
}

// PathStyle chooses which API path names the double serves.
type PathStyle int

const (
	// PathsBoth is current Fleet: /reports and /fleets with the old
	// /queries and /teams kept as aliases.
	PathsBoth PathStyle = iota
	// PathsOldOnly is an older Fleet that only knows /queries and /teams.
	PathsOldOnly
	// PathsNewOnly is a Fleet that dropped the old aliases.
	PathsNewOnly
)

// Config sets up a double.
type Config struct {
	Token  string // the valid API token
	Hosts  []Host
	Labels []Label
	Teams  []Team
	Paths  PathStyle
	// SavedQueries maps saved query ids to their SQL.
	SavedQueries map[uint]string
	// StreamErrors are sent as "error" messages right after the campaign
	// is selected; CloseAfterErrors then closes the websocket.
	StreamErrors     []string
	CloseAfterErrors bool
	// MalformedMessage sends one message that is not valid JSON before the
	// results.
	MalformedMessage bool
	// EchoToken makes error bodies repeat the token the client presented,
	// as a careless proxy might.
	EchoToken bool
	// RestPeriod bounds a synchronous saved-query run (Fleet's
	// FLEET_LIVE_QUERY_REST_PERIOD); hosts slower than it are not in the
	// answer. Zero means 1 s.
	RestPeriod time.Duration
	// GitOpsReports makes the server a Fleet 4.82 or later, whose GitOps
	// files take reports: (and settings:) next to the older key names.
	// Without it the server is an older Fleet (4.69 was tried), which
	// rejects reports: as an unknown top-level field.
	GitOpsReports bool
}

// Server is a running double.
type Server struct {
	*httptest.Server
	cfg      Config
	hostByID map[uint]*Host

	mu        sync.Mutex
	campaigns map[uint]*campaign
	nextID    uint
	requests  []string
	live      []string // SQL of every campaign, in order
	applied   appliedConfig
	stop      chan struct{}
	stopOnce  sync.Once
}

// Close ends open websockets and shuts the server down.
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.Server.Close()
}

type campaign struct {
	id    uint
	sql   string
	hosts []*Host
}

// New starts a double over plain HTTP on a loopback address.
func New(cfg Config) *Server {
	s := newServer(cfg)
	s.Server = httptest.NewServer(s.handler())
	return s
}

// NewTLS starts a double over HTTPS with httptest's self-signed
// certificate; s.Certificate() is the CA to trust.
func NewTLS(cfg Config) *Server {
	s := newServer(cfg)
	s.Server = httptest.NewTLSServer(s.handler())
	return s
}

func newServer(cfg Config) *Server {
	if cfg.RestPeriod <= 0 {
		cfg.RestPeriod = time.Second
	}
	s := &Server{cfg: cfg, hostByID: make(map[uint]*Host, len(cfg.Hosts)), campaigns: map[uint]*campaign{}, stop: make(chan struct{})}
	for i := range cfg.Hosts {
		s.hostByID[cfg.Hosts[i].ID] = &s.cfg.Hosts[i]
	}
	return s
}

// Requests returns "METHOD /path" for every REST request and websocket
// upgrade received, in order.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// LiveQueries returns the SQL of every campaign created, in order.
func (s *Server) LiveQueries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.live...)
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	for _, v := range []string{"latest", "v1"} {
		p := "/api/" + v + "/fleet"
		for _, fam := range s.names("queries") {
			mux.HandleFunc("POST "+p+"/"+fam+"/run_by_identifiers", s.auth(s.createByIdentifiers))
			mux.HandleFunc("POST "+p+"/"+fam+"/run", s.auth(s.createByIDs))
			mux.HandleFunc("POST "+p+"/"+fam+"/{id}/run", s.auth(s.runSaved))
		}
		for _, fam := range s.names("teams") {
			key := fam
			mux.HandleFunc("GET "+p+"/"+fam, s.auth(func(w http.ResponseWriter, r *http.Request) { s.listTeams(w, key) }))
		}
		mux.HandleFunc("GET "+p+"/labels", s.auth(s.listLabels))
		mux.HandleFunc("GET "+p+"/hosts/identifier/{ident}", s.auth(s.hostByIdentifier))
		mux.HandleFunc("GET "+p+"/results/websocket", s.websocket)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	})
}

// names returns the path names served for a family ("queries" or "teams").
func (s *Server) names(family string) []string {
	old, neu := family, map[string]string{"queries": "reports", "teams": "fleets"}[family]
	switch s.cfg.Paths {
	case PathsOldOnly:
		return []string{old}
	case PathsNewOnly:
		return []string{neu}
	}
	return []string{old, neu}
}

// fleetError writes Fleet's error body.
func fleetError(w http.ResponseWriter, status int, message, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"message": message,
		"errors":  []map[string]string{{"name": "base", "reason": reason}},
		"uuid":    "2c1b4a55-5c4e-4c3e-9d0e-6b1f0c6d7e8f",
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if got == "" || got != s.cfg.Token {
			reason := "Authentication required"
			if s.cfg.EchoToken {
				reason = "invalid token " + got
			}
			fleetError(w, http.StatusUnauthorized, "Authentication failed", reason)
			return
		}
		next(w, r)
	}
}

type selected struct {
	Hosts  json.RawMessage `json:"hosts"`
	Labels json.RawMessage `json:"labels"`
	Teams  json.RawMessage `json:"teams"`
}

type campaignRequest struct {
	Query    string   `json:"query"`
	QueryID  *uint    `json:"query_id"`
	Selected selected `json:"selected"`
}

func (s *Server) decodeCampaign(w http.ResponseWriter, r *http.Request) (campaignRequest, bool) {
	var req campaignRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fleetError(w, http.StatusBadRequest, "Bad request", "Expected JSON Body")
		return req, false
	}
	if strings.TrimSpace(req.Query) == "" && req.QueryID == nil {
		fleetError(w, http.StatusUnprocessableEntity, "Validation Failed", "one of query or query_id must be specified")
		return req, false
	}
	if req.QueryID != nil {
		sql, ok := s.cfg.SavedQueries[*req.QueryID]
		if !ok {
			fleetError(w, http.StatusNotFound, "Resource Not Found", "query not found")
			return req, false
		}
		req.Query = sql
	}
	return req, true
}

func (s *Server) createByIdentifiers(w http.ResponseWriter, r *http.Request) {
	req, ok := s.decodeCampaign(w, r)
	if !ok {
		return
	}
	var hosts, labels []string
	if err := unmarshalList(req.Selected.Hosts, &hosts); err != nil {
		fleetError(w, http.StatusBadRequest, "Bad request", "selected.hosts: "+err.Error())
		return
	}
	if err := unmarshalList(req.Selected.Labels, &labels); err != nil {
		fleetError(w, http.StatusBadRequest, "Bad request", "selected.labels: "+err.Error())
		return
	}
	var missing []string
	for _, l := range labels {
		if !s.labelExists(l) {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("[%s] Invalid label name(s) specified", strings.Join(missing, ", "))
		fleetError(w, http.StatusBadRequest, msg, msg)
		return
	}
	set := map[uint]bool{}
	for _, ident := range hosts {
		if h := s.findHost(ident); h != nil {
			set[h.ID] = true
		}
	}
	for i := range s.cfg.Hosts {
		h := &s.cfg.Hosts[i]
		for _, l := range labels {
			if s.inLabel(h, l) {
				set[h.ID] = true
			}
		}
	}
	s.startCampaign(w, req.Query, set)
}

func (s *Server) createByIDs(w http.ResponseWriter, r *http.Request) {
	req, ok := s.decodeCampaign(w, r)
	if !ok {
		return
	}
	var hosts, labels, teams []uint
	for _, f := range []struct {
		raw json.RawMessage
		dst *[]uint
		key string
	}{{req.Selected.Hosts, &hosts, "hosts"}, {req.Selected.Labels, &labels, "labels"}, {req.Selected.Teams, &teams, "teams"}} {
		if err := unmarshalList(f.raw, f.dst); err != nil {
			fleetError(w, http.StatusBadRequest, "Bad request", "selected."+f.key+": "+err.Error())
			return
		}
	}
	labelNames := map[string]bool{}
	for _, id := range labels {
		for _, l := range s.cfg.Labels {
			if l.ID == id {
				labelNames[l.Name] = true
			}
		}
		s.mu.Lock()
		for _, l := range s.applied.labels {
			if l.id == id {
				labelNames[l.Name] = true
			}
		}
		s.mu.Unlock()
	}
	set := map[uint]bool{}
	for _, id := range hosts {
		if _, ok := s.hostByID[id]; ok {
			set[id] = true
		}
	}
	for i := range s.cfg.Hosts {
		h := &s.cfg.Hosts[i]
		for l := range labelNames {
			if s.inLabel(h, l) {
				set[h.ID] = true
			}
		}
		for _, t := range teams {
			if h.TeamID == t && t != 0 {
				set[h.ID] = true
			}
		}
	}
	s.startCampaign(w, req.Query, set)
}

func unmarshalList[T any](raw json.RawMessage, dst *[]T) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return json.Unmarshal(raw, dst)
}

func (s *Server) startCampaign(w http.ResponseWriter, sql string, set map[uint]bool) {
	if len(set) == 0 {
		fleetError(w, http.StatusBadRequest, "no hosts targeted", "no hosts targeted")
		return
	}
	ids := make([]uint, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	c := &campaign{sql: sql, hosts: make([]*Host, len(ids))}
	var offline uint
	for i, id := range ids {
		c.hosts[i] = s.hostByID[id]
		if c.hosts[i].Offline {
			offline++
		}
	}
	s.mu.Lock()
	s.nextID++
	c.id = s.nextID
	s.campaigns[c.id] = c
	s.live = append(s.live, sql)
	s.mu.Unlock()
	now := time.Now().UTC().Format(time.RFC3339)
	writeJSON(w, map[string]any{"campaign": map[string]any{
		"created_at": now, "updated_at": now,
		"Metrics": map[string]uint{
			"TotalHosts": uint(len(ids)), "OnlineHosts": uint(len(ids)) - offline,
			"OfflineHosts": offline, "MissingInActionHosts": 0, "NewHosts": 0,
		},
		"id": c.id, "query_id": 1000 + c.id, "status": 0, "user_id": 1,
	}})
}

func (s *Server) runSaved(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 32)
	if err != nil {
		fleetError(w, http.StatusBadRequest, "Bad request", "invalid query id")
		return
	}
	if _, ok := s.cfg.SavedQueries[uint(id)]; !ok {
		fleetError(w, http.StatusNotFound, "Resource Not Found", "query not found")
		return
	}
	var body struct {
		HostIDs []uint `json:"host_ids"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.HostIDs) == 0 {
		fleetError(w, http.StatusUnprocessableEntity, "Validation Failed", "query_ids and host_ids are required")
		return
	}
	seen := map[uint]bool{}
	type result struct {
		HostID uint                `json:"host_id"`
		Rows   []map[string]string `json:"rows"`
		Error  *string             `json:"error"`
	}
	results := []result{}
	var wait time.Duration
	for _, hid := range body.HostIDs {
		if seen[hid] {
			continue
		}
		seen[hid] = true
		h := s.hostByID[hid]
		if h == nil || h.Offline || h.Silent || h.Delay > s.cfg.RestPeriod {
			continue
		}
		wait = max(wait, h.Delay)
		rows, errText := answer(h)
		res := result{HostID: hid, Rows: rows}
		if errText != "" {
			res.Error = &errText
		}
		results = append(results, res)
	}
	if len(results) < len(seen) {
		wait = s.cfg.RestPeriod
	}
	select {
	case <-time.After(wait):
	case <-r.Context().Done():
		return
	}
	writeJSON(w, map[string]any{
		"query_id": id, "targeted_host_count": len(seen), "responded_host_count": len(results), "results": results,
	})
}

func (s *Server) listTeams(w http.ResponseWriter, key string) {
	teams := make([]map[string]any, 0, len(s.cfg.Teams))
	for _, t := range s.cfg.Teams {
		teams = append(teams, map[string]any{"id": t.ID, "name": t.Name})
	}
	writeJSON(w, map[string]any{key: teams})
}

func (s *Server) listLabels(w http.ResponseWriter, _ *http.Request) {
	labels := make([]map[string]any, 0, len(s.cfg.Labels))
	for _, l := range s.cfg.Labels {
		labels = append(labels, map[string]any{"id": l.ID, "name": l.Name, "label_type": "regular"})
	}
	s.mu.Lock()
	for _, l := range s.applied.labels {
		labels = append(labels, map[string]any{"id": l.id, "name": l.Name, "label_type": "regular"})
	}
	s.mu.Unlock()
	writeJSON(w, map[string]any{"labels": labels})
}

func (s *Server) hostByIdentifier(w http.ResponseWriter, r *http.Request) {
	h := s.findHost(r.PathValue("ident"))
	if h == nil {
		fleetError(w, http.StatusNotFound, "Resource Not Found", "host not found")
		return
	}
	status := "online"
	if h.Offline {
		status = "offline"
	}
	writeJSON(w, map[string]any{"host": map[string]any{
		"id": h.ID, "hostname": h.Hostname, "display_name": h.DisplayName, "uuid": h.UUID,
		"hardware_serial": h.Serial, "platform": h.platform(), "status": status,
	}})
}

func (s *Server) findHost(ident string) *Host {
	for i := range s.cfg.Hosts {
		h := &s.cfg.Hosts[i]
		// Fleet matches an identifier against hostname, osquery_host_id,
		// node_key, uuid and hardware_serial (HostByIdentifier in
		// fleetdm/fleet server/datastore/mysql/hosts.go).
		if ident != "" && (h.Hostname == ident || h.UUID == ident || h.Serial == ident ||
			h.NodeKey == ident || h.OsqueryHostID == ident) {
			return h
		}
	}
	return nil
}

func (s *Server) labelExists(name string) bool {
	for _, l := range s.cfg.Labels {
		if l.Name == name {
			return true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied.label(name) != nil
}

// inLabel reports whether h belongs to the label: given in its Labels, or
// found by the label's query the last time RefreshLabels ran.
func (s *Server) inLabel(h *Host, name string) bool {
	if contains(h.Labels, name) {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.applied.label(name)
	return l != nil && l.members[h.ID]
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// answer is what a host that answers sends back.
func answer(h *Host) ([]map[string]string, string) {
	switch {
	case h.MissingExtension:
		return []map[string]string{}, "no such table: alerts"
	case h.Error != "":
		return []map[string]string{}, h.Error
	}
	if h.Rows == nil {
		return []map[string]string{}, ""
	}
	return h.Rows, ""
}

type wsMessage struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

func (s *Server) websocket(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	send := func(typ string, data any) error {
		b, err := json.Marshal(map[string]any{"type": typ, "data": data})
		if err != nil {
			return err
		}
		return conn.Write(ctx, websocket.MessageText, b)
	}
	read := func(want string) (json.RawMessage, bool) {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return nil, false
		}
		var m wsMessage
		if json.Unmarshal(b, &m) != nil || m.Type != want {
			_ = send("error", fmt.Sprintf("expected %s message", want))
			return nil, false
		}
		return m.Data, true
	}
	data, ok := read("auth")
	if !ok {
		return
	}
	var a struct {
		Token string `json:"token"`
	}
	if json.Unmarshal(data, &a) != nil || a.Token != s.cfg.Token {
		text := "auth failed"
		if s.cfg.EchoToken {
			text = "auth failed for token " + a.Token
		}
		_ = send("error", text)
		conn.Close(websocket.StatusPolicyViolation, "auth failed")
		return
	}
	if data, ok = read("select_campaign"); !ok {
		return
	}
	var sel struct {
		CampaignID uint `json:"campaign_id"`
	}
	_ = json.Unmarshal(data, &sel)
	s.mu.Lock()
	c := s.campaigns[sel.CampaignID]
	s.mu.Unlock()
	if c == nil {
		_ = send("error", fmt.Sprintf("cannot find campaign for ID %d", sel.CampaignID))
		conn.Close(websocket.StatusNormalClosure, "")
		return
	}
	var online, offline uint
	answering := make([]*Host, 0, len(c.hosts))
	for _, h := range c.hosts {
		if h.Offline {
			offline++
			continue
		}
		online++
		if !h.Silent {
			answering = append(answering, h)
		}
	}
	sort.SliceStable(answering, func(i, j int) bool { return answering[i].Delay < answering[j].Delay })

	// Reading in the background notices the client going away.
	go func() {
		defer cancel()
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				return
			}
		}
	}()

	if send("totals", map[string]uint{"count": online + offline, "online": online, "offline": offline, "missing_in_action": 0}) != nil {
		return
	}
	if send("status", map[string]any{"expected_results": online, "actual_results": 0, "status": "pending"}) != nil {
		return
	}
	for _, e := range s.cfg.StreamErrors {
		if send("error", e) != nil {
			return
		}
	}
	if s.cfg.CloseAfterErrors && len(s.cfg.StreamErrors) > 0 {
		conn.Close(websocket.StatusInternalError, "pubsub error")
		return
	}
	if s.cfg.MalformedMessage {
		if conn.Write(ctx, websocket.MessageText, []byte(`{"type":"result","data":`)) != nil {
			return
		}
	}
	start := time.Now()
	for i, h := range answering {
		if wait := time.Until(start.Add(h.Delay)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		rows, errText := answer(h)
		out := make([]map[string]string, len(rows))
		for j, row := range rows {
			m := make(map[string]string, len(row)+2)
			for k, v := range row {
				m[k] = v
			}
			m["host_hostname"] = h.Hostname
			m["host_display_name"] = h.DisplayName
			out[j] = m
		}
		var errVal any
		if errText != "" {
			errVal = errText
		}
		if send("result", map[string]any{
			"distributed_query_execution_id": c.id,
			"host":                           map[string]any{"id": h.ID, "hostname": h.Hostname, "display_name": h.DisplayName},
			"rows":                           out,
			"error":                          errVal,
		}) != nil {
			return
		}
		if i == len(answering)-1 && uint(len(answering)) == online {
			_ = send("status", map[string]any{"expected_results": online, "actual_results": online, "status": "finished"})
		}
	}
	// Like Fleet, keep the campaign open until the reader leaves.
	<-ctx.Done()
}

// GenSpec describes a generated fleet for scale tests: host i (from 1) is
// offline when OfflineEvery divides i, and so on, checked in that order.
type GenSpec struct {
	OfflineEvery, SilentEvery, MissingEvery, ErrorEvery int
	// Rows is every answering host's answer (shared, not copied).
	Rows  []map[string]string
	Label string // every host gets this label
}

// GenerateHosts makes n hosts named host-00001... following spec.
func GenerateHosts(n int, spec GenSpec) []Host {
	hosts := make([]Host, n)
	every := func(k, i int) bool { return k > 0 && i%k == 0 }
	for i := 1; i <= n; i++ {
		h := &hosts[i-1]
		h.ID = uint(i)
		h.Hostname = fmt.Sprintf("host-%05d", i)
		h.DisplayName = h.Hostname
		h.UUID = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		if spec.Label != "" {
			h.Labels = []string{spec.Label}
		}
		switch {
		case every(spec.OfflineEvery, i):
			h.Offline = true
		case every(spec.SilentEvery, i):
			h.Silent = true
		case every(spec.MissingEvery, i):
			h.MissingExtension = true
		case every(spec.ErrorEvery, i):
			h.Error = "interrupted"
		default:
			h.Rows = spec.Rows
		}
	}
	return hosts
}
