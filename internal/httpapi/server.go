// Package httpapi is brokerguard's HTTP API: events in (one or a batch, decisions returned synchronously
// after they are stored), decisions and alerts out, health, readiness, Prometheus metrics and the OpenAPI
// description. Every /v1 route but the description needs a bearer API key of the right role.
package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/brokerguard/brokerguard/internal/casework"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/ingest"
	"github.com/brokerguard/brokerguard/internal/store"
)

// Roles, from least to most.
const (
	RoleRead       = "read"
	RoleIngest     = "ingest"
	RoleAnalyst    = "analyst"
	RoleSupervisor = "supervisor"
	RoleAdmin      = "admin"
)

// Key is one accepted bearer key, by the SHA-256 of its secret.
type Key struct {
	Name string
	Role string
	Hash [32]byte
}

// Ingester is what the API sends events to. *ingest.Service implements it.
type Ingester interface {
	Ingest(ctx context.Context, raws [][]byte) ([]ingest.Result, error)
	Ready() bool
}

// Reader is the part of the store the API reads.
type Reader interface {
	Decision(ctx context.Context, eventID string) (store.StoredDecision, error)
	Decisions(ctx context.Context, q store.DecisionQuery) ([]store.StoredDecision, error)
	Alerts(ctx context.Context, q store.AlertQuery) ([]store.StoredAlert, error)
	Ping(ctx context.Context) error
}

// Options configure a Server.
type Options struct {
	Ingester     Ingester
	Store        Reader
	Keys         []Key
	Gatherer     prometheus.Gatherer
	Registerer   prometheus.Registerer
	Log          *slog.Logger
	MaxBodyBytes int64
	MaxBatch     int
	// Campaigns, Desk and Audit serve the campaign layer, analyst actions and the audit trail; nil
	// turns those endpoints off.
	Campaigns Campaigns
	Desk      *casework.Desk
	Audit     Auditor
}

// Server is the HTTP API.
type Server struct {
	o       Options
	mux     *http.ServeMux
	latency *prometheus.HistogramVec
}

// route is one API endpoint. The table is the single source of the mux and is checked against the
// OpenAPI description by a test.
type route struct {
	method, path string
	roles        []string // nil: no key needed
	handle       func(s *Server, w http.ResponseWriter, r *http.Request) error
}

var (
	anyRole     = []string{RoleRead, RoleIngest, RoleAnalyst, RoleSupervisor, RoleAdmin}
	ingesters   = []string{RoleIngest, RoleAdmin}
	readers     = []string{RoleRead, RoleAnalyst, RoleSupervisor, RoleAdmin}
	analysts    = []string{RoleAnalyst, RoleSupervisor, RoleAdmin}
	supervisors = []string{RoleSupervisor, RoleAdmin}
)

func routes() []route {
	return []route{
		{"POST", "/v1/events", ingesters, (*Server).postEvents},
		{"GET", "/v1/decisions", anyRole, (*Server).getDecisions},
		{"GET", "/v1/decisions/{id}", anyRole, (*Server).getDecision},
		{"GET", "/v1/alerts", readers, (*Server).getAlerts},
		{"GET", "/v1/campaigns", readers, (*Server).getCampaigns},
		{"GET", "/v1/watchlist", readers, (*Server).getWatchlist},
		{"POST", "/v1/watchlist", analysts, (*Server).postWatchlist},
		{"POST", "/v1/watchlist/remove", analysts, (*Server).postWatchlistRemove},
		{"POST", "/v1/watchlist/pin", analysts, (*Server).postWatchlistPin},
		{"POST", "/v1/accounts/{account}/unlock", analysts, (*Server).postUnlock},
		{"GET", "/v1/audit", readers, (*Server).getAudit},
		{"GET", "/v1/incidents", readers, (*Server).getIncidents},
		{"POST", "/v1/incidents", analysts, (*Server).postIncident},
		{"GET", "/v1/incidents/{id}", readers, (*Server).getIncident},
		{"GET", "/v1/incidents/{id}/reconstruction", readers, (*Server).getReconstruction},
		{"POST", "/v1/incidents/{id}/orders", analysts, (*Server).postIncidentOrders},
		{"POST", "/v1/incidents/{id}/executions", analysts, (*Server).postIncidentExecutions},
		{"POST", "/v1/incidents/{id}/assess", analysts, (*Server).postIncidentAssess},
		{"POST", "/v1/incidents/{id}/approve", supervisors, (*Server).postIncidentApprove},
		{"GET", "/v1/incidents/{id}/evidence", readers, (*Server).getEvidence},
		{"GET", "/v1/compensations", readers, (*Server).getCompensations},
		{"GET", "/v1/tally", readers, (*Server).getTally},
		{"GET", "/v1/tally/revisions", readers, (*Server).getTallyRevisions},
		{"GET", "/v1/tally/filings", readers, (*Server).getFilings},
		{"POST", "/v1/tally/filings", supervisors, (*Server).postFiling},
		{"GET", "/v1/openapi.json", nil, (*Server).getOpenAPI},
		{"GET", "/metrics", readers, (*Server).getMetrics},
		{"GET", "/healthz", nil, (*Server).getHealth},
		{"GET", "/readyz", nil, (*Server).getReady},
	}
}

