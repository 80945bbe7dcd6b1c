package console

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/campaign"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/store"
)

// ErrConflict is what Accounts.Unlock returns for an account that is not locked.
var ErrConflict = errors.New("conflict")

var (
	alertKinds = []string{event.AlertAccountTakeover, event.AlertCampaign, event.AlertBeneficiary, event.AlertCredentialStuffing,
		event.AlertSharedInfrastructure, event.AlertPhishingSite}
	actions = []event.Action{event.ActionAllow, event.ActionReview, event.ActionChallenge, event.ActionHold, event.ActionBlock}
)

// actionCap bounds the decisions of one action the dashboard counts.
const actionCap = 5000

type kindRow struct {
	Kind                 string
	Open, Ack, Dismissed int64
}

type actionRow struct {
	Action string
	Count  int64
	Capped bool
}

type dashboardPage struct {
	DataTime   time.Time
	Counts     store.Counts
	Actions    []actionRow
	ActionsSVG template.HTML
	Kinds      []kindRow
	KindsSVG   template.HTML
	HourlySVG  template.HTML
	Campaigns  []campaign.Campaign
	OpenAlerts int64
}

func (c *Console) kindCounts(ctx context.Context) ([]kindRow, int64, error) {
	counts, err := c.o.Alerts.AlertKindCounts(ctx)
	if err != nil {
		return nil, 0, err
	}
	rows := map[string]*kindRow{}
	var order []string
	var open int64
	for _, k := range counts {
		r := rows[k.Kind]
		if r == nil {
			r = &kindRow{Kind: k.Kind}
			rows[k.Kind] = r
			order = append(order, k.Kind)
		}
		switch k.Status {
		case store.AlertOpen:
			r.Open += k.Count
			open += k.Count
		case store.AlertAcknowledged:
			r.Ack += k.Count
		case store.AlertDismissed:
			r.Dismissed += k.Count
		}
	}
	out := make([]kindRow, 0, len(order))
	for _, k := range order {
		out = append(out, *rows[k])
	}
	return out, open, nil
}

func (c *Console) getDashboard(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	now := c.o.DataNow()
	p := dashboardPage{DataTime: now}
	var err error
	if p.Counts, err = c.o.Decisions.Counts(ctx); err != nil {
		return err
	}
	stats, err := c.actionStats(ctx, now, p.Counts.Decisions)
	if err != nil {
		return err
	}
	p.Actions = stats.rows
	hourly, start := stats.hourly, stats.start
	var bars []bar
	for _, a := range p.Actions {
		bars = append(bars, bar{Label: tr(pageLang(r), "action_"+a.Action), Value: float64(a.Count), Class: "act-" + a.Action})
	}
	p.ActionsSVG = barChart(bars, true)
	if p.Kinds, p.OpenAlerts, err = c.kindCounts(ctx); err != nil {
		return err
	}
	bars = bars[:0]
	for _, k := range p.Kinds {
		bars = append(bars, bar{Label: tr(pageLang(r), "kind_"+k.Kind), Value: float64(k.Open), Class: "kind"})
	}
	p.KindsSVG = barChart(bars, false)
	p.HourlySVG = stackedHours(hourly, []string{"act-review", "act-challenge", "act-hold", "act-block"}, start, c.o.Location)
	if c.o.Campaigns != nil {
		p.Campaigns = c.o.Campaigns.Campaigns(now)
	}
	return c.render(w, r, s, http.StatusOK, "dashboard", p)
}

// actionStats are the dashboard's decisions by action and per hour.
type actionStats struct {
	rows   []actionRow
	hourly [][]float64 // per action after allow, per hour from start
	start  time.Time
}

type statsKey struct{ dataMinute, decisions int64 }

const hours = 48

