package backfill

import (
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/money"
	"github.com/brokerguard/brokerguard/internal/profile"
	"github.com/brokerguard/brokerguard/internal/reconstruct"
)

// Backfill finds the victims who never reported. Fed every event of a detection run over history
// (Observe, with the event's decision) and every alert (ObserveAlert), in the order the engine
// processed them, it groups each account's suspicious sessions at or after From into episodes,
// reconstructs the probable unauthorized window and the orders placed in it, and proposes an incident
// for every episode that no fraud_report followed (Proposals). It keeps no event log: its memory grows
// with the suspicious sessions, plus every account's sessions of the last Keep (6 hours: a session
// can turn suspicious after its first orders).
//
// A session is suspicious when one of its decisions is at review or above, when a decision in it (its
// login's, or a request's that inherited the login's signals) carries a takeover sign among its reason
// codes (detect.TakeoverSigns), or when an account_takeover alert was raised on one of its events. Requests
// without a session are each a session of their own.
//
// The unauthorized part of a suspicious session starts at its login when the login itself was
// suspicious; else at the first request from another address or device than the login's (a stolen
// session); else at the login, or at the session's first event when the log has no login for it.
// The orders placed from that point on are the proposed unauthorized orders.
//
// An account's suspicious sessions form one episode while each starts within Gap of the episode's
// end and no fraud_report of the account falls between them. An episode is reported when a
// fraud_report of the account came at or after its start (and before the next episode): those are
// not proposed (Proposals returns them apart), since the customer's report opens its own incident.
type Backfill struct {
	o        Options
	accounts map[string]*bfAccount
	orders   map[uint64]*bfOrder // the orders of the sessions kept, by orderKey
	// due lists, by hour (Unix time / 3600), the accounts to look at then: Keep after an hour with
	// activity, and Gap after the end of their suspicious activity. hour is the latest hour seen.
	due     map[int64][]*bfAccount
	hour    int64
	flagged map[uint64]struct{} // hashes of the accounts ever flagged, for the count
	stats   Stats
}

// Options configure a Backfill. Zero durations get the defaults.
type Options struct {
	// From is the start of the period under review: earlier events only taught the profiles.
	From time.Time
	// Gap is how far apart two suspicious sessions of an account may be and still be one episode
	// (default 72h).
	Gap time.Duration
	// Keep is how long a session that nothing flagged is kept after its last event, in case a later
	// request in it is flagged (default 6h): long enough for a session the attacker steals hours after
	// the customer logged in.
	Keep time.Duration
	// MinScore drops the episodes whose score is below it as soon as they are over, which bounds
	// the memory a long history needs.
	MinScore int
}

// Defaults of Options.
const (
	DefaultGap  = 72 * time.Hour
	DefaultKeep = 6 * time.Hour
)

// Stats counts what a Backfill saw.
type Stats struct {
	Events          int64 `json:"events"`           // events observed
	AccountsFlagged int   `json:"accounts_flagged"` // accounts with a suspicious session at or after From
	Sessions        int   `json:"suspicious_sessions"`
	Episodes        int   `json:"episodes"`
	BelowMinScore   int   `json:"below_min_score"` // episodes dropped for their score
	Proposals       int   `json:"proposals"`       // episodes that no fraud_report followed
	Reported        int   `json:"reported"`        // episodes that a fraud_report followed
}

// harmCodes are reason codes of what takeovers do with an account, by the harm they name.
var harmCodes = map[string]string{
	"LIQUIDATION":                 HarmLiquidation,
	"LIQUIDATE_THEN_BUY_ILLIQUID": HarmIlliquidBuy,
	"ILLIQUID_SYMBOL":             HarmIlliquidBuy,
	"FIRST_MARGIN_ON_ILLIQUID":    HarmFirstMargin,
	"FIRST_MARGIN_USE":            HarmFirstMargin,
}

// Harms: what the unauthorized part of an episode did, as the evidence names it.
const (
	HarmLiquidation   = "liquidation"     // holdings sold off (LIQUIDATION)
	HarmIlliquidBuy   = "illiquid_buy"    // a buy of a thinly traded symbol
	HarmFirstMargin   = "first_margin"    // margin used for the first time
	HarmContactChange = "contact_change"  // email or phone changed
	HarmNoticesOff    = "notices_off"     // notifications turned off
	HarmSecurity      = "security_change" // password, MFA or trading PIN changed
	HarmBankAccount   = "bank_account"    // withdrawal bank account changed
	HarmWithdrawal    = "withdrawal"      // money withdrawn
	HarmOther         = "other_change"    // another profile change
)

// Tiers of a proposal's score.
const (
	TierStrong   = "strong"   // score ≥ 800
	TierLikely   = "likely"   // score ≥ 500
	TierPossible = "possible" // below 500
)

