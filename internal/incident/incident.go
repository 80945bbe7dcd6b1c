// Package incident is the incident register: every case of account takeover from the fraud report
// (or an analyst, or detection) to the supervisor's approval. It proposes the unauthorized orders from
// detection's decisions with their evidence, keeps the analyst's edits (orders, executions excluded),
// reconstructs the incident from its account's stored events (internal/reconstruct), values it under
// the firm's policy (internal/compensation) and records the approval. Every action goes through the
// audit trail (internal/audit) and the register is rebuilt from it at start.
package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/brokerguard/brokerguard/internal/audit"
	"github.com/brokerguard/brokerguard/internal/compensation"
	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/fault"
	"github.com/brokerguard/brokerguard/internal/reconstruct"
	"github.com/brokerguard/brokerguard/internal/store"
)

// Incident actions in the audit trail.
const (
	ActionIncidentOpen    = "incident.open"
	ActionIncidentOrders  = "incident.orders"
	ActionIncidentExecs   = "incident.executions"
	ActionIncidentAssess  = "incident.assess"
	ActionIncidentApprove = "incident.approve"
)

// Incident sources and statuses.
const (
	SourceFraudReport = "fraud_report"
	SourceAnalyst     = "analyst"
	SourceDetection   = "detection"

	StatusProposed = "proposed" // detection's proposal: no report yet, nobody working it
	StatusOpen     = "open"     // being reconstructed
	StatusAssessed = "assessed" // valued under a policy, waiting for a supervisor
	StatusApproved = "approved" // final
)

// ReportCode is the reason code of the alert a fraud report raises; such alerts open incidents.
const ReportCode = detect.FraudReportedCode

// Incident is one case of account takeover being made good: the account, the unauthorized orders
// (with any executions excluded by an analyst), the assessment under a policy and its approval.
type Incident struct {
	ID         string            `json:"id"`
	Account    string            `json:"account"`
	Source     string            `json:"source"`
	Status     string            `json:"status"`
	Opened     time.Time         `json:"opened"`
	OpenedBy   string            `json:"opened_by"`
	ReportTime time.Time         `json:"report_time,omitzero"`
	Orders     []string          `json:"orders"`
	Excluded   map[string]string `json:"excluded_executions,omitempty"` // execution (exec_id or event id) → reason
	Factors    []string          `json:"factors,omitempty"`
	// Evidence is why detection proposed the orders it proposed, order by order.
	Evidence   []Evidence  `json:"evidence,omitempty"`
	Assessment *Assessment `json:"assessment,omitempty"`
	Approval   *Approval   `json:"approval,omitempty"`
	// Audit are the audit records of the incident, oldest first.
	Audit []int64 `json:"audit"`
}

// Assessment is an incident valued under a policy.
type Assessment struct {
	Seq    int64                `json:"audit_seq"`
	By     string               `json:"by"`
	Time   time.Time            `json:"time"`
	Policy string               `json:"policy"`
	Result *compensation.Result `json:"result"`
}

// Approval is a supervisor's sign-off on an assessment; after it the incident is final.
type Approval struct {
	Seq        int64     `json:"audit_seq"`
	By         string    `json:"by"`
	Time       time.Time `json:"time"`
	Assessment int64     `json:"assessment_seq"`
	Amount     string    `json:"amount"` // the recommended amount approved, whole yen
	Reason     string    `json:"reason"`
}

// Store is what the register reads of the store: the fraud reports and detections (account_takeover
// alerts), an account's decisions and an account's events. store.Store implements it.
type Store interface {
	Alerts(ctx context.Context, q store.AlertQuery) ([]store.StoredAlert, error)
	Decisions(ctx context.Context, q store.DecisionQuery) ([]store.StoredDecision, error)
	AccountEvents(ctx context.Context, account string, fn func(seq int64, rec store.EventRecord) error) error
	// ScanEvents reads the whole log, for the market's prices that valuation needs.
	ScanEvents(ctx context.Context, after int64, fn func(seq int64, rec store.EventRecord) error) error
}

// Options configure a Register; a Register is complete once built.
type Options struct {
	// Store is read for the reports, decisions and events incidents are made of. Required.
	Store Store
	// Trail writes each action before it applies; its data clock is the time incidents are opened at.
	// Required.
	Trail *audit.Trail
	// Policy is the firm's compensation policy (nil: restore).
	Policy *compensation.Policy
}