// actionStats counts the decisions by action (the rare actions from their index, allow as the rest)
// and per hour over the last 48 hours of data; kept while the data time (to the minute) and the
// number of decisions stay the same.
func (c *Console) actionStats(ctx context.Context, now time.Time, decisions int64) (actionStats, error) {
	key := statsKey{now.Truncate(time.Minute).UnixNano(), decisions}
	c.qmu.Lock()
	st, ok := c.scache[key]
	c.qmu.Unlock()
	if ok {
		return st, nil
	}
	var others int64
	capped := false
	st.hourly = make([][]float64, len(actions)-1)
	st.start = now.Truncate(time.Hour).Add(-(hours - 1) * time.Hour)
	for i, a := range actions[1:] {
		ds, err := c.o.Decisions.Decisions(ctx, store.DecisionQuery{Action: a.String(), Limit: actionCap})
		if err != nil {
			return st, err
		}
		row := actionRow{Action: a.String(), Count: int64(len(ds)), Capped: len(ds) == actionCap}
		capped = capped || row.Capped
		others += row.Count
		st.rows = append(st.rows, row)
		st.hourly[i] = make([]float64, hours)
		for _, d := range ds {
			if h := int(d.Time.Sub(st.start) / time.Hour); !d.Time.IsZero() && h >= 0 && h < hours {
				st.hourly[i][h]++
			}
		}
	}
	st.rows = append([]actionRow{{Action: "allow", Count: max(decisions-others, 0), Capped: capped}}, st.rows...)
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if len(c.scache) >= quoteCacheSize {
		clear(c.scache)
	}
	c.scache[key] = st
	return st, nil
}

type alertRow struct {
	store.StoredAlert
	Status store.AlertStatus
}

// alertStatuses are the queue's status filter: a status, or all.
var alertStatuses = []string{store.AlertOpen, store.AlertAcknowledged, store.AlertDismissed, "all"}

type alertsPage struct {
	Kind, Account, Since, Until string
	Status                      string
	Kinds, Statuses             []string
	Rows                        []alertRow
	Next                        string
	First                       bool
	Counts                      []kindRow
	OpenAlerts                  int64
}

const pageSize = 50

// parseLocal reads a time as the console's forms give it (datetime-local) in the console's zone, or
// RFC 3339.
func (c *Console) parseLocal(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, c.o.Location); err == nil {
			return t, nil
		}
	}
	return time.Parse(time.RFC3339, v)
}

func (c *Console) getAlerts(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	q := r.URL.Query()
	p := alertsPage{Kind: q.Get("kind"), Account: strings.TrimSpace(q.Get("account")), Since: q.Get("since"), Until: q.Get("until"), Kinds: alertKinds,
		Status: q.Get("status"), Statuses: alertStatuses}
	if p.Kind != "" && !slices.Contains(alertKinds, p.Kind) {
		return fail(http.StatusBadRequest, "bad_filter")
	}
	if p.Status == "" {
		p.Status = store.AlertOpen // the queue is what is left to do
	}
	if !slices.Contains(alertStatuses, p.Status) {
		return fail(http.StatusBadRequest, "bad_filter")
	}
	aq := store.AlertQuery{Kind: p.Kind, Account: p.Account, Limit: pageSize + 1}
	if p.Status != "all" {
		aq.Status = p.Status
	}
	var err error
	if aq.Since, err = c.parseLocal(p.Since); err != nil {
		return fail(http.StatusBadRequest, "bad_filter")
	}
	if aq.Until, err = c.parseLocal(p.Until); err != nil {
		return fail(http.StatusBadRequest, "bad_filter")
	}
	if b := q.Get("before"); b != "" {
		if aq.Before, err = strconv.ParseInt(b, 10, 64); err != nil || aq.Before < 1 {
			return fail(http.StatusBadRequest, "bad_filter")
		}
	}
	p.First = aq.Before == 0
	as, err := c.o.Alerts.Alerts(ctx, aq)
	if err != nil {
		return err
	}
	more := len(as) > pageSize
	as = as[:min(len(as), pageSize)]
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	sts, err := c.o.Alerts.AlertStatuses(ctx, ids)
	if err != nil {
		return err
	}
	for _, a := range as {
		st, ok := sts[a.ID]
		if !ok {
			st.Status = store.AlertOpen
		}
		p.Rows = append(p.Rows, alertRow{a, st})
	}
	if more {
		nq := url.Values{}
		for _, k := range []string{"kind", "account", "since", "until", "status"} {
			if v := q.Get(k); v != "" {
				nq.Set(k, v)
			}
		}
		nq.Set("before", strconv.FormatInt(as[len(as)-1].Seq, 10))
		p.Next = "/alerts?" + nq.Encode()
	}
	if p.Counts, p.OpenAlerts, err = c.kindCounts(ctx); err != nil {
		return err
	}
	return c.render(w, r, s, http.StatusOK, "alerts", p)
}