//go:embed openapi.json
var openAPI []byte

// New returns the API server.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 4 << 20
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = 1000
	}
	s := &Server{o: o, mux: http.NewServeMux()}
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "brokerguard_http_request_seconds",
		Help:    "HTTP requests by route and status.",
		Buckets: []float64{1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1, 1}}, []string{"route", "code"})
	if o.Registerer != nil {
		o.Registerer.MustRegister(s.latency)
	}
	for _, rt := range routes() {
		s.mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path))
	})
	return s
}

// Handler returns the API's handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ServeMux answers a known path with the wrong method by itself, in text; answer in JSON.
		if _, pattern := s.mux.Handler(r); pattern == "" || pattern == "/" {
			for _, rt := range routes() {
				if matchPath(rt.path, r.URL.Path) && rt.method != r.Method {
					w.Header().Set("Allow", rt.method)
					writeError(w, errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.Method+" not allowed on "+r.URL.Path))
					return
				}
			}
		}
		s.mux.ServeHTTP(w, r)
	})
}

func matchPath(pattern, path string) bool {
	pp, xp := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(pp) != len(xp) {
		return false
	}
	for i := range pp {
		if strings.HasPrefix(pp[i], "{") || pp[i] == xp[i] {
			continue
		}
		return false
	}
	return true
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// wrap adds authentication, error presentation, panic recovery, metrics and logging to a route.
func (s *Server) wrap(rt route) http.Handler {
	name := rt.method + " " + rt.path
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.o.Log.Error("panic in handler", "route", name, "panic", fmt.Sprint(p))
				if sw.status == 0 {
					writeError(sw, errorf(http.StatusInternalServerError, CodeInternal, "internal error"))
				}
			}
			s.latency.WithLabelValues(name, strconv.Itoa(sw.status)).Observe(time.Since(start).Seconds())
		}()
		if rt.roles != nil {
			k, err := s.authenticate(r, rt.roles)
			if err != nil {
				writeError(sw, present(err))
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), actorKey{}, k))
		}
		if err := rt.handle(s, sw, r); err != nil {
			ae := present(err)
			if ae.status >= 500 {
				s.o.Log.Error("request failed", "route", name, "status", ae.status, "err", err)
			}
			writeError(sw, ae)
		}
	})
}

func (s *Server) authenticate(r *http.Request, roles []string) (*Key, error) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		return nil, errorf(http.StatusUnauthorized, CodeUnauthorized, "missing bearer API key (Authorization: Bearer KEY)")
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	var found *Key
	for i := range s.o.Keys {
		if subtle.ConstantTimeCompare(sum[:], s.o.Keys[i].Hash[:]) == 1 {
			found = &s.o.Keys[i]
		}
	}
	if found == nil {
		return nil, errorf(http.StatusUnauthorized, CodeUnauthorized, "unknown API key")
	}
	for _, role := range roles {
		if found.Role == role {
			return found, nil
		}
	}
	return nil, errorf(http.StatusForbidden, CodeForbidden, "API key "+strconv.Quote(found.Name)+" (role "+found.Role+") may not use this endpoint; it needs one of: "+strings.Join(roles, ", "))
}

// eventResult is one event's outcome in a response.
type eventResult struct {
	Index    int             `json:"index"`
	ID       string          `json:"id,omitempty"`
	Status   string          `json:"status"`
	Decision *event.Decision `json:"decision,omitempty"`
	Error    *errorDetail    `json:"error,omitempty"`
}

func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/x-ndjson") {
		return errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "send application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.o.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("request body over %d bytes", s.o.MaxBodyBytes))
		}
		return errorf(http.StatusBadRequest, CodeBadRequest, "could not read the request body")
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return errorf(http.StatusBadRequest, CodeBadRequest, "empty body: send one event object or an array of events")
	}
	batch := body[0] == '['
	var raws [][]byte
	if batch {
		var arr []json.RawMessage
		if err := json.Unmarshal(body, &arr); err != nil {
			return errorf(http.StatusBadRequest, CodeBadRequest, "body is not a JSON array of events: "+err.Error())
		}
		if len(arr) == 0 {
			return errorf(http.StatusBadRequest, CodeBadRequest, "empty array: send at least one event")
		}
		if len(arr) > s.o.MaxBatch {
			return errorf(http.StatusRequestEntityTooLarge, CodeBatchTooLarge, fmt.Sprintf("%d events in one request, at most %d", len(arr), s.o.MaxBatch))
		}
		raws = make([][]byte, len(arr))
		for i, m := range arr {
			raws[i] = m
		}
	} else {
		raws = [][]byte{body}
	}
	results, err := s.o.Ingester.Ingest(r.Context(), raws)
	if err != nil {
		return err
	}
	out := make([]eventResult, len(results))
	for i, res := range results {
		out[i] = eventResult{Index: res.Index, ID: res.ID, Status: res.Status, Decision: res.Decision}
		if res.Error != nil {
			out[i].Error = &errorDetail{Code: res.Error.Code, Message: res.Error.Error(), Field: res.Error.Field}
		}
	}
	if !batch {
		if res := results[0]; res.Error != nil {
			return &apiError{status: http.StatusUnprocessableEntity, code: CodeInvalidEvent, message: res.Error.Error(), field: res.Error.Field}
		}
		writeJSON(w, http.StatusOK, out[0])
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": out})
	return nil
}

