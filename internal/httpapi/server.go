// Package httpapi is brokerguard's HTTP API: events in (one or a batch, decisions returned synchronously
// after they are stored), decisions and alerts out, health, readiness, Prometheus metrics and the OpenAPI
// description. Every /v1 route but the description needs a bearer API key of the right role.
package httpapi

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/brokerguard/brokerguard/internal/desk"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/incident"
	"github.com/brokerguard/brokerguard/internal/ingest"
	"github.com/brokerguard/brokerguard/internal/report"
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
	Keys         KeyRing // nil: no key is accepted
	Gatherer     prometheus.Gatherer
	Registerer   prometheus.Registerer
	Log          *slog.Logger
	MaxBodyBytes int64
	MaxBatch     int
	// MaxInflightRequests bounds the POST /v1/events requests being processed at once (0: no bound);
	// one beyond it is shed with 429 and Retry-After before its body is read. The ingester bounds the
	// events in flight besides.
	MaxInflightRequests int
	// Campaigns, Desk, Incidents, Reports and Audit serve the campaign layer, the analyst desk, the
	// incident register, the regulator's tally and filings, and the audit trail; nil
	// turns those endpoints off.
	Campaigns Campaigns
	Desk      *desk.Desk
	Incidents *incident.Register
	Reports   *report.Filer
	Audit     Auditor
	// DataNow is the data's time: that of the latest event seen. The watchlist and the campaigns are
	// shown as they stand then unless a request names another time. Nil (or a zero time): the wall
	// clock.
	DataNow func() time.Time
	// Notices take customers' answers to notices; nil turns POST /v1/notices/{id}/answer off.
	Notices NoticeAnswers
}

// Server is the HTTP API.
type Server struct {
	o       Options
	mux     *http.ServeMux
	latency *prometheus.HistogramVec
	// posting counts the POST /v1/events requests being processed.
	posting atomic.Int64
}

// route is one API endpoint. The table is the single source of the mux and is checked against the
// OpenAPI description by a test.
type route struct {
	method, path string
	roles        []string // nil: no key needed
	handle       func(s *Server, w http.ResponseWriter, r *http.Request) error
	// query are the query parameters the route takes; any other is refused on /v1 routes that need a
	// key.
	query []string
}

func query(names ...string) []string { return names }

var (
	anyRole     = []string{RoleRead, RoleIngest, RoleAnalyst, RoleSupervisor, RoleAdmin}
	ingesters   = []string{RoleIngest, RoleAdmin}
	readers     = []string{RoleRead, RoleAnalyst, RoleSupervisor, RoleAdmin}
	analysts    = []string{RoleAnalyst, RoleSupervisor, RoleAdmin}
	supervisors = []string{RoleSupervisor, RoleAdmin}
	// resolvers release and cancel held items: the firm's app (ingest key) posts the customer's
	// step-up result, an analyst releases by hand.
	resolvers = []string{RoleIngest, RoleAnalyst, RoleSupervisor, RoleAdmin}
)

