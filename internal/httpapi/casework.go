package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/audit"
	"github.com/brokerguard/brokerguard/internal/campaign"
	"github.com/brokerguard/brokerguard/internal/compensation"
	"github.com/brokerguard/brokerguard/internal/desk"
	"github.com/brokerguard/brokerguard/internal/incident"
	"github.com/brokerguard/brokerguard/internal/report"
	"github.com/brokerguard/brokerguard/internal/store"
)

// Campaigns is the campaign layer as the API reads it. *campaign.Layer implements it.
type Campaigns interface {
	Watchlist() *campaign.Watchlist
	Campaigns(at time.Time) []campaign.Campaign
}

// Auditor reads the audit trail. store.Store implements it.
type Auditor interface {
	Audit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error)
}

type actorKey struct{}

// actor returns the name of the API key that made the request.
func actor(r *http.Request) string {
	if k, ok := r.Context().Value(actorKey{}).(Key); ok {
		return k.Name
	}
	return ""
}

// maxDeskBody bounds the body of the desk's requests (a reason, a few ids).
const maxDeskBody = 64 << 10

// readBody decodes a small JSON request body, one object and nothing after it, into v, naming what is
// wrong. A body over maxDeskBody is a 413.
func readBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := readAll(w, r, maxDeskBody)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errorf(http.StatusBadRequest, CodeBadRequest, "empty body: send a JSON object")
		}
		return errorf(http.StatusBadRequest, CodeBadRequest, "body: "+err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errorf(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("body: unexpected data after the JSON object at byte %d; send one object", dec.InputOffset()))
	}
	return checkKeys(body, reflect.TypeOf(v).Elem())
}

// checkKeys refuses a member of the body's object given twice, or in another case than its name
// (encoding/json would take "REASON" for "reason", and the last of two): what is applied and audited is
// exactly what was sent.
func checkKeys(body []byte, t reflect.Type) error {
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) != nil {
		return nil // not an object: the decoder has said so
	}
	names := jsonNames(t)
	dec := json.NewDecoder(bytes.NewReader(body))
	seen := map[string]string{}
	_, _ = dec.Token() // {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		if prev, ok := seen[strings.ToLower(key)]; ok {
			return badParam(key, fmt.Sprintf("body: %q given twice (also as %q)", key, prev))
		}
		seen[strings.ToLower(key)] = key
		if names != nil && !slices.Contains(names, key) {
			return badParam(key, fmt.Sprintf("body: unknown field %q; the fields are %s", key, strings.Join(names, ", ")))
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}

// jsonNames lists the JSON member names of a struct type, those of embedded structs included; nil for
// any other type.
func jsonNames(t reflect.Type) []string {
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			out = append(out, jsonNames(f.Type)...)
		case name == "":
			out = append(out, f.Name)
		default:
			out = append(out, name)
		}
	}
	return out
}

// deskPost decodes a JSON body into a Req, runs act on the desk, and answers status with act's result
// under key (key "": the result is the whole answer).
func deskPost[Room, Req, Res any](s *Server, w http.ResponseWriter, r *http.Request, status int, key string,
	room func() (Room, error), act func(d Room, req Req) (Res, error)) error {
	d, err := room()
	if err != nil {
		return err
	}
	var req Req
	if err := readBody(w, r, &req); err != nil {
		return err
	}
	res, err := act(d, req)
	if err != nil {
		return err
	}
	if key == "" {
		writeJSON(w, status, res)
	} else {
		writeJSON(w, status, map[string]any{key: res})
	}
	return nil
}

// errNoAnalyst answers a request for a room this server was built without.
var errNoAnalyst = errorf(http.StatusNotFound, CodeNotFound, "analyst actions are not enabled on this server")

func (s *Server) desk() (*desk.Desk, error) {
	if s.o.Desk == nil {
		return nil, errNoAnalyst
	}
	return s.o.Desk, nil
}

func (s *Server) incidents() (*incident.Register, error) {
	if s.o.Incidents == nil {
		return nil, errNoAnalyst
	}
	return s.o.Incidents, nil
}

func (s *Server) reports() (*report.Filer, error) {
	if s.o.Reports == nil {
		return nil, errNoAnalyst
	}
	return s.o.Reports, nil
}

type watchRequest struct {
	Kind    string    `json:"kind"`
	Value   string    `json:"value"`
	Reason  string    `json:"reason"`
	Expires time.Time `json:"expires,omitzero"`
	Pinned  bool      `json:"pinned,omitempty"`
}