// alert returns the alert with the seq in the path, and its status.
func (c *Console) alert(r *http.Request) (alertRow, error) {
	seq, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || seq < 1 {
		return alertRow{}, fail(http.StatusNotFound, "not_found")
	}
	as, err := c.o.Alerts.Alerts(r.Context(), store.AlertQuery{Before: seq + 1, Limit: 1})
	if err != nil {
		return alertRow{}, err
	}
	if len(as) == 0 || as[0].Seq != seq {
		return alertRow{}, fail(http.StatusNotFound, "not_found")
	}
	sts, err := c.o.Alerts.AlertStatuses(r.Context(), []string{as[0].ID})
	if err != nil {
		return alertRow{}, err
	}
	st, ok := sts[as[0].ID]
	if !ok {
		st.Status = store.AlertOpen
	}
	return alertRow{as[0], st}, nil
}

type alertPage struct {
	alertRow
	Done    string
	History []store.AuditRecord
}

func (c *Console) getAlert(w http.ResponseWriter, r *http.Request, s *session) error {
	a, err := c.alert(r)
	if err != nil {
		return err
	}
	hist, err := c.o.Audit.Audit(r.Context(), store.AuditQuery{Target: "alert:" + a.ID, Action: "alert.", Limit: 50})
	if err != nil {
		return err
	}
	return c.render(w, r, s, http.StatusOK, "alert", alertPage{alertRow: a, Done: r.URL.Query().Get("done"), History: hist})
}

// changeAlert audits and applies a change of an alert's status, then sends the browser back to it.
func (c *Console) changeAlert(w http.ResponseWriter, r *http.Request, s *session, action string, change func(st *store.AlertStatus) error) error {
	a, err := c.alert(r)
	if err != nil {
		return err
	}
	st := a.Status
	st.Alert, st.Kind = a.ID, a.Kind
	if err := change(&st); err != nil {
		return err
	}
	st.Actor, st.Changed = s.user.Name, c.o.Now().UTC()
	data, _ := json.Marshal(map[string]string{"status": st.Status, "assignee": st.Assignee, "kind": a.Kind, "seq": strconv.FormatInt(a.Seq, 10)})
	if err := c.audit(r.Context(), s.user.Name, action, "alert:"+a.ID, st.Reason, data); err != nil {
		return err
	}
	if err := c.o.Alerts.SetAlertStatus(r.Context(), st); err != nil {
		return err
	}
	http.Redirect(w, r, "/alerts/"+strconv.FormatInt(a.Seq, 10)+"?done="+url.QueryEscape(action), http.StatusSeeOther)
	return nil
}

func (c *Console) postAlertAck(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.changeAlert(w, r, s, ActionAlertAck, func(st *store.AlertStatus) error {
		st.Status, st.Reason = store.AlertAcknowledged, ""
		return nil
	})
}

func (c *Console) postAlertAssign(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.changeAlert(w, r, s, ActionAlertAssign, func(st *store.AlertStatus) error {
		st.Assignee = s.user.Name
		return nil
	})
}

func (c *Console) postAlertDismiss(w http.ResponseWriter, r *http.Request, s *session) error {
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" || len(reason) > 500 {
		return fail(http.StatusBadRequest, "need_reason")
	}
	return c.changeAlert(w, r, s, ActionAlertDrop, func(st *store.AlertStatus) error {
		st.Status, st.Reason = store.AlertDismissed, reason
		return nil
	})
}

