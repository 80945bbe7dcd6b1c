package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/brokerguard/brokerguard/internal/campaign"
	"github.com/brokerguard/brokerguard/internal/casework"
	"github.com/brokerguard/brokerguard/internal/remedy"
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
	if k, ok := r.Context().Value(actorKey{}).(*Key); ok {
		return k.Name
	}
	return ""
}

// presentCasework maps the desk's errors to API errors.
func presentCasework(err error) error {
	switch {
	case errors.Is(err, casework.ErrInvalid):
		return errorf(http.StatusBadRequest, CodeBadRequest, err.Error())
	case errors.Is(err, casework.ErrNotFound):
		return errorf(http.StatusNotFound, CodeNotFound, err.Error())
	case errors.Is(err, casework.ErrConflict):
		return errorf(http.StatusConflict, CodeConflict, err.Error())
	}
	return err
}

// readBody decodes a small JSON request body into v, naming what is wrong.
func readBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errorf(http.StatusBadRequest, CodeBadRequest, "empty body: send a JSON object")
		}
		return errorf(http.StatusBadRequest, CodeBadRequest, "body: "+err.Error())
	}
	return nil
}

// deskPost decodes a JSON body into a Req, runs act on the desk, and answers status with act's result
// under key (key "": the result is the whole answer).
func deskPost[Req, Res any](s *Server, w http.ResponseWriter, r *http.Request, status int, key string,
	act func(d *casework.Desk, req Req) (Res, error)) error {
	d, err := s.desk()
	if err != nil {
		return err
	}
	var req Req
	if err := readBody(w, r, &req); err != nil {
		return err
	}
	res, err := act(d, req)
	if err != nil {
		return presentCasework(err)
	}
	if key == "" {
		writeJSON(w, status, res)
	} else {
		writeJSON(w, status, map[string]any{key: res})
	}
	return nil
}

func (s *Server) desk() (*casework.Desk, error) {
	if s.o.Desk == nil {
		return nil, errorf(http.StatusNotFound, CodeNotFound, "analyst actions are not enabled on this server")
	}
	return s.o.Desk, nil
}

type watchRequest struct {
	Kind    string    `json:"kind"`
	Value   string    `json:"value"`
	Reason  string    `json:"reason"`
	Expires time.Time `json:"expires,omitzero"`
	Pinned  bool      `json:"pinned,omitempty"`
}

func (s *Server) getWatchlist(w http.ResponseWriter, r *http.Request) error {
	if s.o.Campaigns == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "the campaign layer is off")
	}
	all := r.URL.Query().Get("all") == "true"
	entries := s.o.Campaigns.Watchlist().List(time.Now(), all)
	if entries == nil {
		entries = []campaign.Entry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
	return nil
}

func (s *Server) postWatchlist(w http.ResponseWriter, r *http.Request) error {
	return deskPost(s, w, r, http.StatusCreated, "entry", func(d *casework.Desk, req watchRequest) (campaign.Entry, error) {
		return d.AddWatch(r.Context(), actor(r), casework.Watch{Kind: req.Kind, Value: req.Value, Expires: req.Expires, Pinned: req.Pinned}, req.Reason)
	})
}

func (s *Server) postWatchlistRemove(w http.ResponseWriter, r *http.Request) error {
	return s.watchChange(w, r, "removed", (*casework.Desk).RemoveWatch)
}

func (s *Server) postWatchlistPin(w http.ResponseWriter, r *http.Request) error {
	return s.watchChange(w, r, "entry", (*casework.Desk).PinWatch)
}

// watchChange decodes a change to a watchlist entry, runs it and answers with the entry under key.
func (s *Server) watchChange(w http.ResponseWriter, r *http.Request, key string,
	do func(*casework.Desk, context.Context, string, casework.Change, string) (campaign.Entry, error)) error {
	return deskPost(s, w, r, http.StatusOK, key, func(d *casework.Desk, req watchRequest) (campaign.Entry, error) {
		return do(d, r.Context(), actor(r), casework.Change{Kind: req.Kind, Value: req.Value, Pinned: req.Pinned, Expires: req.Expires}, req.Reason)
	})
}