// Register is the incident register. It is safe for concurrent use.
type Register struct {
	store  Store
	trail  *audit.Trail
	policy *compensation.Policy

	incOnce sync.Once
	inc     *incidents
}

// New returns a register; Restore fills it from the audit trail.
func New(o Options) *Register {
	if o.Store == nil || o.Trail == nil {
		panic("incident: Options.Store and Options.Trail are required")
	}
	return &Register{store: o.Store, trail: o.Trail, policy: o.Policy}
}

// Actions are the audit actions the register records and replays.
func Actions() []string {
	return []string{ActionIncidentOpen, ActionIncidentOrders, ActionIncidentExecs, ActionIncidentAssess, ActionIncidentApprove}
}

// Restore replays the register's actions from the audit trail; it returns how many it applied.
func (d *Register) Restore(ctx context.Context) (int, error) {
	return d.trail.Replay(ctx, Actions(), d.replayIncident)
}

// incidents is the incident register's state, rebuilt from the audit trail.
type incidents struct {
	mu sync.Mutex
	m  map[string]*Incident

	// The stored account_takeover alerts read so far (up to seq upTo), newest first, so that a listing
	// reads only those stored since the last one. Only what incidents are made of is kept.
	alertsMu            sync.Mutex
	upTo                int64
	reports, detections []store.StoredAlert
}

func (d *Register) register() *incidents {
	d.incOnce.Do(func() { d.inc = &incidents{m: map[string]*Incident{}} })
	return d.inc
}

// OpenRequest opens an incident. Orders empty: proposed from the account's decisions.
type OpenRequest struct {
	ID         string    `json:"id,omitempty"`
	Account    string    `json:"account"`
	Orders     []string  `json:"orders,omitempty"`
	ReportTime time.Time `json:"report_time,omitzero"`
	Factors    []string  `json:"factors,omitempty"`
	Source     string    `json:"source,omitempty"`
	// Until ends the 14 days in which detection looks for orders when none are named (default: the
	// report time, else now).
	Until time.Time `json:"until,omitzero"`
}

type openData struct {
	OpenRequest
	Proposed []Evidence `json:"proposed,omitempty"`
	// Opened and OpenedBy keep when and by whom an incident was opened when an analyst's first edit
	// takes it into the register: a fraud report's incident was opened by the report, at its time.
	Opened   time.Time `json:"opened,omitzero"`
	OpenedBy string    `json:"opened_by,omitempty"`
}

// Evidence is why an order looks unauthorized: its own decision, and the login of its session when
// that login was flagged.
type Evidence struct {
	Event        string   `json:"event"`
	OrderID      string   `json:"order_id"`
	Time         string   `json:"time"`
	Action       string   `json:"action"`
	Score        int      `json:"score"`
	Reasons      []string `json:"reasons"`
	Session      string   `json:"session,omitempty"`
	Login        string   `json:"login,omitempty"` // the flagged login that opened the session
	LoginReasons []string `json:"login_reasons,omitempty"`
}