func (c *Console) postAlertReopen(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.changeAlert(w, r, s, ActionAlertReopen, func(st *store.AlertStatus) error {
		st.Status, st.Reason = store.AlertOpen, ""
		return nil
	})
}

// fields are the contract's fields the console shows of an event; absent ones stay zero.
type fields struct {
	Symbol      string  `json:"symbol"`
	Side        string  `json:"side"`
	Quantity    float64 `json:"quantity"`
	Price       float64 `json:"price"`
	Volume      float64 `json:"volume"`
	Amount      float64 `json:"amount"`
	IP          string  `json:"ip"`
	Device      string  `json:"device"`
	Country     string  `json:"country"`
	Channel     string  `json:"channel"`
	Method      string  `json:"method"`
	Result      string  `json:"result"`
	Field       string  `json:"field"`
	Value       string  `json:"value"`
	Destination string  `json:"destination"`
	Session     string  `json:"session"`
	UserAgent   string  `json:"user_agent"`
}

func decodeFields(raw []byte) fields {
	var f fields
	_ = json.Unmarshal(raw, &f)
	return f
}

type timelineItem struct {
	Time     time.Time
	Type     string
	Action   string
	Score    int
	Reasons  []event.Reason
	F        fields
	EventID  string
	AlertSeq int64 // an alert naming the account, instead of a decision
	Kind     string
}

type accountPage struct {
	Account         string
	Known, Locked   bool
	CanUnlock       bool
	Timeline        []timelineItem
	Alerts          []store.StoredAlert
	Audit           []store.AuditRecord
	Done, Truncated string
}

const timelineSize = 200

func (c *Console) getAccount(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	p := accountPage{Account: r.PathValue("account"), Done: r.URL.Query().Get("done")}
	if c.o.Accounts != nil {
		p.Known, p.Locked = c.o.Accounts.Locked(p.Account)
		p.CanUnlock = p.Locked
	}
	ds, err := c.o.Decisions.Decisions(ctx, store.DecisionQuery{Account: p.Account, Limit: timelineSize})
	if err != nil {
		return err
	}
	if len(ds) == timelineSize {
		p.Truncated = strconv.Itoa(timelineSize)
	}
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	evs, err := c.o.Events.EventsByID(ctx, ids)
	if err != nil {
		return err
	}
	byID := make(map[string]fields, len(evs))
	for _, e := range evs {
		byID[e.ID] = decodeFields(e.Raw)
	}
	for _, d := range ds {
		p.Timeline = append(p.Timeline, timelineItem{Time: d.Time, Type: d.Type, Action: d.Action.String(), Score: d.Score,
			Reasons: d.Reasons, F: byID[d.ID], EventID: d.ID})
	}
	if p.Alerts, err = c.o.Alerts.Alerts(ctx, store.AlertQuery{Account: p.Account, Limit: 50}); err != nil {
		return err
	}
	for _, a := range p.Alerts {
		p.Timeline = append(p.Timeline, timelineItem{Time: a.Time, Type: "alert", Kind: a.Kind, Score: a.Score, Reasons: a.Reasons, AlertSeq: a.Seq})
	}
	slices.SortStableFunc(p.Timeline, func(a, b timelineItem) int { return b.Time.Compare(a.Time) })
	if p.Audit, err = c.o.Audit.Audit(ctx, store.AuditQuery{Target: "account:" + p.Account, Limit: 50}); err != nil {
		return err
	}
	if len(ds) == 0 && len(p.Alerts) == 0 && !p.Known {
		return fail(http.StatusNotFound, "not_found")
	}
	return c.render(w, r, s, http.StatusOK, "account", p)
}

// getAccountSearch sends the header's account search to the account's page.
func (c *Console) getAccountSearch(w http.ResponseWriter, r *http.Request, _ *session) error {
	a := strings.TrimSpace(r.URL.Query().Get("account"))
	if a == "" {
		return fail(http.StatusNotFound, "not_found")
	}
	http.Redirect(w, r, "/accounts/"+url.PathEscape(a), http.StatusSeeOther)
	return nil
}