func (s *Server) getCampaigns(w http.ResponseWriter, r *http.Request) error {
	if s.o.Campaigns == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "the campaign layer is off")
	}
	at := time.Now()
	if v := r.URL.Query().Get("at"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return &apiError{status: http.StatusBadRequest, code: CodeBadRequest, message: fmt.Sprintf("at: %q is not an RFC 3339 time", v), field: "at"}
		}
		at = t
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
	return deskPost(s, w, r, http.StatusOK, "", func(d *casework.Desk, req reasonRequest) (map[string]any, error) {
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
	q := store.AuditQuery{Target: r.URL.Query().Get("target"), Action: r.URL.Query().Get("action")}
	after, err := queryInt(r, "after", 0, 1<<62)
	if err != nil {
		return err
	}
	lim, err := queryInt(r, "limit", 1, 1000)
	if err != nil {
		return err
	}
	q.After, q.Limit = after, int(lim)
	if q.Limit == 0 {
		q.Limit = 100
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

func (s *Server) getIncidents(w http.ResponseWriter, r *http.Request) error {
	d, err := s.desk()
	if err != nil {
		return err
	}
	incs, err := d.Incidents(r.Context())
	if err != nil {
		return err
	}
	status, account := r.URL.Query().Get("status"), r.URL.Query().Get("account")
	out := make([]casework.Incident, 0, len(incs))
	for _, inc := range incs {
		if (status == "" || inc.Status == status) && (account == "" || inc.Account == account) {
			out = append(out, inc)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": out})
	return nil
}

type openIncidentRequest struct {
	casework.OpenRequest
	Reason string `json:"reason"`
}

func (s *Server) postIncident(w http.ResponseWriter, r *http.Request) error {
	return deskPost(s, w, r, http.StatusCreated, "incident", func(d *casework.Desk, req openIncidentRequest) (casework.Incident, error) {
		return d.OpenIncident(r.Context(), actor(r), req.OpenRequest, req.Reason)
	})
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) error {
	d, err := s.desk()
	if err != nil {
		return err
	}
	inc, err := d.Incident(r.Context(), r.PathValue("id"))
	if err != nil {
		return presentCasework(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"incident": inc})
	return nil
}

func (s *Server) getReconstruction(w http.ResponseWriter, r *http.Request) error {
	d, err := s.desk()
	if err != nil {
		return err
	}
	inc, err := d.Incident(r.Context(), r.PathValue("id"))
	if err != nil {
		return presentCasework(err)
	}
	rec, _, err := d.Reconstruct(r.Context(), &inc)
	if err != nil {
		return presentCasework(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"incident": inc.ID, "account": inc.Account, "start": rec.Start, "end": rec.End,
		"orders": rec.Orders, "accesses": rec.Accesses, "held_before": rec.HeldBefore, "excluded_executions": inc.Excluded})
	return nil
}

// incidentEdit decodes a body of T plus a reason and runs do on it.
func incidentEdit[T any](s *Server, w http.ResponseWriter, r *http.Request,
	do func(d *casework.Desk, id string, body T, reason string) (casework.Incident, error)) error {
	d, err := s.desk()
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
	inc, err := do(d, r.PathValue("id"), req.Body, req.Reason)
	if err != nil {
		return presentCasework(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"incident": inc})
	return nil
}

func (s *Server) postIncidentOrders(w http.ResponseWriter, r *http.Request) error {
	return incidentEdit(s, w, r, func(d *casework.Desk, id string, c casework.OrdersChange, reason string) (casework.Incident, error) {
		return d.ChangeOrders(r.Context(), actor(r), id, c, reason)
	})
}

func (s *Server) postIncidentExecutions(w http.ResponseWriter, r *http.Request) error {
	return incidentEdit(s, w, r, func(d *casework.Desk, id string, c casework.ExecutionsChange, reason string) (casework.Incident, error) {
		return d.ChangeExecutions(r.Context(), actor(r), id, c, reason)
	})
}

func (s *Server) postIncidentAssess(w http.ResponseWriter, r *http.Request) error {
	return incidentEdit(s, w, r, func(d *casework.Desk, id string, a casework.AssessRequest, reason string) (casework.Incident, error) {
		return d.Assess(r.Context(), actor(r), id, a, reason)
	})
}

func (s *Server) postIncidentApprove(w http.ResponseWriter, r *http.Request) error {
	return incidentEdit(s, w, r, func(d *casework.Desk, id string, _ struct{}, reason string) (casework.Incident, error) {
		return d.Approve(r.Context(), actor(r), id, reason)
	})
}

func (s *Server) getTally(w http.ResponseWriter, r *http.Request) error {
	d, err := s.desk()
	if err != nil {
		return err
	}
	rows, err := d.Tally(r.Context())
	if err != nil {
		return presentCasework(err)
	}
	return writeMonths(w, r, rows, func(w io.Writer) error { return remedy.WriteTallyCSV(w, rows) })
}

// writeMonths answers with monthly rows as JSON ({"months": …}) or, with ?format=csv, as CSV.
func writeMonths(w http.ResponseWriter, r *http.Request, months any, writeCSV func(io.Writer) error) error {
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		writeJSON(w, http.StatusOK, map[string]any{"months": months})
		return nil
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		return writeCSV(w)
	default:
		return &apiError{status: http.StatusBadRequest, code: CodeBadRequest, message: fmt.Sprintf("format: %q, want json or csv", f), field: "format"}
	}
}

func (s *Server) getTallyRevisions(w http.ResponseWriter, r *http.Request) error {
	d, err := s.desk()
	if err != nil {
		return err
	}
	revs, err := d.Revisions(r.Context())
	if err != nil {
		return presentCasework(err)
	}
	return writeMonths(w, r, revs, func(w io.Writer) error { return remedy.WriteRevisionsCSV(w, revs) })
}

func (s *Server) getFilings(w http.ResponseWriter, r *http.Request) error {
	d, err := s.desk()
	if err != nil {
		return err
	}
	vs, err := d.Filings(r.Context())
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []remedy.Vintage{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"filings": vs})
	return nil
}

type filingRequest struct {
	Filing string `json:"filing"`
	Reason string `json:"reason"`
}

func (s *Server) postFiling(w http.ResponseWriter, r *http.Request) error {
	return deskPost(s, w, r, http.StatusCreated, "filing", func(d *casework.Desk, req filingRequest) (*remedy.Vintage, error) {
		return d.FileTally(r.Context(), actor(r), req.Filing, req.Reason)
	})
}

func (s *Server) getEvidence(w http.ResponseWriter, r *http.Request) error {
	d, err := s.desk()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := d.WriteEvidence(r.Context(), r.PathValue("id"), &buf); err != nil {
		return presentCasework(err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, err = w.Write(buf.Bytes())
	return err
}

func (s *Server) getCompensations(w http.ResponseWriter, r *http.Request) error {
	d, err := s.desk()
	if err != nil {
		return err
	}
	results, statuses := d.Results()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	return remedy.WriteDecisionsCSVStatus(w, results, statuses)
}