func routes() []route {
	return []route{
		{"POST", "/v1/events", ingesters, (*Server).postEvents, nil},
		{"GET", "/v1/decisions", anyRole, (*Server).getDecisions, query("account", "action", "since", "until", "limit", "before")},
		{"GET", "/v1/decisions/{id}", anyRole, (*Server).getDecision, nil},
		{"GET", "/v1/alerts", readers, (*Server).getAlerts, query("kind", "account", "symbol", "since", "until", "limit", "before")},
		{"GET", "/v1/campaigns", readers, (*Server).getCampaigns, query("at")},
		{"GET", "/v1/watchlist", readers, (*Server).getWatchlist, query("all", "at")},
		{"POST", "/v1/watchlist", analysts, (*Server).postWatchlist, nil},
		{"POST", "/v1/watchlist/remove", analysts, (*Server).postWatchlistRemove, nil},
		{"POST", "/v1/watchlist/pin", analysts, (*Server).postWatchlistPin, nil},
		{"POST", "/v1/accounts/{account}/unlock", analysts, (*Server).postUnlock, nil},
		{"GET", "/v1/accounts/{account}/held", anyRole, (*Server).getHeld, query("limit")},
		{"POST", "/v1/held/{id}/release", resolvers, (*Server).postHeldRelease, nil},
		{"POST", "/v1/held/{id}/cancel", resolvers, (*Server).postHeldCancel, nil},
		{"POST", "/v1/notices/{id}/answer", ingesters, (*Server).postNoticeAnswer, nil},
		{"GET", "/v1/audit", readers, (*Server).getAudit, query("target", "action", "after", "limit")},
		{"GET", "/v1/incidents", readers, (*Server).getIncidents, query("status", "account", "limit", "cursor")},
		{"POST", "/v1/incidents", analysts, (*Server).postIncident, nil},
		{"GET", "/v1/incidents/{id}", readers, (*Server).getIncident, nil},
		{"GET", "/v1/incidents/{id}/reconstruction", readers, (*Server).getReconstruction, nil},
		{"POST", "/v1/incidents/{id}/orders", analysts, (*Server).postIncidentOrders, nil},
		{"POST", "/v1/incidents/{id}/executions", analysts, (*Server).postIncidentExecutions, nil},
		{"POST", "/v1/incidents/{id}/assess", analysts, (*Server).postIncidentAssess, nil},
		{"POST", "/v1/incidents/{id}/approve", supervisors, (*Server).postIncidentApprove, nil},
		{"GET", "/v1/incidents/{id}/evidence", readers, (*Server).getEvidence, nil},
		{"GET", "/v1/compensations", readers, (*Server).getCompensations, nil},
		{"GET", "/v1/tally", readers, (*Server).getTally, query("format")},
		{"GET", "/v1/tally/revisions", readers, (*Server).getTallyRevisions, query("format")},
		{"GET", "/v1/tally/filings", readers, (*Server).getFilings, nil},
		{"POST", "/v1/tally/filings", supervisors, (*Server).postFiling, nil},
		{"GET", "/v1/openapi.json", nil, (*Server).getOpenAPI, nil},
		{"GET", "/metrics", readers, (*Server).getMetrics, nil},
		{"GET", "/healthz", nil, (*Server).getHealth, nil},
		{"GET", "/readyz", nil, (*Server).getReady, nil},
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

// Paths are the patterns under which the API answers, for a composition root that mounts the API
// beside other handlers (the browser's console at "/"): "/v1" and its subtree, and the API's
// top-level endpoints (/metrics, /healthz, /readyz).
func Paths() []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, rt := range routes() {
		if top, _, sub := strings.Cut(strings.TrimPrefix(rt.path, "/"), "/"); sub {
			add("/" + top)
			add("/" + top + "/")
		} else {
			add(rt.path)
		}
	}
	return out
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
		fail := func(err error) {
			ae := present(err)
			if ae.status >= 500 {
				s.o.Log.Error("request failed", "route", name, "status", ae.status, "err", err)
			}
			writeError(sw, ae)
		}
		if rt.roles != nil {
			// What a key may read is never kept by a cache along the way, nor its errors.
			sw.Header().Set("Cache-Control", "no-store")
			k, err := s.authenticate(r, rt.roles)
			if err != nil {
				fail(err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), actorKey{}, k))
			if strings.HasPrefix(rt.path, "/v1/") {
				if err := checkQuery(r, rt.query); err != nil {
					fail(err)
					return
				}
			}
		}
		if err := rt.handle(s, sw, r); err != nil {
			fail(err)
		}
	})
}

// eventResult is one event's outcome in a response.
type eventResult struct {
	Index    int             `json:"index"`
	Line     int             `json:"line,omitempty"` // in a JSON Lines body, the event's line
	ID       string          `json:"id,omitempty"`
	Status   string          `json:"status"`
	Decision *event.Decision `json:"decision,omitempty"`
	Error    *errorDetail    `json:"error,omitempty"`
}

// Media types of POST /v1/events.
const (
	mediaJSON  = "application/json"     // one event object, or a JSON array of events
	mediaLines = "application/x-ndjson" // JSON Lines: one event per line, blank lines ignored
)

// eventsMedia returns the body's media type, JSON when none is given.
func eventsMedia(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return mediaJSON, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == mediaJSON || mt == mediaLines) {
		return mt, nil
	}
	msg := fmt.Sprintf("Content-Type %q is not accepted: send %s (one event or a JSON array of events) or %s (JSON Lines, one event per line)", ct, mediaJSON, mediaLines)
	if mt == "application/x-www-form-urlencoded" {
		msg = "Content-Type application/x-www-form-urlencoded (what curl -d sends) is not accepted: set Content-Type: " + mediaJSON +
			" for one event or a JSON array, or " + mediaLines + " for JSON Lines"
	}
	return "", errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, msg)
}

// readAll reads a request body of at most limit bytes; a longer one is a 413.
func readAll(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, bodyError(err, limit)
	}
	return body, nil
}

// bodyError presents an error met reading a body of at most limit bytes.
func bodyError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("request body over %d bytes", limit))
	}
	return errorf(http.StatusBadRequest, CodeBadRequest, "could not read the request body")
}