// dataNow is the time of the data, for what is shown as it stands now.
func (s *Server) dataNow() time.Time {
	if s.o.DataNow != nil {
		if t := s.o.DataNow(); !t.IsZero() {
			return t
		}
	}
	return time.Now()
}

// queryAt reads at, the time at which to show something; by default the data's time.
func (s *Server) queryAt(r *http.Request) (time.Time, error) {
	at, err := queryTime(r, "at")
	if err == nil && at.IsZero() {
		at = s.dataNow()
	}
	return at, err
}

func (s *Server) getWatchlist(w http.ResponseWriter, r *http.Request) error {
	if s.o.Campaigns == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "the campaign layer is off")
	}
	all, err := queryEnum(r, "all", "true", "false")
	if err != nil {
		return err
	}
	at, err := s.queryAt(r)
	if err != nil {
		return err
	}
	entries := s.o.Campaigns.Watchlist().List(at, all == "true")
	if entries == nil {
		entries = []campaign.Entry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
	return nil
}

func (s *Server) postWatchlist(w http.ResponseWriter, r *http.Request) error {
	return deskPost(s, w, r, http.StatusCreated, "entry", s.desk, func(d *desk.Desk, req watchRequest) (campaign.Entry, error) {
		return d.AddWatch(r.Context(), actor(r), desk.Watch{Kind: req.Kind, Value: req.Value, Expires: req.Expires, Pinned: req.Pinned}, req.Reason)
	})
}

func (s *Server) postWatchlistRemove(w http.ResponseWriter, r *http.Request) error {
	return deskPost(s, w, r, http.StatusOK, "removed", s.desk, func(d *desk.Desk, req watchRequest) (campaign.Entry, error) {
		c := desk.Change{Kind: req.Kind, Value: req.Value, Pinned: req.Pinned, Expires: req.Expires}
		return d.RemoveWatch(r.Context(), actor(r), c, req.Reason)
	})
}

// pinRequest is watchRequest with pinned required: a body without it must not unpin.
type pinRequest struct {
	Kind    string    `json:"kind"`
	Value   string    `json:"value"`
	Reason  string    `json:"reason"`
	Expires time.Time `json:"expires,omitzero"`
	Pinned  *bool     `json:"pinned"`
}

func (s *Server) postWatchlistPin(w http.ResponseWriter, r *http.Request) error {
	return deskPost(s, w, r, http.StatusOK, "entry", s.desk, func(d *desk.Desk, req pinRequest) (campaign.Entry, error) {
		if req.Pinned == nil {
			return campaign.Entry{}, badParam("pinned", "pinned: required, true to pin the entry or false to unpin it")
		}
		c := desk.Change{Kind: req.Kind, Value: req.Value, Pinned: *req.Pinned, Expires: req.Expires}
		return d.PinWatch(r.Context(), actor(r), c, req.Reason)
	})
}

func (s *Server) getCampaigns(w http.ResponseWriter, r *http.Request) error {
	if s.o.Campaigns == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "the campaign layer is off")
	}
	at, err := s.queryAt(r)
	if err != nil {
		return err
	}
	cs := s.o.Campaigns.Campaigns(at)
	if cs == nil {
		cs = []campaign.Campaign{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"campaigns": cs})
	return nil
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) postUnlock(w http.ResponseWriter, r *http.Request) error {
	return deskPost(s, w, r, http.StatusOK, "", s.desk, func(d *desk.Desk, req reasonRequest) (map[string]any, error) {
		account := r.PathValue("account")
		if err := d.Unlock(r.Context(), actor(r), account, req.Reason); err != nil {
			return nil, err
		}
		return map[string]any{"account": account, "locked": false}, nil
	})
}