// Evidence weights of the score (see Proposal.Score and SessionEvidence.Points).
const (
	weightHold       = 1.0 // a hold or block: the decision's score/1000 counts in full
	weightChallenge  = 0.9 // a challenge
	weightReview     = 0.7 // a review
	weightSign       = 0.3 // an allowed decision with a takeover sign
	topDecisions     = 3   // the strongest decisions of a session that count
	weightChangeHarm = 0.5 // each kind of account change or money out (accountHarms)
	weightHarm       = 0.1 // each kind of harm
	weightATO        = 0.5 // an account_takeover alert on the session
	weightOther      = 0.2 // the second and third strongest sessions of the episode
	weightDays       = 0.3 // × log2 of the days the episode's sessions began on
	weightAlert      = 0.3 // a campaign, a shared_infrastructure alert naming the account (once a kind)
	scoreScale       = 2.0 // score = 1000 × (1 − e^(−points/scale))
	rankBand         = 25  // proposals rank by score in bands of this many points, then by yen
)

// accountHarms are the harms that take the account over rather than trade in it: customers do them
// too, but seldom in the session that trades.
var accountHarms = map[string]bool{HarmContactChange: true, HarmNoticesOff: true, HarmSecurity: true,
	HarmBankAccount: true, HarmWithdrawal: true}

type bfAccount struct {
	id        string
	sessions  []*bfSession
	keys      []uint64                // hashes of the sessions' ids, for a scan without a pointer chase
	bySession map[string]*bfSession   // when there are many sessions
	reports   []reconstruct.ReportRef // fraud reports not yet matched to an episode
	alerts    []AlertRef              // campaign and shared_infrastructure alerts naming the account
	done      []*Proposal             // the account's episodes that are over, scored at least MinScore
	touched   int64                   // the last hour with activity
	checked   int64                   // the last hour it was looked at
}

type bfSession struct {
	acct     *bfAccount
	id       string // "" for a request without a session
	first    time.Time
	last     time.Time
	end      time.Time     // its last event or execution of its orders
	login    LoginRef      // set when hasLogin
	switchT  time.Time     // first request from another address or device than the login's
	steps    []DecisionRef // the decisions that flagged it, and its account changes and withdrawals
	orders   []*bfOrder
	alerts   []AlertRef
	harms    map[string]bool
	flagged  bool
	hasLogin bool
}

type bfOrder struct {
	ProposedOrder
	session *bfSession
	fills   []fillAmount
}

// fillAmount is an execution's quantity and price as decoded.
type fillAmount struct {
	quantity int64
	price    float64
}

// value returns the order as proposed: its executions' exact value (each price through its shortest
// decimal form, which is the literal of the event for every price of at most 15 significant digits,
// as the contract's are) and times in JST.
func (o *bfOrder) value() ProposedOrder {
	p := o.ProposedOrder
	for _, f := range o.fills {
		price, err := money.ParseYen(strconv.FormatFloat(f.price, 'f', -1, 64))
		if err != nil {
			continue // the decoder has checked the price: a finite number ≥ 0
		}
		p.ExecutedYen = p.ExecutedYen.Add(price.MulInt(f.quantity))
	}
	if !p.LastExecution.IsZero() {
		p.LastExecution = p.LastExecution.In(reconstruct.JST)
	}
	return p
}

// orderKey hashes an account and an order id (64-bit FNV-1a); a hit is checked against both.
func orderKey(account, id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(account); i++ {
		h = (h ^ uint64(account[i])) * 1099511628211
	}
	h = (h ^ 0) * 1099511628211
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * 1099511628211
	}
	return h
}