func (c *Console) postUnlock(w http.ResponseWriter, r *http.Request, s *session) error {
	account := r.PathValue("account")
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" || len(reason) > 500 {
		return fail(http.StatusBadRequest, "need_reason")
	}
	if c.o.Accounts == nil {
		return fail(http.StatusNotFound, "not_found")
	}
	err := c.o.Accounts.Unlock(r.Context(), s.user.Name, account, reason)
	switch {
	case errors.Is(err, ErrConflict):
		return fail(http.StatusConflict, "unlock_not_locked")
	case err != nil:
		return err
	}
	http.Redirect(w, r, "/accounts/"+url.PathEscape(account)+"?done=unlocked", http.StatusSeeOther)
	return nil
}

type campaignsPage struct {
	DataTime time.Time
	UnderWay []campaign.Campaign
	Alerts   []store.StoredAlert
}

func (c *Console) getCampaigns(w http.ResponseWriter, r *http.Request, s *session) error {
	p := campaignsPage{DataTime: c.o.DataNow()}
	if c.o.Campaigns != nil {
		p.UnderWay = c.o.Campaigns.Campaigns(p.DataTime)
	}
	var err error
	if p.Alerts, err = c.o.Alerts.Alerts(r.Context(), store.AlertQuery{Kind: event.AlertCampaign, Limit: 100}); err != nil {
		return err
	}
	return c.render(w, r, s, http.StatusOK, "campaigns", p)
}

type party struct {
	Account       string
	Known, Locked bool
	Orders        []mark
}

type campaignPage struct {
	Symbol        string
	Alert         *store.StoredAlert
	UnderWay      bool
	Since         time.Time
	Victims       []party
	Beneficiaries []party
	Chart         template.HTML
	Quotes        int
	Buys, Sells   int
}

func (c *Console) getCampaign(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	p := campaignPage{Symbol: r.PathValue("symbol")}
	as, err := c.o.Alerts.Alerts(ctx, store.AlertQuery{Kind: event.AlertCampaign, Symbol: p.Symbol, Limit: 10})
	if err != nil {
		return err
	}
	var victims, bens []string
	add := func(list []string, names ...string) []string {
		for _, n := range names {
			if !slices.Contains(list, n) {
				list = append(list, n)
			}
		}
		return list
	}
	if c.o.Campaigns != nil {
		for _, cm := range c.o.Campaigns.Campaigns(c.o.DataNow()) {
			if cm.Symbol == p.Symbol {
				p.UnderWay, p.Since = true, cm.Since
				victims, bens = add(victims, cm.Victims...), add(bens, cm.Beneficiaries...)
			}
		}
	}
	for i := range as {
		victims = add(victims, as[i].Accounts...)
	}
	if len(as) > 0 {
		p.Alert = &as[0]
		if p.Since.IsZero() {
			p.Since = as[len(as)-1].Time
		}
	}
	if p.Since.IsZero() {
		return fail(http.StatusNotFound, "not_found")
	}
	bas, err := c.o.Alerts.Alerts(ctx, store.AlertQuery{Kind: event.AlertBeneficiary, Symbol: p.Symbol, Limit: 50})
	if err != nil {
		return err
	}
	for _, a := range bas {
		bens = add(bens, a.Accounts...)
	}
	// The chart covers the trading day before the campaign was found, its day and the day after (as far
	// as the data goes).
	day := time.Date(p.Since.In(c.o.Location).Year(), p.Since.In(c.o.Location).Month(), p.Since.In(c.o.Location).Day(), 0, 0, 0, 0, c.o.Location)
	since, until := day.AddDate(0, 0, -1), day.AddDate(0, 0, 2)
	points, err := c.quotes(ctx, p.Symbol, since, until)
	if err != nil {
		return err
	}
	p.Quotes = len(points)
	var marks []mark
	parties := func(accounts []string, side string) ([]party, error) {
		var out []party
		for _, acc := range accounts {
			pt := party{Account: acc}
			if c.o.Accounts != nil {
				pt.Known, pt.Locked = c.o.Accounts.Locked(acc)
			}
			ms, err := c.orders(ctx, acc, p.Symbol, side, since, until)
			if err != nil {
				return nil, err
			}
			pt.Orders = ms
			marks = append(marks, ms...)
			out = append(out, pt)
		}
		return out, nil
	}
	if p.Victims, err = parties(victims, "buy"); err != nil {
		return err
	}
	if p.Beneficiaries, err = parties(bens, "sell"); err != nil {
		return err
	}
	for _, m := range marks {
		if m.Side == "buy" {
			p.Buys++
		} else {
			p.Sells++
		}
	}
	p.Chart = priceChart(points, marks, c.o.Location, tr(pageLang(r), "chart_price"), tr(pageLang(r), "chart_volume"))
	return c.render(w, r, s, http.StatusOK, "campaign", p)
}