func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, &apiError{status: http.StatusBadRequest, code: CodeBadRequest, field: name, message: name + ": want RFC 3339 with offset"}
	}
	return t, nil
}

func queryInt(r *http.Request, name string, lo, hi int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, &apiError{status: http.StatusBadRequest, code: CodeBadRequest, field: name, message: fmt.Sprintf("%s: want a whole number %d..%d", name, lo, hi)}
	}
	return n, nil
}

// readWindow reads the query parameters every listing takes: since and until (RFC 3339), before (the
// cursor of the previous page) and limit (default 100, at most 1,000).
func readWindow(r *http.Request, since, until *time.Time, before *int64, limit *int) error {
	var err error
	if *since, err = queryTime(r, "since"); err != nil {
		return err
	}
	if *until, err = queryTime(r, "until"); err != nil {
		return err
	}
	if *before, err = queryInt(r, "before", 1, 1<<62); err != nil {
		return err
	}
	n, err := queryInt(r, "limit", 1, 1000)
	if err != nil {
		return err
	}
	*limit = int(n)
	if *limit == 0 {
		*limit = 100
	}
	return nil
}

type page struct {
	Items any    `json:"items"`
	Next  string `json:"next,omitempty"` // the before= cursor of the next page
}

func (s *Server) getDecisions(w http.ResponseWriter, r *http.Request) error {
	q := store.DecisionQuery{Account: r.URL.Query().Get("account"), Action: r.URL.Query().Get("action")}
	if q.Action != "" {
		if _, ok := event.ParseAction(q.Action); !ok {
			return &apiError{status: http.StatusBadRequest, code: CodeBadRequest, field: "action", message: "action: want allow | review | challenge | hold | block"}
		}
	}
	if err := readWindow(r, &q.Since, &q.Until, &q.Before, &q.Limit); err != nil {
		return err
	}
	ds, err := s.o.Store.Decisions(r.Context(), q)
	if err != nil {
		return err
	}
	items := make([]decisionOut, len(ds))
	for i, d := range ds {
		items[i] = toDecisionOut(d)
	}
	p := page{Items: items}
	if len(ds) == q.Limit {
		p.Next = strconv.FormatInt(ds[len(ds)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// decisionOut is a stored decision as the API shows it: the contract's fields plus the event time.
type decisionOut struct {
	event.Decision
	Time time.Time `json:"time"`
}

func toDecisionOut(d store.StoredDecision) decisionOut {
	if d.Reasons == nil {
		d.Reasons = []event.Reason{}
	}
	return decisionOut{Decision: d.Decision, Time: d.Decision.Time}
}

func (s *Server) getDecision(w http.ResponseWriter, r *http.Request) error {
	d, err := s.o.Store.Decision(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toDecisionOut(d))
	return nil
}

func (s *Server) getAlerts(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	q := store.AlertQuery{Kind: qv.Get("kind"), Account: qv.Get("account"), Symbol: qv.Get("symbol")}
	if err := readWindow(r, &q.Since, &q.Until, &q.Before, &q.Limit); err != nil {
		return err
	}
	as, err := s.o.Store.Alerts(r.Context(), q)
	if err != nil {
		return err
	}
	items := make([]event.Alert, len(as))
	for i, a := range as {
		items[i] = a.Alert
		if items[i].Reasons == nil {
			items[i].Reasons = []event.Reason{}
		}
	}
	p := page{Items: items}
	if len(as) == q.Limit {
		p.Next = strconv.FormatInt(as[len(as)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) getOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPI)
	return err
}

func (s *Server) getMetrics(w http.ResponseWriter, r *http.Request) error {
	if s.o.Gatherer == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "metrics not enabled")
	}
	promhttp.HandlerFor(s.o.Gatherer, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}

func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) getReady(w http.ResponseWriter, r *http.Request) error {
	if !s.o.Ingester.Ready() {
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "not taking events: rebuilding state from the store, the store is not committing, or shutting down")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.o.Store.Ping(ctx); err != nil {
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "store not reachable")
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