// LoginRef is the successful login that opened a session, with what the engine decided on it.
type LoginRef struct {
	Event     string    `json:"event"`
	Time      time.Time `json:"time"`
	Method    string    `json:"method,omitempty"`
	IP        string    `json:"ip,omitempty"`
	Device    string    `json:"device,omitempty"`
	Country   string    `json:"country,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	Action    string    `json:"action"`
	Score     int       `json:"score"`
	Codes     []string  `json:"codes"`
}

// DecisionRef is one decision of the evidence.
type DecisionRef struct {
	Event  string    `json:"event"`
	Type   string    `json:"type"`
	Time   time.Time `json:"time"`
	IP     string    `json:"ip,omitempty"`
	Device string    `json:"device,omitempty"`
	Action string    `json:"action"`
	Score  int       `json:"score"`
	Codes  []string  `json:"codes"`
	// Detail says what the request was: "email changed", "withdrawal 500,000 yen", "buy 7992 × 4000".
	Detail string `json:"detail,omitempty"`
	action event.Action
	flag   bool // at review or above, or with a takeover sign: it counts in the score
}

// AlertRef is an alert that names the account.
type AlertRef struct {
	ID    string    `json:"id"`
	Kind  string    `json:"kind"`
	Time  time.Time `json:"time"`
	Score int       `json:"score"`
	Codes []string  `json:"codes"`
}

// ProposedOrder is an order placed in the unauthorized part of a suspicious session, with what the
// engine decided on it and its executions.
type ProposedOrder struct {
	OrderID     string    `json:"order_id"`
	Event       string    `json:"event"`
	Time        time.Time `json:"time"`
	Symbol      string    `json:"symbol"`
	Side        string    `json:"side"`
	Quantity    int64     `json:"quantity"`
	AccountType string    `json:"account_type,omitempty"`
	Action      string    `json:"action"`
	Score       int       `json:"score"`
	// ExecutedShares and ExecutedYen are the sums of its executions (quantity, quantity × price).
	ExecutedShares int64     `json:"executed_shares"`
	ExecutedYen    money.Yen `json:"executed_yen"`
	LastExecution  time.Time `json:"last_execution,omitzero"`
}

// SessionEvidence is one suspicious session of a proposal.
type SessionEvidence struct {
	Session string `json:"session"` // "" for a request without a session
	// First and Last are the session's first request and its last request or execution of its
	// orders (logouts are not followed); UnauthorizedFrom is where the unauthorized part begins, and
	// FromBasis why (login_flagged, address_or_device_switch, login, first_event).
	First            time.Time `json:"first"`
	Last             time.Time `json:"last"`
	UnauthorizedFrom time.Time `json:"unauthorized_from"`
	FromBasis        string    `json:"unauthorized_from_basis"`
	Login            *LoginRef `json:"login,omitempty"`
	// IPs and Devices are those of the unauthorized part's requests (the login's first).
	IPs     []string `json:"ips"`
	Devices []string `json:"devices"`
	Codes   []string `json:"codes"` // the distinct reason codes of its decisions, sorted
	// Decisions are those that made it suspicious (at review or above, or with a takeover sign), and
	// its account changes and withdrawals whatever was decided on them; its orders' are in Orders.
	Decisions []DecisionRef   `json:"decisions"`
	Alerts    []AlertRef      `json:"alerts,omitempty"`
	Orders    []ProposedOrder `json:"orders"`
	Harms     []string        `json:"harms,omitempty"`
	// Points are the session's evidence: the sum of its three strongest decisions' score/1000, each
	// weighted by its action (hold or block 1, challenge 0.9, review 0.7, allowed with a takeover
	// sign 0.3), plus 0.5 per kind of account change or money out it made (contact, notices,
	// security, bank account, withdrawal), 0.1 per kind of harm of any kind, and 0.5 when an
	// account_takeover alert was raised in it.
	Points float64 `json:"points"`
}

// Where the unauthorized part of a session begins.
const (
	FromLoginFlagged = "login_flagged"
	FromSwitch       = "address_or_device_switch"
	FromLogin        = "login"
	FromFirstEvent   = "first_event"
)

// ScoreBasis is what a proposal's score was computed from.
type ScoreBasis struct {
	BestSession   float64  `json:"best_session"`   // the points of the strongest session
	OtherSessions float64  `json:"other_sessions"` // 0.2 × those of the next two
	Days          int      `json:"days"`           // the days (JST) its sessions began on
	DaysPenalty   float64  `json:"days_penalty"`   // 0.3 × log2(days)
	Alerts        float64  `json:"alerts"`         // 0.3 per kind of alert naming the account (campaign, shared_infrastructure)
	HarmKinds     []string `json:"harm_kinds"`     // what the episode did (Harm*)
	Points        float64  `json:"points"`
}

// Proposal is a proposed incident: one episode of likely takeover on one account. Its incident line
// (Incident) can be fed to compensate and tally.
type Proposal struct {
	Rank    int    `json:"rank"`
	ID      string `json:"id"` // "bf-<rank>", the id of its incident line
	Account string `json:"account"`
	// Score is the strength of the evidence, 0..1000: 1000 × (1 − e^(−points/2)). A takeover is a
	// burst: one or two sessions that do much harm, not a habit spread over days. So the points are
	// the strongest session's (SessionEvidence.Points), plus 0.2 × the next two sessions', less
	// 0.3 × log2 of the number of days the sessions began on, plus 0.3 for a campaign alert and 0.3
	// for a shared_infrastructure alert that name the account within Gap of the episode (repeats of a
	// kind add nothing: a habit raises them day after day).
	Score int    `json:"score"`
	Tier  string `json:"tier"` // strong (score ≥ 800), likely (≥ 500), possible
	// Start and End are the proposed unauthorized window: the first unauthorized event of its sessions
	// and the last event of its sessions or execution of their orders.
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Orders   []string  `json:"orders"`
	Sessions []string  `json:"sessions"`
	// BoughtYen and SoldYen are the executed value of the orders; Value is their sum, which ranks
	// proposals of about the same score (the same band of 25 points).
	BoughtYen money.Yen              `json:"bought_yen"`
	SoldYen   money.Yen              `json:"sold_yen"`
	Value     money.Yen              `json:"value_yen"`
	Report    *reconstruct.ReportRef `json:"fraud_report,omitempty"` // set on reported episodes only
	Basis     ScoreBasis             `json:"score_basis"`
	Alerts    []AlertRef             `json:"alerts,omitempty"` // account alerts within the episode's reach
	Evidence  []*SessionEvidence     `json:"evidence"`
}

// Incident returns the proposal's incident line: its id, account, orders and the sessions of the
// episode (for the tally's accesses).
func (p *Proposal) Incident() reconstruct.Claim {
	return reconstruct.Claim{ID: p.ID, Account: p.Account, Orders: p.Orders, Sessions: p.Sessions}
}

// New returns an empty Backfill.
func New(o Options) *Backfill {
	if o.Gap <= 0 {
		o.Gap = DefaultGap
	}
	if o.Keep <= 0 {
		o.Keep = DefaultKeep
	}
	if o.MinScore < 0 {
		o.MinScore = 0
	}
	return &Backfill{o: o, accounts: map[string]*bfAccount{}, orders: map[uint64]*bfOrder{},
		due: map[int64][]*bfAccount{}, flagged: map[uint64]struct{}{}}
}

// Stats returns the counts so far; the proposal counts are set by Proposals.
func (b *Backfill) Stats() Stats { return b.stats }

// account returns the account, creating it, and notes activity at t.
func (b *Backfill) account(id string, t time.Time) *bfAccount {
	a := b.accounts[id]
	if a == nil {
		a = &bfAccount{id: id}
		b.accounts[id] = a
	}
	b.touch(a, t)
	return a
}

// touch notes activity of the account at t: it will be looked at Keep later.
func (b *Backfill) touch(a *bfAccount, t time.Time) {
	if h := hourOf(t); a.touched != h {
		a.touched = h
		b.schedule(a, h+hours(b.o.Keep)+1)
	}
}

func hourOf(t time.Time) int64 { return t.Unix() / 3600 }

// hours is d in whole hours, rounded up.
func hours(d time.Duration) int64 { return int64((d + time.Hour - 1) / time.Hour) }

func (b *Backfill) schedule(a *bfAccount, hour int64) {
	b.due[hour] = append(b.due[hour], a)
}

// advance looks at the accounts due up to the hour of t.
func (b *Backfill) advance(t time.Time) {
	h := hourOf(t)
	if b.hour == 0 {
		b.hour = h
		return
	}
	for ; b.hour < h; b.hour++ {
		due := b.due[b.hour+1]
		delete(b.due, b.hour+1)
		now := time.Unix((b.hour+1)*3600, 0)
		keep := hours(b.o.Keep)
		for _, a := range due {
			// An account active since is due again later; look at it at most once per Keep.
			if a.touched+keep+1 > b.hour+1 && b.hour+1-a.checked < keep {
				continue
			}
			a.checked = b.hour + 1
			b.check(a, now, false)
		}
	}
}

// Needs reports whether Observe uses the event: one at or after From, of a type a proposal shows
// (a successful login, a profile change, an order, a withdrawal, an execution, a fraud report). A
// caller may leave the others out. It is safe to call from any goroutine.
func (b *Backfill) Needs(ev *event.Event) bool {
	if ev.Time.Before(b.o.From) {
		return false
	}
	switch ev.Type {
	case event.TypeLogin:
		return ev.Result == "success"
	case event.TypeProfileChange, event.TypeOrder, event.TypeWithdrawal, event.TypeExecution, event.TypeFraudReport:
		return true
	}
	return false
}

// Observe takes one processed event and its decision (nil when it needs none). Events must come in
// the order the engine processed them; those it does not need (Needs) are ignored.
func (b *Backfill) Observe(ev *event.Event, d *event.Decision) {
	if !b.Needs(ev) {
		return
	}
	b.stats.Events++
	b.advance(ev.Time)
	switch ev.Type {
	case event.TypeFraudReport:
		b.report(ev)
		return
	case event.TypeExecution:
		b.execution(ev)
		return
	}
	a := b.account(ev.Account, ev.Time)
	s := a.session(ev)
	if ev.Time.After(s.last) {
		s.last = ev.Time
	}
	if ev.Time.After(s.end) {
		s.end = ev.Time
	}
	var action string
	var score int
	var reasons []string
	if d != nil {
		action, score = d.Action.String(), d.Score
		if len(d.Reasons) > 0 {
			reasons = codes(d.Reasons)
		}
	}
	if ev.Type == event.TypeLogin && !s.hasLogin {
		s.hasLogin = true
		s.login = LoginRef{Event: ev.ID, Time: ev.Time, Method: ev.Method, IP: ev.IP, Device: ev.Device,
			Country: ev.Country, UserAgent: ev.UserAgent, Action: action, Score: score, Codes: reasons}
	} else if s.hasLogin && s.switchT.IsZero() && !ev.Time.Before(s.login.Time) &&
		((ev.IP != "" && ev.IP != s.login.IP) || (ev.Device != "" && s.login.Device != "" && ev.Device != s.login.Device)) {
		s.switchT = ev.Time
	}
	if ev.Type == event.TypeOrder {
		k := orderKey(ev.Account, ev.OrderID)
		if b.orders[k] == nil {
			o := &bfOrder{ProposedOrder: ProposedOrder{OrderID: ev.OrderID, Event: ev.ID, Time: ev.Time.In(reconstruct.JST), Symbol: ev.Symbol,
				Side: ev.Side, Quantity: ev.Quantity, AccountType: ev.AccountType, Action: action, Score: score}, session: s}
			b.orders[k] = o
			s.orders = append(s.orders, o)
		}
	}
	if d == nil {
		return
	}
	if h := harmOf(ev); h != "" {
		s.harm(h)
	}
	sign := false
	for _, c := range reasons {
		if h, ok := harmCodes[c]; ok {
			s.harm(h)
		}
		sign = sign || detect.IsTakeoverSign(c)
	}
	flag := d.Action >= event.ActionReview || sign
	// Account changes and withdrawals are evidence whatever was decided on them.
	if flag || ev.Type == event.TypeProfileChange || ev.Type == event.TypeWithdrawal {
		s.steps = append(s.steps, DecisionRef{Event: ev.ID, Type: ev.Type.String(), Time: ev.Time.In(reconstruct.JST), IP: ev.IP,
			Device: ev.Device, Action: action, Score: score, Codes: nonNil(reasons), Detail: detailOf(ev), action: d.Action, flag: flag})
	}
	if flag {
		s.mark(b, a)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// session returns the account's session of the event, opening it. Most events belong to the
// account's latest session, so the sessions are searched from the last; an account with many kept
// sessions gets an index.
func (a *bfAccount) session(ev *event.Event) *bfSession {
	var s *bfSession
	var key uint64
	if ev.Session != "" {
		key = profile.Hash(ev.Session)
		if a.bySession != nil {
			s = a.bySession[ev.Session]
		} else {
			for i := len(a.keys) - 1; i >= 0; i-- {
				if a.keys[i] == key && a.sessions[i].id == ev.Session {
					s = a.sessions[i]
					break
				}
			}
		}
	}
	if s == nil {
		s = &bfSession{acct: a, id: ev.Session, first: ev.Time, last: ev.Time, end: ev.Time}
		a.sessions = append(a.sessions, s)
		a.keys = append(a.keys, key)
		a.index(s)
	}
	return s
}

const sessionIndexAt = 16

// index keeps the session index of an account with many sessions.
func (a *bfAccount) index(s *bfSession) {
	switch {
	case a.bySession != nil:
		if s.id != "" {
			a.bySession[s.id] = s
		}
	case len(a.sessions) > sessionIndexAt:
		a.bySession = make(map[string]*bfSession, len(a.sessions))
		for _, s := range a.sessions {
			if s.id != "" {
				a.bySession[s.id] = s
			}
		}
	}
}

func (s *bfSession) mark(b *Backfill, a *bfAccount) {
	s.flagged = true
	if h := profile.Hash(a.id); !has(b.flagged, h) {
		b.flagged[h] = struct{}{}
		b.stats.AccountsFlagged++
	}
}

func has(m map[uint64]struct{}, k uint64) bool {
	_, ok := m[k]
	return ok
}

func (s *bfSession) harm(h string) {
	if s.harms == nil {
		s.harms = map[string]bool{}
	}
	s.harms[h] = true
}

func (b *Backfill) execution(ev *event.Event) {
	o := b.orders[orderKey(ev.Account, ev.OrderID)]
	if o == nil || o.OrderID != ev.OrderID || o.session.acct.id != ev.Account {
		return
	}
	// The exact value is worked out only for the orders proposed (value).
	o.fills = append(o.fills, fillAmount{ev.Quantity, ev.Price})
	o.ExecutedShares += ev.Quantity
	if ev.Time.After(o.LastExecution) {
		o.LastExecution = ev.Time
	}
	if ev.Time.After(o.session.end) {
		o.session.end = ev.Time
	}
	b.touch(o.session.acct, ev.Time)
}

// ObserveAlert takes an alert. An account_takeover alert marks the session of the event that raised
// it; campaign and shared_infrastructure alerts are kept as evidence on the accounts they name.
func (b *Backfill) ObserveAlert(al *event.Alert) {
	if al.Time.Before(b.o.From) {
		return
	}
	ref := AlertRef{ID: al.ID, Kind: al.Kind, Time: al.Time.In(reconstruct.JST), Score: al.Score, Codes: codes(al.Reasons)}
	switch al.Kind {
	case event.AlertAccountTakeover:
		for _, acct := range al.Accounts {
			a := b.accounts[acct]
			if a == nil {
				continue
			}
			if s := a.sessionAt(al.Time); s != nil {
				s.alerts = append(s.alerts, ref)
				s.mark(b, a)
			}
		}
	case event.AlertCampaign, event.AlertSharedInfrastructure:
		for _, acct := range al.Accounts {
			a := b.account(acct, al.Time)
			a.alerts = append(a.alerts, ref)
		}
	}
}

// sessionAt returns the session with a decision at t (the event that raised an alert), else the
// latest session that began at or before t.
func (a *bfAccount) sessionAt(t time.Time) *bfSession {
	var latest *bfSession
	for i := len(a.sessions) - 1; i >= 0; i-- {
		s := a.sessions[i]
		for _, st := range s.steps {
			if st.Time.Equal(t) {
				return s
			}
		}
		if s.hasLogin && s.login.Time.Equal(t) {
			return s
		}
		if latest == nil && !s.first.After(t) {
			latest = s
		}
	}
	return latest
}

// report takes a fraud_report: it marks the account's last episode that is over and began before it,
// unless suspicious sessions still under way began before it (their episode takes it when it is over).
func (b *Backfill) report(ev *event.Event) {
	a := b.account(ev.Account, ev.Time)
	r := reconstruct.ReportRef{Event: ev.ID, Time: ev.Time.In(reconstruct.JST), Channel: ev.Channel}
	for _, s := range a.sessions {
		if s.flagged && !s.first.After(ev.Time) {
			a.reports = append(a.reports, r)
			return
		}
	}
	for i := len(a.done) - 1; i >= 0; i-- {
		if p := a.done[i]; !p.Start.After(ev.Time) {
			if p.Report == nil {
				p.Report = &r
			}
			return
		}
	}
}

// check looks at an account at now: it closes its episode when its suspicious activity ended more
// than Gap before (always when final), forgets its sessions that nothing flagged and that ended more
// than Keep before, and forgets the account when nothing is left.
func (b *Backfill) check(a *bfAccount, now time.Time, final bool) {
	if b.accounts[a.id] != a {
		return // forgotten already
	}
	var flaggedEnd time.Time
	active := false
	for _, s := range a.sessions {
		if s.flagged {
			active = true
			if s.end.After(flaggedEnd) {
				flaggedEnd = s.end
			}
		}
	}
	over := now.Add(-b.o.Gap)
	if active && (final || flaggedEnd.Before(over)) {
		b.close(a)
		active = false
	}
	cut := now.Add(-b.o.Keep)
	kept, keys := a.sessions[:0], a.keys[:0]
	for i, s := range a.sessions {
		if s.flagged || (!final && !s.last.Before(cut)) {
			kept = append(kept, s)
			keys = append(keys, a.keys[i])
			continue
		}
		b.forget(a, s)
	}
	clear(a.sessions[len(kept):])
	a.sessions, a.keys = kept, keys
	if a.bySession != nil && len(kept) <= sessionIndexAt/2 {
		a.bySession = nil
	}
	if active {
		b.schedule(a, hourOf(flaggedEnd.Add(b.o.Gap))+1)
		return
	}
	// Alerts and reports only matter to an episode under way, or to one that starts within Gap.
	a.reports = nil
	n := 0
	for _, al := range a.alerts {
		if !al.Time.Before(over) {
			a.alerts[n] = al
			n++
		}
	}
	clear(a.alerts[n:])
	a.alerts = a.alerts[:n]
	if len(a.sessions) == 0 && len(a.done) == 0 {
		if len(a.alerts) == 0 {
			delete(b.accounts, a.id)
		} else if !final {
			b.schedule(a, hourOf(now)+hours(b.o.Gap)+1)
		}
	}
}

func (b *Backfill) forget(a *bfAccount, s *bfSession) {
	if a.bySession != nil {
		delete(a.bySession, s.id)
	}
	for _, o := range s.orders {
		if k := orderKey(a.id, o.OrderID); b.orders[k] == o {
			delete(b.orders, k)
		}
	}
}

// close turns the account's suspicious sessions into proposals and forgets them.
func (b *Backfill) close(a *bfAccount) {
	a.done = append(a.done, b.episodes(a)...)
	kept, keys := a.sessions[:0], a.keys[:0]
	for i, s := range a.sessions {
		if s.flagged {
			b.forget(a, s)
			continue
		}
		kept = append(kept, s)
		keys = append(keys, a.keys[i])
	}
	clear(a.sessions[len(kept):])
	a.sessions, a.keys = kept, keys
	a.reports = nil
}

// Proposals closes every episode and returns the unreported ones ranked (by score in bands of 25
// points, the strongest first; within a band the larger executed value first), numbered from 1 with
// ids bf-1, bf-2, …; and the reported episodes apart, ranked the same way with ids rep-1, …. Call it
// once, after the last event.
func (b *Backfill) Proposals() (proposals, reported []*Proposal) {
	now := time.Unix((b.hour+1)*3600, 0)
	for _, a := range b.accounts {
		b.check(a, now, true)
	}
	ids := make([]string, 0, len(b.accounts))
	for id, a := range b.accounts {
		if len(a.done) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		for _, p := range b.accounts[id].done {
			if p.Report != nil {
				reported = append(reported, p)
			} else {
				proposals = append(proposals, p)
			}
		}
	}
	rank(proposals, "bf-")
	rank(reported, "rep-")
	b.stats.Proposals, b.stats.Reported = len(proposals), len(reported)
	return proposals, reported
}

func rank(ps []*Proposal, prefix string) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Score/rankBand != b.Score/rankBand {
			return a.Score > b.Score
		}
		if c := a.Value.Cmp(b.Value); c != 0 {
			return c > 0
		}
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		if a.Account != b.Account {
			return a.Account < b.Account
		}
		return a.Start.Before(b.Start)
	})
	for i, p := range ps {
		p.Rank = i + 1
		p.ID = prefix + strconv.Itoa(i+1)
	}
}

// window is a suspicious session's unauthorized part and evidence, worked out before its full
// evidence is (only the episodes that reach MinScore get that).
type window struct {
	s      *bfSession
	from   time.Time
	basis  string
	end    time.Time
	points float64
}

func (s *bfSession) window() window {
	w := window{s: s, end: s.end}
	loginFlagged := false
	if s.hasLogin {
		loginFlagged = s.login.Action != event.ActionAllow.String()
		for _, c := range s.login.Codes {
			loginFlagged = loginFlagged || detect.IsTakeoverSign(c)
		}
	}
	switch {
	case s.hasLogin && loginFlagged:
		w.from, w.basis = s.login.Time, FromLoginFlagged
	case s.hasLogin && !s.switchT.IsZero():
		w.from, w.basis = s.switchT, FromSwitch
	case s.hasLogin:
		w.from, w.basis = s.login.Time, FromLogin
	default:
		w.from, w.basis = s.first, FromFirstEvent
	}
	w.from = w.from.In(reconstruct.JST)
	w.points = s.points()
	return w
}

// points is the evidence of the session (see SessionEvidence.Points).
func (s *bfSession) points() float64 {
	var top [topDecisions]float64 // descending
	for _, d := range s.steps {
		if !d.flag {
			continue
		}
		x := weight(d.action) * float64(d.Score) / 1000
		for k := range top {
			if x > top[k] {
				copy(top[k+1:], top[k:len(top)-1])
				top[k] = x
				break
			}
		}
	}
	var pts float64
	for _, x := range top {
		pts += x
	}
	for h := range s.harms {
		pts += weightHarm
		if accountHarms[h] {
			pts += weightChangeHarm
		}
	}
	if len(s.alerts) > 0 {
		pts += weightATO
	}
	return round3(pts)
}

// episodes groups the account's suspicious sessions into episodes and builds a proposal for each
// that scores at least MinScore.
func (b *Backfill) episodes(a *bfAccount) []*Proposal {
	var ws []window
	for _, s := range a.sessions {
		if s.flagged {
			ws = append(ws, s.window())
			b.stats.Sessions++
		}
	}
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].from.Before(ws[j].from) })
	reports := append([]reconstruct.ReportRef(nil), a.reports...)
	sort.SliceStable(reports, func(i, j int) bool { return reports[i].Time.Before(reports[j].Time) })

	var out []*Proposal
	var cur []window
	var end time.Time
	flush := func(next time.Time) {
		if len(cur) == 0 {
			return
		}
		b.stats.Episodes++
		p := b.score(a, cur)
		if p.Score < b.o.MinScore {
			b.stats.BelowMinScore++
			cur = nil
			return
		}
		b.fill(p, cur)
		for i := range reports {
			r := &reports[i]
			if !r.Time.Before(p.Start) && (next.IsZero() || r.Time.Before(next)) {
				p.Report = &reconstruct.ReportRef{Event: r.Event, Time: r.Time, Channel: r.Channel}
				break
			}
		}
		out = append(out, p)
		cur = nil
	}
	for _, w := range ws {
		split := len(cur) > 0 && w.from.Sub(end) > b.o.Gap
		for _, r := range reports {
			if len(cur) > 0 && !r.Time.Before(cur[0].from) && r.Time.Before(w.from) {
				split = true
			}
		}
		if split {
			flush(w.from)
		}
		cur = append(cur, w)
		if w.end.After(end) || len(cur) == 1 {
			end = w.end
		}
	}
	flush(time.Time{})
	return out
}

// score works out an episode's window and score.
func (b *Backfill) score(a *bfAccount, ws []window) *Proposal {
	p := &Proposal{Account: a.id}
	days := map[reconstruct.Day]bool{}
	points := make([]float64, 0, len(ws))
	harms := map[string]bool{}
	for i, w := range ws {
		if i == 0 || w.from.Before(p.Start) {
			p.Start = w.from
		}
		if w.end.After(p.End) {
			p.End = w.end
		}
		days[reconstruct.DayOf(w.s.first)] = true
		points = append(points, w.points)
		for h := range w.s.harms {
			harms[h] = true
		}
	}
	p.End = p.End.In(reconstruct.JST)
	sort.Sort(sort.Reverse(sort.Float64Slice(points)))
	basis := ScoreBasis{BestSession: points[0], Days: len(days), HarmKinds: sortedKeys(harms)}
	for _, x := range points[1:min(3, len(points))] {
		basis.OtherSessions += weightOther * x
	}
	basis.DaysPenalty = weightDays * math.Log2(float64(basis.Days))
	kinds := map[string]bool{}
	for _, al := range a.alerts {
		if !al.Time.Before(p.Start.Add(-b.o.Gap)) && !al.Time.After(p.End.Add(b.o.Gap)) {
			p.Alerts = append(p.Alerts, al)
			if !kinds[al.Kind] {
				kinds[al.Kind] = true
				basis.Alerts += weightAlert
			}
		}
	}
	basis.OtherSessions, basis.DaysPenalty = round3(basis.OtherSessions), round3(basis.DaysPenalty)
	basis.Points = round3(max(0, basis.BestSession+basis.OtherSessions-basis.DaysPenalty+basis.Alerts))
	p.Basis = basis
	p.Score = int(math.Round(1000 * (1 - math.Exp(-basis.Points/scoreScale))))
	switch {
	case p.Score >= 800:
		p.Tier = TierStrong
	case p.Score >= 500:
		p.Tier = TierLikely
	default:
		p.Tier = TierPossible
	}
	return p
}

// fill adds the evidence of an episode's sessions, its orders and their value.
func (b *Backfill) fill(p *Proposal, ws []window) {
	p.Orders, p.Sessions = []string{}, []string{}
	for _, w := range ws {
		e := w.s.evidence(w)
		p.Evidence = append(p.Evidence, e)
		if e.Session != "" {
			p.Sessions = append(p.Sessions, e.Session)
		}
		for _, o := range e.Orders {
			p.Orders = append(p.Orders, o.OrderID)
			switch o.Side {
			case "buy":
				p.BoughtYen = p.BoughtYen.Add(o.ExecutedYen)
			case "sell":
				p.SoldYen = p.SoldYen.Add(o.ExecutedYen)
			}
		}
	}
	p.Value = p.BoughtYen.Add(p.SoldYen)
}

// evidence describes a suspicious session with its unauthorized part.
func (s *bfSession) evidence(w window) *SessionEvidence {
	e := &SessionEvidence{Session: s.id, First: s.first.In(reconstruct.JST), Last: s.end.In(reconstruct.JST), UnauthorizedFrom: w.from,
		FromBasis: w.basis, Decisions: s.steps, Alerts: s.alerts, Orders: []ProposedOrder{}, Points: w.points}
	if e.Decisions == nil {
		e.Decisions = []DecisionRef{}
	}
	seenIP, seenDev := map[string]bool{}, map[string]bool{}
	e.IPs, e.Devices = []string{}, []string{}
	addNet := func(ip, dev string) {
		if ip != "" && !seenIP[ip] {
			seenIP[ip] = true
			e.IPs = append(e.IPs, ip)
		}
		if dev != "" && !seenDev[dev] {
			seenDev[dev] = true
			e.Devices = append(e.Devices, dev)
		}
	}
	codeSet := map[string]bool{}
	if s.hasLogin {
		l := s.login
		l.Time, l.Codes = l.Time.In(reconstruct.JST), nonNil(l.Codes)
		e.Login = &l
		if w.basis != FromSwitch {
			addNet(l.IP, l.Device)
		}
		for _, c := range l.Codes {
			codeSet[c] = true
		}
	}
	for _, st := range s.steps {
		if !st.Time.Before(w.from) {
			addNet(st.IP, st.Device)
		}
		for _, c := range st.Codes {
			codeSet[c] = true
		}
	}
	for _, o := range s.orders {
		if !o.Time.Before(w.from) {
			e.Orders = append(e.Orders, o.value())
		}
	}
	sort.SliceStable(e.Orders, func(i, j int) bool { return e.Orders[i].Time.Before(e.Orders[j].Time) })
	e.Codes = sortedKeys(codeSet)
	e.Harms = sortedKeys(s.harms)
	return e
}

func weight(a event.Action) float64 {
	switch {
	case a >= event.ActionHold:
		return weightHold
	case a == event.ActionChallenge:
		return weightChallenge
	case a == event.ActionReview:
		return weightReview
	}
	return weightSign
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

func codes(rs []event.Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Code
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// harmOf names the harm a request does by itself (a change of contact details, a withdrawal).
func harmOf(ev *event.Event) string {
	switch ev.Type {
	case event.TypeWithdrawal:
		return HarmWithdrawal
	case event.TypeProfileChange:
		switch ev.Field {
		case "email", "phone":
			return HarmContactChange
		case "notifications":
			if ev.Value == "off" {
				return HarmNoticesOff
			}
			return HarmOther
		case "password", "mfa", "trading_pin":
			return HarmSecurity
		case "bank_account":
			return HarmBankAccount
		}
		return HarmOther
	}
	return ""
}

// detailOf says in a few words what a request was.
func detailOf(ev *event.Event) string {
	switch ev.Type {
	case event.TypeLogin:
		return "login (" + ev.Method + ")"
	case event.TypeProfileChange:
		if ev.Value != "" {
			return ev.Field + " changed (" + ev.Value + ")"
		}
		return ev.Field + " changed"
	case event.TypeOrder:
		return ev.Side + " " + ev.Symbol + " × " + strconv.FormatInt(ev.Quantity, 10) + " (" + ev.AccountType + ", order " + ev.OrderID + ")"
	case event.TypeWithdrawal:
		y, _ := reconstruct.YenField(ev, "amount", ev.Amount)
		return "withdrawal of " + y.Grouped() + " yen"
	}
	return ""
}