// splitEvents cuts a body into raw events: a JSON array, one object, or JSON Lines. lines[i] is the
// line of raws[i] in a JSON Lines body.
func (s *Server) splitEvents(mt string, body []byte) (raws [][]byte, lines []int, batch bool, err error) {
	switch {
	case mt == mediaLines:
		for i, l := range bytes.Split(body, []byte("\n")) {
			if l = bytes.TrimSpace(l); len(l) > 0 {
				raws, lines = append(raws, l), append(lines, i+1)
			}
		}
		if len(raws) == 0 {
			return nil, nil, true, errorf(http.StatusBadRequest, CodeBadRequest, "empty body: send one event per line")
		}
		batch = true
	case body[0] == '[':
		var arr []json.RawMessage
		if err := json.Unmarshal(body, &arr); err != nil {
			return nil, nil, true, errorf(http.StatusBadRequest, CodeBadRequest, "body is not a JSON array of events: "+err.Error())
		}
		if len(arr) == 0 {
			return nil, nil, true, errorf(http.StatusBadRequest, CodeBadRequest, "empty array: send at least one event")
		}
		raws = make([][]byte, len(arr))
		for i, m := range arr {
			raws[i] = m
		}
		batch = true
	default:
		// One object. A malformed one is the event's own error (422); what follows a whole one is not.
		dec := json.NewDecoder(bytes.NewReader(body))
		var first json.RawMessage
		if dec.Decode(&first) == nil {
			if _, err := dec.Token(); err == nil {
				return nil, nil, false, errorf(http.StatusBadRequest, CodeBadRequest, "body holds more than one JSON value: send a JSON array of events, "+
					"or JSON Lines with Content-Type: "+mediaLines)
			} else if !errors.Is(err, io.EOF) {
				return nil, nil, false, errorf(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("unexpected data after the event at byte %d", len(first)))
			}
		}
		raws = [][]byte{body}
	}
	if len(raws) > s.o.MaxBatch {
		return nil, nil, batch, errorf(http.StatusRequestEntityTooLarge, CodeBatchTooLarge, fmt.Sprintf("%d events in one request, at most %d", len(raws), s.o.MaxBatch))
	}
	return raws, lines, batch, nil
}

// fuller is an Ingester that can tell that it would refuse a request now for overload.
type fuller interface{ Full() bool }

func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) error {
	mt, err := eventsMedia(r)
	if err != nil {
		return err
	}
	// Under overload, shed before reading and parsing the body: a refusal costs next to nothing, and
	// what the server can do goes to the requests it has taken.
	if n := s.posting.Add(1); s.o.MaxInflightRequests > 0 && n > int64(s.o.MaxInflightRequests) {
		s.posting.Add(-1)
		return ingest.ErrOverloaded
	}
	defer s.posting.Add(-1)
	if f, ok := s.o.Ingester.(fuller); ok && f.Full() {
		return ingest.ErrOverloaded
	}
	body, err := readAll(w, r, s.o.MaxBodyBytes)
	if err != nil {
		return err
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return errorf(http.StatusBadRequest, CodeBadRequest, "empty body: send one event object, an array of events or JSON Lines")
	}
	raws, lines, batch, err := s.splitEvents(mt, body)
	if err != nil {
		return err
	}
	results, err := s.o.Ingester.Ingest(r.Context(), raws)
	if err != nil {
		return err
	}
	out := make([]eventResult, len(results))
	for i, res := range results {
		out[i] = eventResult{Index: res.Index, ID: res.ID, Status: res.Status, Decision: res.Decision}
		if lines != nil && res.Index < len(lines) {
			out[i].Line = lines[res.Index]
		}
		if res.Error != nil {
			out[i].Error = &errorDetail{Code: res.Error.Code, Message: res.Error.Error(), Field: res.Error.Field}
		}
	}
	if !batch {
		if res := results[0]; res.Error != nil {
			// The decoder's own code (bad_time, out_of_range, too_late, …) says what is wrong.
			code := res.Error.Code
			if code == "" {
				code = CodeInvalidEvent
			}
			return &apiError{status: http.StatusUnprocessableEntity, code: code, message: res.Error.Error(), field: res.Error.Field}
		}
		writeJSON(w, http.StatusOK, out[0])
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": out})
	return nil
}

// The values the filters of the listings take.
var (
	actions    = []string{"allow", "review", "challenge", "hold", "block"}
	alertKinds = []string{event.AlertAccountTakeover, event.AlertCampaign, event.AlertBeneficiary,
		event.AlertCredentialStuffing, event.AlertSharedInfrastructure, event.AlertPhishingSite}
)

type page struct {
	Items any    `json:"items"`
	Next  string `json:"next,omitempty"` // the before= cursor of the next page
}

func (s *Server) getDecisions(w http.ResponseWriter, r *http.Request) error {
	action, err := queryEnum(r, "action", actions...)
	if err != nil {
		return err
	}
	q := store.DecisionQuery{Account: r.URL.Query().Get("account"), Action: action}
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
	kind, err := queryEnum(r, "kind", alertKinds...)
	if err != nil {
		return err
	}
	qv := r.URL.Query()
	q := store.AlertQuery{Kind: kind, Account: qv.Get("account"), Symbol: qv.Get("symbol")}
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