// orders returns the account's orders of symbol on side in [since, until), with their decisions,
// kept like the quotes for the data time at which they were read.
func (c *Console) orders(ctx context.Context, account, symbol, side string, since, until time.Time) ([]mark, error) {
	key := orderKey{quoteKey{symbol, since.UnixNano(), until.UnixNano(), c.o.DataNow().Truncate(time.Minute).UnixNano()}, account, side}
	c.qmu.Lock()
	ms, ok := c.ocache[key]
	c.qmu.Unlock()
	if ok {
		return ms, nil
	}
	ms, err := c.readOrders(ctx, account, symbol, side, since, until)
	if err != nil {
		return nil, err
	}
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if len(c.ocache) >= 16*quoteCacheSize {
		clear(c.ocache)
	}
	c.ocache[key] = ms
	return ms, nil
}

type orderKey struct {
	quoteKey
	account, side string
}

func (c *Console) readOrders(ctx context.Context, account, symbol, side string, since, until time.Time) ([]mark, error) {
	ds, err := c.o.Decisions.Decisions(ctx, store.DecisionQuery{Account: account, Since: since, Until: until, Limit: 500})
	if err != nil {
		return nil, err
	}
	var ids []string
	dec := map[string]store.StoredDecision{}
	for _, d := range ds {
		if d.Type == "order" {
			ids = append(ids, d.ID)
			dec[d.ID] = d
		}
	}
	evs, err := c.o.Events.EventsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []mark
	for _, e := range evs {
		f := decodeFields(e.Raw)
		if f.Symbol != symbol || f.Side != side {
			continue
		}
		out = append(out, mark{T: e.Time, Side: side, Account: account, Quantity: f.Quantity, Price: f.Price, Action: dec[e.ID].Action.String()})
	}
	slices.SortFunc(out, func(a, b mark) int { return a.T.Compare(b.T) })
	return out, nil
}

// quotes returns the symbol's quotes in [since, until) as chart points. A symbol's quotes are read by
// scanning the period's quotes of every symbol, so the points are kept for the data time at which they
// were read (to the minute): a chart looked at again shows at once, and new data reads them afresh.
func (c *Console) quotes(ctx context.Context, symbol string, since, until time.Time) ([]point, error) {
	key := quoteKey{symbol, since.UnixNano(), until.UnixNano(), c.o.DataNow().Truncate(time.Minute).UnixNano()}
	c.qmu.Lock()
	ps, ok := c.qcache[key]
	c.qmu.Unlock()
	if ok {
		return ps, nil
	}
	qs, err := c.o.Events.Quotes(ctx, symbol, since, until, 0)
	if err != nil {
		return nil, err
	}
	ps = make([]point, 0, len(qs))
	for _, q := range qs {
		f := decodeFields(q.Raw)
		ps = append(ps, point{T: q.Time, Price: f.Price, Volume: f.Volume})
	}
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if len(c.qcache) >= quoteCacheSize {
		clear(c.qcache)
	}
	c.qcache[key] = ps
	return ps, nil
}

type quoteKey struct {
	symbol                   string
	since, until, dataMinute int64
}

const quoteCacheSize = 64

type auditPage struct {
	Target, Action string
	Records        []store.AuditRecord
	Next           string
}