// Incidents lists the register, newest first, with the fraud reports that no incident covers yet as
// open incidents of source fraud_report (their id is inc-<report event id>). A report of an account
// whose incident is still being worked joins that incident instead of opening another.
func (d *Register) Incidents(ctx context.Context) ([]Incident, error) {
	reg := d.register()
	reports, detections, err := d.alerts(ctx)
	if err != nil {
		return nil, err
	}
	reg.mu.Lock()
	out := make([]Incident, 0, len(reg.m)+len(reports))
	working := map[string]bool{} // accounts with an incident not yet final: a new report joins it
	for _, inc := range reg.m {
		out = append(out, *inc)
		if inc.Status != StatusApproved {
			working[inc.Account] = true
		}
	}
	// Reports come newest first; of several reports of one account, the oldest opens the incident and
	// the later ones join it.
	open := map[string]int{}
	for _, a := range reports {
		if _, ok := reg.m[reportIncidentID(a.ID)]; ok {
			continue
		}
		inc := reportIncident(a)
		if working[inc.Account] {
			continue
		}
		if i, ok := open[inc.Account]; ok {
			out[i] = inc // an older report of the same account
			continue
		}
		open[inc.Account] = len(out)
		out = append(out, inc)
	}
	// Accounts detection alerted on that nobody reported or works on: one proposal each, from the
	// latest alert.
	for _, a := range detections {
		if len(a.Accounts) != 1 {
			continue
		}
		acct := a.Accounts[0]
		if _, ok := open[acct]; ok || working[acct] {
			continue
		}
		if _, ok := reg.m[proposalID(a.ID)]; ok {
			continue
		}
		open[acct] = len(out)
		out = append(out, proposal(a))
	}
	reg.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Opened.Equal(out[j].Opened) {
			return out[i].Opened.After(out[j].Opened)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func reportIncidentID(alertID string) string { return "inc-" + strings.TrimPrefix(alertID, "rep-") }

func reportIncident(a store.StoredAlert) Incident {
	acct := ""
	if len(a.Accounts) > 0 {
		acct = a.Accounts[0]
	}
	return Incident{ID: reportIncidentID(a.ID), Account: acct, Source: SourceFraudReport, Status: StatusOpen,
		Opened: a.Time, OpenedBy: "fraud_report", ReportTime: a.Time, Orders: []string{}, Audit: []int64{}}
}

func proposalID(alertID string) string { return "prop-" + alertID }

func proposal(a store.StoredAlert) Incident {
	return Incident{ID: proposalID(a.ID), Account: a.Accounts[0], Source: SourceDetection, Status: StatusProposed,
		Opened: a.Time, OpenedBy: "detection", Orders: []string{}, Audit: []int64{}}
}

// alerts returns the stored account_takeover alerts, newest first: those raised by fraud reports, and
// detection's. It reads from the store only the alerts stored since its last call, in pages that grow
// from 16 (the store appends alerts in seq order, from one writer).
func (d *Register) alerts(ctx context.Context) (reports, detections []store.StoredAlert, err error) {
	reg := d.register()
	reg.alertsMu.Lock()
	defer reg.alertsMu.Unlock()
	var newReports, newDetections []store.StoredAlert
	upTo, before, limit := reg.upTo, int64(0), 16
	for seen := false; !seen; {
		as, err := d.store.Alerts(ctx, store.AlertQuery{Kind: event.AlertAccountTakeover, Before: before, Limit: limit})
		if err != nil {
			return nil, nil, err
		}
		for _, a := range as {
			if seen = a.Seq <= reg.upTo; seen {
				break
			}
			upTo = max(upTo, a.Seq)
			slim := store.StoredAlert{Seq: a.Seq, Alert: event.Alert{ID: a.ID, Time: a.Time, Kind: a.Kind, Accounts: a.Accounts}}
			if len(a.Reasons) > 0 && a.Reasons[0].Code == ReportCode {
				newReports = append(newReports, slim)
			} else {
				newDetections = append(newDetections, slim)
			}
		}
		if len(as) < limit {
			break
		}
		before, limit = as[len(as)-1].Seq, min(limit*8, 1000)
	}
	if len(newReports) > 0 {
		reg.reports = append(newReports, reg.reports...)
	}
	if len(newDetections) > 0 {
		reg.detections = append(newDetections, reg.detections...)
	}
	reg.upTo = upTo
	return reg.reports, reg.detections, nil
}

// Incident returns one incident.
func (d *Register) Incident(ctx context.Context, id string) (Incident, error) {
	reg := d.register()
	reg.mu.Lock()
	inc, ok := reg.m[id]
	var out Incident
	if ok {
		out = *inc
	}
	reg.mu.Unlock()
	if ok {
		return out, nil
	}
	if strings.HasPrefix(id, "inc-") || strings.HasPrefix(id, "prop-") {
		reports, detections, err := d.alerts(ctx)
		if err != nil {
			return Incident{}, err
		}
		for _, a := range reports {
			if reportIncidentID(a.ID) == id {
				return reportIncident(a), nil
			}
		}
		for _, a := range detections {
			if proposalID(a.ID) == id && len(a.Accounts) == 1 {
				return proposal(a), nil
			}
		}
	}
	return Incident{}, fault.Errorf(fault.ErrNotFound, "no incident %q", id)
}

// OpenIncident opens an incident. Without orders, the account's orders that detection found
// suspicious in the 14 days before the report (or now) are proposed, with their evidence.
func (d *Register) OpenIncident(ctx context.Context, actor string, req OpenRequest, reason string) (Incident, error) {
	return d.open(ctx, actor, req, reason, false, nil)
}

// open opens an incident; with allowEmpty, one for which detection proposes no order is opened
// without orders instead of refused. from is the listed incident an edit takes into the register: it
// keeps its opening time and opener.
func (d *Register) open(ctx context.Context, actor string, req OpenRequest, reason string, allowEmpty bool, from *Incident) (Incident, error) {
	if err := audit.NeedReason(reason); err != nil {
		return Incident{}, err
	}
	if req.Account == "" {
		return Incident{}, fault.Errorf(fault.ErrInvalid, "account: required")
	}
	if req.Source == "" {
		req.Source = SourceAnalyst
	}
	if req.Source != SourceAnalyst && req.Source != SourceDetection && req.Source != SourceFraudReport {
		return Incident{}, fault.Errorf(fault.ErrInvalid, "source: %q, want analyst, detection or fraud_report", req.Source)
	}
	now := d.trail.Data().UTC()
	if req.ID == "" {
		req.ID = fmt.Sprintf("inc-%s-%d", req.Account, now.UnixNano())
	}
	reg := d.register()
	reg.mu.Lock()
	_, exists := reg.m[req.ID]
	reg.mu.Unlock()
	if exists {
		return Incident{}, fault.Errorf(fault.ErrConflict, "incident %q is already open", req.ID)
	}
	data := openData{OpenRequest: req}
	if from != nil {
		data.Opened, data.OpenedBy = from.Opened, from.OpenedBy
	}
	if len(req.Orders) == 0 {
		until := req.ReportTime
		if until.IsZero() {
			until = req.Until
		}
		if until.IsZero() {
			until = now
		}
		ev, err := d.propose(ctx, req.Account, until.Add(-14*24*time.Hour), until)
		if err != nil {
			return Incident{}, err
		}
		if len(ev) == 0 && !allowEmpty {
			return Incident{}, fault.Errorf(fault.ErrInvalid, "account %q: no orders flagged by detection in the 14 days before %s; name the orders",
				req.Account, until.Format(time.RFC3339))
		}
		data.Proposed = ev
		for _, e := range ev {
			if !slices.Contains(data.Orders, e.OrderID) {
				data.Orders = append(data.Orders, e.OrderID)
			}
		}
	}
	var out Incident
	_, err := d.trail.Record(ctx, actor, ActionIncidentOpen, "incident:"+req.ID, reason, data, func(r *store.AuditRecord) error {
		out = d.applyOpen(r, data)
		return nil
	})
	return out, err
}

func (d *Register) applyOpen(r *store.AuditRecord, data openData) Incident {
	opened, by := audit.At(r), r.Actor
	if !data.Opened.IsZero() {
		opened, by = data.Opened, data.OpenedBy
	}
	inc := &Incident{ID: data.ID, Account: data.Account, Source: data.Source, Status: StatusOpen, Opened: opened,
		OpenedBy: by, ReportTime: data.ReportTime, Orders: data.Orders, Factors: data.Factors, Evidence: data.Proposed,
		Audit: []int64{r.Seq}}
	if inc.Orders == nil {
		inc.Orders = []string{}
	}
	reg := d.register()
	reg.mu.Lock()
	reg.m[inc.ID] = inc
	reg.mu.Unlock()
	return *inc
}

// propose returns the account's orders in [since, until] that detection found suspicious, as evidence:
// orders decided review or above or carrying takeover signs, and every order of a session whose login
// was.
func (d *Register) propose(ctx context.Context, account string, since, until time.Time) ([]Evidence, error) {
	decs, err := d.store.Decisions(ctx, store.DecisionQuery{Account: account, Since: since, Until: until, Limit: 1000})
	if err != nil {
		return nil, err
	}
	all := map[string]store.StoredDecision{}
	flagged := map[string]bool{}
	for _, dc := range decs {
		all[dc.ID] = dc
		if dc.Action >= event.ActionReview || hasSigns(dc.Reasons) {
			flagged[dc.ID] = true
		}
	}
	if len(flagged) == 0 {
		return nil, nil
	}
	sessions := map[string]string{} // session → the flagged login that opened it
	var out []Evidence
	err = d.store.AccountEvents(ctx, account, func(_ int64, rec store.EventRecord) error {
		if rec.Type != "login" && rec.Type != "order" {
			return nil
		}
		if _, ok := all[rec.ID]; !ok {
			return nil
		}
		e, err := event.Decode(rec.Raw)
		if err != nil {
			return nil
		}
		if rec.Type == "login" {
			if flagged[rec.ID] && e.Session != "" {
				sessions[e.Session] = rec.ID
			}
			return nil
		}
		login, inSession := sessions[e.Session]
		if e.OrderID == "" || (!flagged[rec.ID] && !inSession) {
			return nil
		}
		dc := all[rec.ID]
		ev := Evidence{Event: rec.ID, OrderID: e.OrderID, Time: rec.Time.Format(time.RFC3339Nano), Action: dc.Action.String(),
			Score: dc.Score, Session: e.Session, Login: login}
		for _, r := range dc.Reasons {
			ev.Reasons = append(ev.Reasons, r.Code)
		}
		if inSession {
			for _, r := range all[login].Reasons {
				ev.LoginReasons = append(ev.LoginReasons, r.Code)
			}
		}
		out = append(out, ev)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Time < out[j].Time })
	return out, err
}

func hasSigns(rs []event.Reason) bool {
	for _, r := range rs {
		if detect.IsTakeoverSign(r.Code) {
			return true
		}
	}
	return false
}

// editable returns the incident for a change, refusing approved ones. An open fraud-report incident
// that is not in the register yet is opened first, with the orders detection proposes.
func (d *Register) editable(ctx context.Context, actor, id string) (*Incident, error) {
	reg := d.register()
	reg.mu.Lock()
	inc := reg.m[id]
	reg.mu.Unlock()
	if inc == nil {
		virt, err := d.Incident(ctx, id)
		if err != nil {
			return nil, err
		}
		why := "opened by the customer's fraud report"
		until := time.Time{}
		if virt.Source == SourceDetection {
			why, until = "opened from detection's proposal", virt.Opened.Add(24*time.Hour)
		}
		// Nothing flagged leaves it open without orders, for the analyst to name them.
		if _, err := d.open(ctx, actor, OpenRequest{ID: virt.ID, Account: virt.Account, ReportTime: virt.ReportTime,
			Source: virt.Source, Until: until}, why, true, &virt); err != nil {
			return nil, err
		}
		reg.mu.Lock()
		inc = reg.m[id]
		reg.mu.Unlock()
	}
	if inc.Status == StatusApproved {
		return nil, fault.Errorf(fault.ErrConflict, "incident %q is approved and final", id)
	}
	return inc, nil
}

// OrdersChange adds or removes unauthorized orders.
type OrdersChange struct {
	Add    []string `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// ChangeOrders edits an incident's unauthorized orders; its assessment is dropped.
func (d *Register) ChangeOrders(ctx context.Context, actor, id string, c OrdersChange, reason string) (Incident, error) {
	if err := audit.NeedReason(reason); err != nil {
		return Incident{}, err
	}
	if len(c.Add)+len(c.Remove) == 0 {
		return Incident{}, fault.Errorf(fault.ErrInvalid, "add or remove: name at least one order")
	}
	inc, err := d.editable(ctx, actor, id)
	if err != nil {
		return Incident{}, err
	}
	for _, o := range c.Remove {
		if !slices.Contains(inc.Orders, o) {
			return Incident{}, fault.Errorf(fault.ErrInvalid, "remove: order %q is not in incident %q", o, id)
		}
	}
	var out Incident
	data := struct {
		ID string `json:"id"`
		OrdersChange
	}{id, c}
	_, err = d.trail.Record(ctx, actor, ActionIncidentOrders, "incident:"+id, reason, data, func(r *store.AuditRecord) error {
		out = d.applyOrders(r, id, c)
		return nil
	})
	return out, err
}

func (d *Register) applyOrders(r *store.AuditRecord, id string, c OrdersChange) Incident {
	return d.edit(r, id, func(inc *Incident) {
		for _, o := range c.Remove {
			inc.Orders = slices.DeleteFunc(inc.Orders, func(x string) bool { return x == o })
		}
		for _, o := range c.Add {
			if !slices.Contains(inc.Orders, o) {
				inc.Orders = append(inc.Orders, o)
			}
		}
		inc.Status, inc.Assessment = StatusOpen, nil
	})
}

// edit applies one audited change to a registered incident and returns it (zero when unknown).
func (d *Register) edit(r *store.AuditRecord, id string, change func(inc *Incident)) Incident {
	reg := d.register()
	reg.mu.Lock()
	defer reg.mu.Unlock()
	inc := reg.m[id]
	if inc == nil {
		return Incident{}
	}
	change(inc)
	inc.Audit = append(inc.Audit, r.Seq)
	return *inc
}

// ExecutionsChange excludes executions from the valuation, or includes them again.
type ExecutionsChange struct {
	Exclude []string `json:"exclude,omitempty"`
	Include []string `json:"include,omitempty"`
}

// ChangeExecutions excludes or re-includes executions (by exec_id or event id); its assessment is dropped.
func (d *Register) ChangeExecutions(ctx context.Context, actor, id string, c ExecutionsChange, reason string) (Incident, error) {
	if err := audit.NeedReason(reason); err != nil {
		return Incident{}, err
	}
	if len(c.Exclude)+len(c.Include) == 0 {
		return Incident{}, fault.Errorf(fault.ErrInvalid, "exclude or include: name at least one execution")
	}
	inc, err := d.editable(ctx, actor, id)
	if err != nil {
		return Incident{}, err
	}
	for _, x := range c.Include {
		if _, ok := inc.Excluded[x]; !ok {
			return Incident{}, fault.Errorf(fault.ErrInvalid, "include: execution %q is not excluded", x)
		}
	}
	var out Incident
	data := struct {
		ID string `json:"id"`
		ExecutionsChange
	}{id, c}
	_, err = d.trail.Record(ctx, actor, ActionIncidentExecs, "incident:"+id, reason, data, func(r *store.AuditRecord) error {
		out = d.applyExecs(r, id, c)
		return nil
	})
	return out, err
}

func (d *Register) applyExecs(r *store.AuditRecord, id string, c ExecutionsChange) Incident {
	return d.edit(r, id, func(inc *Incident) {
		if inc.Excluded == nil {
			inc.Excluded = map[string]string{}
		}
		for _, x := range c.Exclude {
			inc.Excluded[x] = r.Reason
		}
		for _, x := range c.Include {
			delete(inc.Excluded, x)
		}
		inc.Status, inc.Assessment = StatusOpen, nil
	})
}

// AssessRequest values an incident under a policy.
type AssessRequest struct {
	Policy        string   `json:"policy,omitempty"` // a built-in name, or "" for the server's policy
	Factors       []string `json:"factors,omitempty"`
	ValuationDate string   `json:"valuation_date,omitempty"`
}

// Reconstruct resolves an incident against its account's stored events, without the excluded
// executions. It reads only that account's events (store AccountEvents): its cost is the account's
// history, not the firm's log. The book it returns holds the account's events only.
func (d *Register) Reconstruct(ctx context.Context, inc *Incident) (*reconstruct.Reconstruction, *reconstruct.Book, error) {
	return d.reconstruct(ctx, inc, false)
}

// reconstruct resolves an incident; with market, the book also holds the market's prices and trading
// days for its valuation.
func (d *Register) reconstruct(ctx context.Context, inc *Incident, market bool) (*reconstruct.Reconstruction, *reconstruct.Book, error) {
	if len(inc.Orders) == 0 {
		return nil, nil, fault.Errorf(fault.ErrInvalid, "incident %q names no unauthorized orders yet", inc.ID)
	}
	ri := reconstruct.Claim{ID: inc.ID, Account: inc.Account, Orders: inc.Orders, ReportTime: inc.ReportTime, Factors: inc.Factors}
	book, err := d.collect(ctx, []reconstruct.Claim{ri}, market)
	if err != nil {
		return nil, nil, err
	}
	rec, ie := book.Reconstruct(&ri)
	if ie != nil {
		return nil, nil, fault.Errorf(fault.ErrInvalid, "%s", ie.Error())
	}
	dropExcluded(rec, inc.Excluded)
	return rec, book, nil
}

// dropExcluded removes the executions an analyst excluded (by exec_id or event id).
func dropExcluded(rec *reconstruct.Reconstruction, excluded map[string]string) {
	if len(excluded) == 0 {
		return
	}
	for _, o := range rec.Orders {
		o.Fills = slices.DeleteFunc(o.Fills, func(f reconstruct.Fill) bool {
			_, byExec := excluded[f.ExecID]
			_, byEvent := excluded[f.EventID]
			return byExec || byEvent
		})
	}
}

// collect builds a book for the claims from the store. Without market it reads each claim's account's
// events only; with it, the whole log once, for the market's prices (quotes, and executions of any
// account where a symbol has no quote) and trading days that valuation needs.
func (d *Register) collect(ctx context.Context, claims []reconstruct.Claim, market bool) (*reconstruct.Book, error) {
	book := reconstruct.NewBook(claims)
	add := func(seq int64, rec store.EventRecord) error {
		book.Add(rec.Raw, seq)
		return nil
	}
	if market {
		if err := d.store.ScanEvents(ctx, 0, add); err != nil {
			return nil, err
		}
	} else {
		var accounts []string
		for _, c := range claims {
			accounts = append(accounts, c.Account)
		}
		slices.Sort(accounts)
		for _, a := range slices.Compact(accounts) {
			if err := d.store.AccountEvents(ctx, a, add); err != nil {
				return nil, err
			}
		}
	}
	book.Done()
	return book, nil
}

// Assess values an incident under a policy and records the result; it waits for a supervisor.
func (d *Register) Assess(ctx context.Context, actor, id string, req AssessRequest, reason string) (Incident, error) {
	if err := audit.NeedReason(reason); err != nil {
		return Incident{}, err
	}
	inc, err := d.editable(ctx, actor, id)
	if err != nil {
		return Incident{}, err
	}
	p := d.policy
	if req.Policy != "" {
		bp, ok := compensation.Builtin(req.Policy)
		if !ok {
			if d.policy == nil || d.policy.Name != req.Policy {
				return Incident{}, fault.Errorf(fault.ErrInvalid, "policy: %q is neither built in (%s) nor the server's policy", req.Policy, strings.Join(compensation.Builtins(), ", "))
			}
		} else {
			p = bp
		}
	}
	if p == nil {
		p, _ = compensation.Builtin(compensation.BaseRestore)
	}
	var override *reconstruct.Day
	if req.ValuationDate != "" {
		day, err := reconstruct.ParseDay(req.ValuationDate)
		if err != nil {
			return Incident{}, fault.Errorf(fault.ErrInvalid, "valuation_date: %v", err)
		}
		override = &day
	}
	cp := *inc
	if req.Factors != nil {
		cp.Factors = req.Factors
	}
	rec, book, err := d.reconstruct(ctx, &cp, true)
	if err != nil {
		return Incident{}, err
	}
	res, err := compensation.Assess(rec, book, p, override)
	if err != nil {
		return Incident{}, fault.Errorf(fault.ErrInvalid, "%v", err)
	}
	data := struct {
		ID      string               `json:"id"`
		Policy  string               `json:"policy"`
		Factors []string             `json:"factors"`
		Result  *compensation.Result `json:"result"`
	}{id, p.Name, cp.Factors, res}
	var out Incident
	_, err = d.trail.Record(ctx, actor, ActionIncidentAssess, "incident:"+id, reason, data, func(r *store.AuditRecord) error {
		out = d.applyAssess(r, id, p.Name, cp.Factors, res)
		return nil
	})
	return out, err
}

func (d *Register) applyAssess(r *store.AuditRecord, id, policy string, factors []string, res *compensation.Result) Incident {
	return d.edit(r, id, func(inc *Incident) {
		inc.Factors = factors
		inc.Assessment = &Assessment{Seq: r.Seq, By: r.Actor, Time: r.Time, Policy: policy, Result: res}
		inc.Status = StatusAssessed
	})
}

// Approve signs off the incident's assessment. The supervisor must not be its assessor; after it the
// incident is final.
func (d *Register) Approve(ctx context.Context, actor, id, reason string) (Incident, error) {
	if err := audit.NeedReason(reason); err != nil {
		return Incident{}, err
	}
	reg := d.register()
	reg.mu.Lock()
	inc := reg.m[id]
	var cp Incident
	if inc != nil {
		cp = *inc
	}
	reg.mu.Unlock()
	switch {
	case inc == nil:
		return Incident{}, fault.Errorf(fault.ErrNotFound, "no incident %q", id)
	case cp.Status == StatusApproved:
		return Incident{}, fault.Errorf(fault.ErrConflict, "incident %q is already approved", id)
	case cp.Assessment == nil:
		return Incident{}, fault.Errorf(fault.ErrConflict, "incident %q has no assessment to approve", id)
	case cp.Assessment.By == actor:
		return Incident{}, fault.Errorf(fault.ErrConflict, "%s assessed incident %q; another person must approve it", actor, id)
	}
	amount := ""
	if cp.Assessment.Result != nil && cp.Assessment.Result.Decision != nil {
		amount = cp.Assessment.Result.Decision.Recommended.String()
	}
	data := map[string]any{"id": id, "assessment_seq": cp.Assessment.Seq, "amount": amount}
	var out Incident
	_, err := d.trail.Record(ctx, actor, ActionIncidentApprove, "incident:"+id, reason, data, func(r *store.AuditRecord) error {
		out = d.applyApprove(r, id, cp.Assessment.Seq, amount)
		return nil
	})
	return out, err
}

func (d *Register) applyApprove(r *store.AuditRecord, id string, assessment int64, amount string) Incident {
	reg := d.register()
	reg.mu.Lock()
	defer reg.mu.Unlock()
	inc := reg.m[id]
	if inc == nil || inc.Assessment == nil || inc.Assessment.Seq != assessment {
		return Incident{}
	}
	inc.Approval = &Approval{Seq: r.Seq, By: r.Actor, Time: r.Time, Assessment: assessment, Amount: amount, Reason: r.Reason}
	inc.Status = StatusApproved
	inc.Audit = append(inc.Audit, r.Seq)
	return *inc
}

// replayIncident applies one incident action from the trail.
func (d *Register) replayIncident(r *store.AuditRecord) error {
	switch r.Action {
	case ActionIncidentOpen:
		var data openData
		if err := json.Unmarshal(r.Data, &data); err != nil {
			return err
		}
		d.applyOpen(r, data)
	case ActionIncidentOrders:
		var data struct {
			ID string `json:"id"`
			OrdersChange
		}
		if err := json.Unmarshal(r.Data, &data); err != nil {
			return err
		}
		d.applyOrders(r, data.ID, data.OrdersChange)
	case ActionIncidentExecs:
		var data struct {
			ID string `json:"id"`
			ExecutionsChange
		}
		if err := json.Unmarshal(r.Data, &data); err != nil {
			return err
		}
		d.applyExecs(r, data.ID, data.ExecutionsChange)
	case ActionIncidentAssess:
		var data struct {
			ID      string               `json:"id"`
			Policy  string               `json:"policy"`
			Factors []string             `json:"factors"`
			Result  *compensation.Result `json:"result"`
		}
		if err := json.Unmarshal(r.Data, &data); err != nil {
			return err
		}
		d.applyAssess(r, data.ID, data.Policy, data.Factors, data.Result)
	case ActionIncidentApprove:
		var data struct {
			ID         string `json:"id"`
			Assessment int64  `json:"assessment_seq"`
			Amount     string `json:"amount"`
		}
		if err := json.Unmarshal(r.Data, &data); err != nil {
			return err
		}
		d.applyApprove(r, data.ID, data.Assessment, data.Amount)
	}
	return nil
}

func sortIncidents(incs []*Incident) {
	sort.Slice(incs, func(i, j int) bool { return incs[i].ID < incs[j].ID })
}

// Confirmed reconstructs the confirmed incidents (assessed or approved), in id order, without the
// executions excluded, for the regulator's tally; an incident that no longer reconstructs is left out.
func (d *Register) Confirmed(ctx context.Context) ([]*reconstruct.Reconstruction, error) {
	reg := d.register()
	reg.mu.Lock()
	var incs []*Incident
	for _, inc := range reg.m {
		if inc.Status == StatusAssessed || inc.Status == StatusApproved {
			cp := *inc
			incs = append(incs, &cp)
		}
	}
	reg.mu.Unlock()
	sortIncidents(incs)
	if len(incs) == 0 {
		return nil, nil
	}
	ris := make([]reconstruct.Claim, len(incs))
	for i, inc := range incs {
		ris[i] = reconstruct.Claim{ID: inc.ID, Account: inc.Account, Orders: inc.Orders, ReportTime: inc.ReportTime}
	}
	book, err := d.collect(ctx, ris, false)
	if err != nil {
		return nil, err
	}
	var recs []*reconstruct.Reconstruction
	for i := range ris {
		rec, ie := book.Reconstruct(&ris[i])
		if ie != nil {
			continue
		}
		dropExcluded(rec, incs[i].Excluded)
		recs = append(recs, rec)
	}
	return recs, nil
}
