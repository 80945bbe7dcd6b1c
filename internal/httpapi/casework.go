package httpapi

import (
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
	d, err := s.desk()
	if err != nil {
		return err
	}
	var req watchRequest
	if err := readBody(w, r, &req); err != nil {
		return err
	}
	e, err := d.AddWatch(r.Context(), actor(r), casework.Watch{Kind: req.Kind, Value: req.Value, Expires: req.Expires, Pinned: req.Pinned}, req.Reason)
	if err != nil {
		return presentCasework(err)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"entry": e})
	return nil
}

func (s *Server) postWatchlistRemove(w http.ResponseWriter, r *http.Request) error {
	d, err := s.desk()
	if err != nil {
		return err
	}
	var req watchRequest
	if err := readBody(w, r, &req); err != nil {
		return err
	}
	e, err := d.RemoveWatch(r.Context(), actor(r), casework.Change{Kind: req.Kind, Value: req.Value}, req.Reason)
	if err != nil {
		return presentCasework(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"removed": e})
	return nil
}

func (s *Server) postWatchlistPin(w http.ResponseWriter, r *http.Request) error {
	d, err := s.desk()
	if err != nil {
		return err
	}
	var req watchRequest
	if err := readBody(w, r, &req); err != nil {
		return err
	}
	e, err := d.PinWatch(r.Context(), actor(r), casework.Change{Kind: req.Kind, Value: req.Value, Pinned: req.Pinned, Expires: req.Expires}, req.Reason)
	if err != nil {
		return presentCasework(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"entry": e})
	return nil
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

func (s *Server) postUnlock(w http.ResponseWriter, r *http.Request) error {
	d, err := s.desk()
	if err != nil {
		return err
	}
	var req struct {
		Reason string `json:"reason"`
	}
	if err := readBody(w, r, &req); err != nil {
		return err
	}
	account := r.PathValue("account")
	if err := d.Unlock(r.Context(), actor(r), account, req.Reason); err != nil {
		return presentCasework(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"account": account, "locked": false})
	return nil
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