// getAudit lists the audit trail, oldest first, filtered by target (account:A1, alert:al-1, user:ito)
// and by action or family of actions (alert.).
func (c *Console) getAudit(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	p := auditPage{Target: strings.TrimSpace(q.Get("target")), Action: strings.TrimSpace(q.Get("action"))}
	aq := store.AuditQuery{Target: p.Target, Action: p.Action, Limit: pageSize + 1}
	if a := q.Get("after"); a != "" {
		var err error
		if aq.After, err = strconv.ParseInt(a, 10, 64); err != nil || aq.After < 0 {
			return fail(http.StatusBadRequest, "bad_filter")
		}
	}
	recs, err := c.o.Audit.Audit(r.Context(), aq)
	if err != nil {
		return err
	}
	if len(recs) > pageSize {
		recs = recs[:pageSize]
		nq := url.Values{}
		if p.Target != "" {
			nq.Set("target", p.Target)
		}
		if p.Action != "" {
			nq.Set("action", p.Action)
		}
		nq.Set("after", strconv.FormatInt(recs[len(recs)-1].Seq, 10))
		p.Next = "/audit?" + nq.Encode()
	}
	p.Records = recs
	return c.render(w, r, s, http.StatusOK, "audit", p)
}

// ErrInvalid is what Watchlist's changes return for input they refuse.
var ErrInvalid = errors.New("invalid")

var watchKinds = []string{"symbol", "account", "prefix", "device", "destination"}

type watchlistPage struct {
	DataTime time.Time
	All      bool
	Entries  []campaign.Entry
	Kinds    []string
	Done     string
}

func (c *Console) getWatchlist(w http.ResponseWriter, r *http.Request, s *session) error {
	if c.o.Watchlist == nil {
		return fail(http.StatusNotFound, "watchlist_off")
	}
	p := watchlistPage{DataTime: c.o.DataNow(), All: r.URL.Query().Get("all") == "1", Kinds: watchKinds, Done: r.URL.Query().Get("done")}
	p.Entries = c.o.Watchlist.Entries(p.DataTime, p.All)
	return c.render(w, r, s, http.StatusOK, "watchlist", p)
}

// watchChange reads a watchlist form, applies change and sends the browser back to the list.
func (c *Console) watchChange(w http.ResponseWriter, r *http.Request, done string, change func(kind, value, reason string) error) error {
	if c.o.Watchlist == nil {
		return fail(http.StatusNotFound, "watchlist_off")
	}
	kind, value, reason := r.PostFormValue("kind"), strings.TrimSpace(r.PostFormValue("value")), strings.TrimSpace(r.PostFormValue("reason"))
	if !slices.Contains(watchKinds, kind) || value == "" || len(value) > 200 {
		return fail(http.StatusBadRequest, "watch_invalid")
	}
	if reason == "" || len(reason) > 500 {
		return fail(http.StatusBadRequest, "need_reason")
	}
	err := change(kind, value, reason)
	switch {
	case errors.Is(err, ErrInvalid):
		return &httpError{status: http.StatusBadRequest, code: "watch_invalid", detail: err.Error()}
	case errors.Is(err, store.ErrNotFound):
		return fail(http.StatusNotFound, "not_found")
	case err != nil:
		return err
	}
	http.Redirect(w, r, "/watchlist?done="+done, http.StatusSeeOther)
	return nil
}

func (c *Console) postWatch(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.watchChange(w, r, "watch_added", func(kind, value, reason string) error {
		return c.o.Watchlist.Add(r.Context(), s.user.Name, kind, value, reason, r.PostFormValue("pinned") == "on")
	})
}

func (c *Console) postUnwatch(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.watchChange(w, r, "watch_removed", func(kind, value, reason string) error {
		return c.o.Watchlist.Remove(r.Context(), s.user.Name, kind, value, reason)
	})
}

func (c *Console) postPin(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.watchChange(w, r, "watch_pinned", func(kind, value, reason string) error {
		return c.o.Watchlist.Pin(r.Context(), s.user.Name, kind, value, reason, r.PostFormValue("pinned") == "true")
	})
}