func (s *Server) getAudit(w http.ResponseWriter, r *http.Request) error {
	if s.o.Audit == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "no audit trail on this server")
	}
	action, err := queryEnum(r, "action", auditActions()...)
	if err != nil {
		return err
	}
	q := store.AuditQuery{Target: r.URL.Query().Get("target"), Action: action}
	if q.After, err = queryInt(r, "after", 0, 1<<62); err != nil {
		return err
	}
	if q.Limit, err = queryLimit(r); err != nil {
		return err
	}
	recs, err := s.o.Audit.Audit(r.Context(), q)
	if err != nil {
		return err
	}
	if recs == nil {
		recs = []store.AuditRecord{}
	}
	out := map[string]any{"records": recs}
	if len(recs) == q.Limit {
		out["next"] = strconv.FormatInt(recs[len(recs)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// auditActions are the actions of the audit trail and their families (watchlist.), the values that
// GET /v1/audit?action= takes.
func auditActions() []string {
	var out []string
	for _, a := range slices.Concat(desk.Actions(), incident.Actions(), []string{report.ActionTallyFile}, audit.OtherActions()) {
		family, _, _ := strings.Cut(a, ".")
		if !slices.Contains(out, family+".") {
			out = append(out, family+".")
		}
		out = append(out, a)
	}
	return out
}

var incidentStatuses = []string{incident.StatusProposed, incident.StatusOpen, incident.StatusAssessed, incident.StatusApproved}

// incidentCursor is the place of an incident in the listing's order (newest opened first, then by id):
// the cursor of the page after it.
func incidentCursor(inc incident.Incident) string {
	return base64.RawURLEncoding.EncodeToString([]byte(inc.Opened.Format(time.RFC3339Nano) + " " + inc.ID))
}

// afterCursor reports whether inc comes after the incident at cursor c in the listing's order.
func afterCursor(inc incident.Incident, opened time.Time, id string) bool {
	if !inc.Opened.Equal(opened) {
		return inc.Opened.Before(opened)
	}
	return inc.ID > id
}

func parseIncidentCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	ts, id, ok := strings.Cut(string(b), " ")
	var opened time.Time
	if err == nil && ok {
		opened, err = time.Parse(time.RFC3339Nano, ts)
	}
	if err != nil || !ok {
		return time.Time{}, "", badParam("cursor", "cursor: not a cursor of this listing; pass the next value of the previous page")
	}
	return opened, id, nil
}

func (s *Server) getIncidents(w http.ResponseWriter, r *http.Request) error {
	d, err := s.incidents()
	if err != nil {
		return err
	}
	status, err := queryEnum(r, "status", incidentStatuses...)
	if err != nil {
		return err
	}
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	var opened time.Time
	var afterID string
	cursor := r.URL.Query().Get("cursor")
	if cursor != "" {
		if opened, afterID, err = parseIncidentCursor(cursor); err != nil {
			return err
		}
	}
	incs, err := d.Incidents(r.Context())
	if err != nil {
		return err
	}
	account := r.URL.Query().Get("account")
	out := make([]incident.Incident, 0, min(limit, len(incs)))
	var next string
	for _, inc := range incs {
		if (status != "" && inc.Status != status) || (account != "" && inc.Account != account) ||
			(cursor != "" && !afterCursor(inc, opened, afterID)) {
			continue
		}
		if len(out) == limit {
			next = incidentCursor(out[len(out)-1])
			break
		}
		out = append(out, inc)
	}
	res := map[string]any{"incidents": out}
	if next != "" {
		res["next"] = next
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

type openIncidentRequest struct {
	incident.OpenRequest
	Reason string `json:"reason"`
}

func (s *Server) postIncident(w http.ResponseWriter, r *http.Request) error {
	return deskPost(s, w, r, http.StatusCreated, "incident", s.incidents, func(d *incident.Register, req openIncidentRequest) (incident.Incident, error) {
		return d.OpenIncident(r.Context(), actor(r), req.OpenRequest, req.Reason)
	})
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) error {
	d, err := s.incidents()
	if err != nil {
		return err
	}
	inc, err := d.Incident(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"incident": inc})
	return nil
}

func (s *Server) getReconstruction(w http.ResponseWriter, r *http.Request) error {
	d, err := s.incidents()
	if err != nil {
		return err
	}
	inc, err := d.Incident(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	rec, _, err := d.Reconstruct(r.Context(), &inc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"incident": inc.ID, "account": inc.Account, "start": rec.Start, "end": rec.End,
		"orders": rec.Orders, "accesses": rec.Accesses, "held_before": rec.HeldBefore, "excluded_executions": inc.Excluded})
	return nil
}

// incidentEdit decodes a body of T plus a reason and runs do on it.
func incidentEdit[T any](s *Server, w http.ResponseWriter, r *http.Request,
	do func(d *incident.Register, id string, body T, reason string) (incident.Incident, error)) error {
	d, err := s.incidents()
	if err != nil {
		return err
	}
	var req struct {
		Body   T
		Reason string
	}
	raw := map[string]json.RawMessage{}
	if err := readBody(w, r, &raw); err != nil {
		return err
	}
	if v, ok := raw["reason"]; ok {
		if err := json.Unmarshal(v, &req.Reason); err != nil {
			return errorf(http.StatusBadRequest, CodeBadRequest, "reason: want a string")
		}
		delete(raw, "reason")
	}
	b, _ := json.Marshal(raw)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req.Body); err != nil {
		return errorf(http.StatusBadRequest, CodeBadRequest, "body: "+err.Error())
	}
	if err := checkKeys(b, reflect.TypeFor[T]()); err != nil {
		return err
	}
	inc, err := do(d, r.PathValue("id"), req.Body, req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"incident": inc})
	return nil
}

func (s *Server) postIncidentOrders(w http.ResponseWriter, r *http.Request) error {
	return incidentEdit(s, w, r, func(d *incident.Register, id string, c incident.OrdersChange, reason string) (incident.Incident, error) {
		return d.ChangeOrders(r.Context(), actor(r), id, c, reason)
	})
}

func (s *Server) postIncidentExecutions(w http.ResponseWriter, r *http.Request) error {
	return incidentEdit(s, w, r, func(d *incident.Register, id string, c incident.ExecutionsChange, reason string) (incident.Incident, error) {
		return d.ChangeExecutions(r.Context(), actor(r), id, c, reason)
	})
}

func (s *Server) postIncidentAssess(w http.ResponseWriter, r *http.Request) error {
	return incidentEdit(s, w, r, func(d *incident.Register, id string, a incident.AssessRequest, reason string) (incident.Incident, error) {
		return d.Assess(r.Context(), actor(r), id, a, reason)
	})
}

func (s *Server) postIncidentApprove(w http.ResponseWriter, r *http.Request) error {
	return incidentEdit(s, w, r, func(d *incident.Register, id string, _ struct{}, reason string) (incident.Incident, error) {
		return d.Approve(r.Context(), actor(r), id, reason)
	})
}

func (s *Server) getTally(w http.ResponseWriter, r *http.Request) error {
	d, err := s.reports()
	if err != nil {
		return err
	}
	rows, err := d.Tally(r.Context())
	if err != nil {
		return err
	}
	return writeMonths(w, r, rows, func(w io.Writer) error { return report.WriteTallyCSV(w, rows) })
}

// writeMonths answers with monthly rows as JSON ({"months": …}) or, with ?format=csv, as CSV.
func writeMonths(w http.ResponseWriter, r *http.Request, months any, writeCSV func(io.Writer) error) error {
	f, err := queryEnum(r, "format", "json", "csv")
	if err != nil {
		return err
	}
	switch f {
	case "", "json":
		writeJSON(w, http.StatusOK, map[string]any{"months": months})
		return nil
	default:
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		return writeCSV(w)
	}
}

func (s *Server) getTallyRevisions(w http.ResponseWriter, r *http.Request) error {
	d, err := s.reports()
	if err != nil {
		return err
	}
	revs, err := d.Revisions(r.Context())
	if err != nil {
		return err
	}
	return writeMonths(w, r, revs, func(w io.Writer) error { return report.WriteRevisionsCSV(w, revs) })
}

func (s *Server) getFilings(w http.ResponseWriter, r *http.Request) error {
	d, err := s.reports()
	if err != nil {
		return err
	}
	vs, err := d.Filings(r.Context())
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []report.Vintage{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"filings": vs})
	return nil
}

type filingRequest struct {
	Filing string `json:"filing"`
	Reason string `json:"reason"`
}

func (s *Server) postFiling(w http.ResponseWriter, r *http.Request) error {
	return deskPost(s, w, r, http.StatusCreated, "filing", s.reports, func(d *report.Filer, req filingRequest) (*report.Vintage, error) {
		return d.FileTally(r.Context(), actor(r), req.Filing, req.Reason)
	})
}

func (s *Server) getEvidence(w http.ResponseWriter, r *http.Request) error {
	d, err := s.incidents()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := d.WriteEvidence(r.Context(), r.PathValue("id"), &buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, err = w.Write(buf.Bytes())
	return err
}

func (s *Server) getCompensations(w http.ResponseWriter, r *http.Request) error {
	d, err := s.incidents()
	if err != nil {
		return err
	}
	results, statuses := d.Results()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	return compensation.WriteDecisionsCSVStatus(w, results, statuses)
}
