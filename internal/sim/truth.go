package sim

import (
	"encoding/json"
	"io"
	"sort"
	"strconv"
)

// Truth is the ground truth of a run: who was taken over and how, every event the attackers caused,
// the campaigns, the credential-stuffing waves, and counts of every behaviour, legitimate or not. It is
// written as one JSON document.
type Truth struct {
	Version     int    `json:"version"`
	Scenario    string `json:"scenario"`
	Seed        int64  `json:"seed"`
	Start       string `json:"start"` // time of the first event
	End         string `json:"end"`   // end of the data (exclusive)
	TradingDays int    `json:"trading_days"`
	Accounts    int    `json:"accounts"`
	Instruments int    `json:"instruments"`

	Takeovers     []*Takeover `json:"takeovers"`
	Campaigns     []*Campaign `json:"campaigns"`
	StuffingWaves []*Wave     `json:"stuffing_waves"`
	// Beneficiaries are the criminals' own accounts at the firm (all campaigns).
	Beneficiaries []string `json:"beneficiaries"`

	// Legitimate counts the customers' own decision-requiring events: everything that is neither an
	// attacker's event nor a beneficiary account's.
	Legitimate LegitCounts `json:"legitimate"`
	// Surprises counts each legitimate behaviour that resembles a takeover, with its opportunities.
	Surprises map[string]SurpriseCount `json:"surprises"`
	// Behaviours counts every behaviour the simulator produced (events by kind, attack steps, surprises).
	Behaviours map[string]int64 `json:"behaviours"`

	Households             int `json:"households"`
	HouseholdAccounts      int `json:"household_accounts"`
	SharedDeviceHouseholds int `json:"shared_device_households"`

	// Draws are the parameters a varied run drew (absent without variation).
	Draws *Draws `json:"draws,omitempty"`
}

// Attack kinds and attacker styles of the truth.
const (
	KindPhishingRelay      = "phishing_relay"
	KindStolenSession      = "stolen_session"
	KindCredentialStuffing = "credential_stuffing"
	StyleCareless          = "careless"
	StyleCareful           = "careful"
)

// Takeover is one compromised account.
type Takeover struct {
	Account  string `json:"account"`
	Kind     string `json:"kind"`  // phishing_relay | stolen_session | credential_stuffing
	Style    string `json:"style"` // careless | careful
	Campaign string `json:"campaign,omitempty"`
	Wave     string `json:"wave,omitempty"`
	Night    bool   `json:"night"` // started the evening before the ramp, sells queued for the open
	// Sessions are the session ids the attacker used (for a stolen session, the victim's own).
	Sessions  []string        `json:"sessions"`
	Addresses []string        `json:"addresses"`
	Start     string          `json:"start"`
	End       string          `json:"end"`
	Events    []AttackerEvent `json:"events"` // in time order
	// FirstOrder is the id of the attacker's first order event ("" when it placed none).
	FirstOrder string `json:"first_order,omitempty"`
	// FraudReport is the id of the customer's fraud_report event, when one was sent within the data.
	FraudReport     string `json:"fraud_report,omitempty"`
	FraudReportTime string `json:"fraud_report_time,omitempty"`

	vd      *VictimDraws // varied runs: this takeover's draws
	ms      []int64      // event times, parallel to Events (for sorting)
	seq     []uint64
	sessSet map[string]bool
	addrSet map[string]bool
}

// AttackerEvent is one event the attacker caused. Executions of the attacker's orders are listed too.
type AttackerEvent struct {
	ID          string `json:"id"`
	Time        string `json:"time"`
	Type        string `json:"type"`
	Session     string `json:"session,omitempty"`
	Result      string `json:"result,omitempty"` // login
	Field       string `json:"field,omitempty"`  // profile_change
	Value       string `json:"value,omitempty"`
	OrderID     string `json:"order_id,omitempty"`
	Symbol      string `json:"symbol,omitempty"`
	Side        string `json:"side,omitempty"`
	Quantity    int64  `json:"quantity,omitempty"`
	AccountType string `json:"account_type,omitempty"`
	// Value in yen: an order's quantity times its limit price (market orders: the last price when
	// placed); an execution's quantity times its price; a withdrawal's amount.
	Yen         float64 `json:"yen,omitempty"`
	Destination string  `json:"destination,omitempty"`
}

// Campaign is one pump of a thin small cap.
type Campaign struct {
	ID            string   `json:"id"`
	Symbol        string   `json:"symbol"`
	RampDay       string   `json:"ramp_day"`
	RampStart     string   `json:"ramp_start"`
	Victims       []string `json:"victims"`
	Beneficiaries []string `json:"beneficiaries"`
	// FirstHijackedBuy is the first execution of a victim's buy of the symbol (event id and time).
	FirstHijackedBuy      string  `json:"first_hijacked_buy,omitempty"`
	FirstHijackedBuyTime  string  `json:"first_hijacked_buy_time,omitempty"`
	HijackedBuyShares     int64   `json:"hijacked_buy_shares"`
	HijackedBuyYen        float64 `json:"hijacked_buy_yen"`
	BeneficiaryBuyShares  int64   `json:"beneficiary_buy_shares"`
	BeneficiarySellShares int64   `json:"beneficiary_sell_shares"`
	PrevClose             float64 `json:"prev_close"` // the symbol's close before the ramp day
	Open                  float64 `json:"open"`       // ramp day open
	High                  float64 `json:"high"`       // ramp day high
	Close                 float64 `json:"close"`      // ramp day close
	PrevDayVolume         float64 `json:"prev_day_volume"`
	RampDayVolume         float64 `json:"ramp_day_volume"`
	VolumeMultiple        float64 `json:"volume_multiple"` // drawn parameter
	PriceRise             float64 `json:"price_rise"`      // drawn parameter

	firstBuyMs int64
	in         *instrument
	dayNum     int64
}

// Wave is one credential-stuffing wave.
type Wave struct {
	ID        string   `json:"id"`
	Style     string   `json:"style"`
	Campaign  string   `json:"campaign,omitempty"`
	Start     string   `json:"start"`
	End       string   `json:"end"`
	Sources   []string `json:"sources"`
	Attempts  int      `json:"attempts"`
	Accounts  int      `json:"accounts"` // distinct login ids tried
	Successes []string `json:"successes"`
}

// LegitCounts counts legitimate decision-requiring events and accounts.
type LegitCounts struct {
	Accounts       int     `json:"accounts"` // neither taken over nor a beneficiary
	Logins         int64   `json:"logins"`   // successful logins
	FailedLogins   int64   `json:"failed_logins"`
	ProfileChanges int64   `json:"profile_changes"`
	Orders         int64   `json:"orders"`
	OrderYen       float64 `json:"order_yen"`
	Withdrawals    int64   `json:"withdrawals"`
}

// SurpriseCount is how often a legitimate surprise happened against how often it could have.
type SurpriseCount struct {
	Count int64 `json:"count"`
	// Opportunities are eligible account-days (rates per account-month), logins (rates per login) or
	// accounts (shares of accounts).
	Opportunities int64   `json:"opportunities"`
	Unit          string  `json:"unit"` // account_day | login | account
	Rate          float64 `json:"rate"` // the scenario's parameter
}

// Expected returns the count the scenario's rate predicts for the opportunities.
func (s SurpriseCount) Expected() float64 {
	if s.Unit == "account_day" {
		return s.Rate / 30 * float64(s.Opportunities)
	}
	return s.Rate * float64(s.Opportunities)
}

// ReadTruth decodes a truth document.
func ReadTruth(r io.Reader) (*Truth, error) {
	var t Truth
	dec := json.NewDecoder(r)
	if err := dec.Decode(&t); err != nil {
		return nil, err
	}
	return &t, nil
}

// finish sorts each takeover's events and fills the derived fields.
func (t *Truth) finish() {
	for _, tk := range t.Takeovers {
		idx := make([]int, len(tk.Events))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(i, j int) bool {
			a, b := idx[i], idx[j]
			if tk.ms[a] != tk.ms[b] {
				return tk.ms[a] < tk.ms[b]
			}
			return tk.seq[a] < tk.seq[b]
		})
		evs := make([]AttackerEvent, len(idx))
		for i, k := range idx {
			evs[i] = tk.Events[k]
		}
		tk.Events = evs
		tk.FirstOrder = ""
		for _, e := range evs {
			if e.Type == "order" {
				tk.FirstOrder = e.ID
				break
			}
		}
		if len(evs) > 0 {
			tk.Start, tk.End = evs[0].Time, evs[len(evs)-1].Time
		}
		if tk.Sessions == nil {
			tk.Sessions = []string{}
		}
		if tk.Addresses == nil {
			tk.Addresses = []string{}
		}
	}
	sort.SliceStable(t.Takeovers, func(i, j int) bool {
		if t.Takeovers[i].Start != t.Takeovers[j].Start {
			return t.Takeovers[i].Start < t.Takeovers[j].Start
		}
		return t.Takeovers[i].Account < t.Takeovers[j].Account
	})
	if t.Takeovers == nil {
		t.Takeovers = []*Takeover{}
	}
	if t.Campaigns == nil {
		t.Campaigns = []*Campaign{}
	}
	if t.StuffingWaves == nil {
		t.StuffingWaves = []*Wave{}
	}
	if t.Beneficiaries == nil {
		t.Beneficiaries = []string{}
	}
	for _, c := range t.Campaigns {
		if c.Victims == nil {
			c.Victims = []string{}
		}
		if c.Beneficiaries == nil {
			c.Beneficiaries = []string{}
		}
	}
	for _, w := range t.StuffingWaves {
		if w.Successes == nil {
			w.Successes = []string{}
		}
	}
}

func (tk *Takeover) noteSession(s string) {
	if s == "" {
		return
	}
	if tk.sessSet == nil {
		tk.sessSet = map[string]bool{}
	}
	if !tk.sessSet[s] {
		tk.sessSet[s] = true
		tk.Sessions = append(tk.Sessions, s)
	}
}

func (tk *Takeover) noteAddr(ip uint32) {
	if ip == 0 {
		return
	}
	s := string(appendIP(nil, ip))
	if tk.addrSet == nil {
		tk.addrSet = map[string]bool{}
	}
	if !tk.addrSet[s] {
		tk.addrSet[s] = true
		tk.Addresses = append(tk.Addresses, s)
	}
}

func eventID(n uint64) string { return "e" + strconv.FormatUint(n, 10) }

// finishTruth completes the truth at the end of a run.
func (g *gen) finishTruth() {
	t := g.truth
	t.Start = formatTime(g.start)
	t.End = formatTime(g.end)
	t.Instruments = len(g.insts)
	t.TradingDays = len(g.tradingDays)
	sp := g.sc.Surprises
	vpnUsers := int64(0)
	for _, a := range g.accts {
		if a.role == roleCustomer && a.taken == nil {
			t.Legitimate.Accounts++
		}
		if a.vpn {
			vpnUsers++
		}
	}
	t.Surprises = map[string]SurpriseCount{}
	for name, s := range g.surp {
		t.Surprises[name] = *s
	}
	set := func(name, unit string, rate float64) {
		s := t.Surprises[name]
		s.Unit, s.Rate = unit, rate
		t.Surprises[name] = s
	}
	set("cleared_cookies", "login", sp.ClearedCookies)
	set("vpn_login", "login", sp.VPNLogins)
	set("session_ip_change", "login", sp.SessionIPChange)
	set("session_ip_change_pc", "login", sp.SessionIPChangePC)
	dayTraders := int64(0)
	for _, a := range g.accts {
		if a.kind == kDayTrader {
			dayTraders++
		}
	}
	t.Surprises["api_traders"] = SurpriseCount{Count: g.apiTraders, Opportunities: dayTraders, Unit: "account", Rate: sp.APITraders}
	if sp.CorporateEgress > 0 {
		t.Surprises["corporate_egress"] = SurpriseCount{Count: int64(g.offices), Opportunities: int64(t.Legitimate.Accounts),
			Unit: "account", Rate: sp.CorporateEgress}
	}
	if sp.Aggregators > 0 {
		t.Surprises["aggregators"] = SurpriseCount{Count: int64(len(g.aggAccts)), Opportunities: int64(t.Legitimate.Accounts),
			Unit: "account", Rate: sp.Aggregators}
	}
	t.Surprises["vpn_users"] = SurpriseCount{Count: vpnUsers, Opportunities: int64(len(g.accts)), Unit: "account", Rate: sp.VPNUsers}
	t.Surprises["shared_household"] = SurpriseCount{Count: int64(t.HouseholdAccounts), Opportunities: int64(len(g.accts)),
		Unit: "account", Rate: sp.SharedHousehold}
	t.Behaviours = map[string]int64{}
	for k, v := range g.beh {
		t.Behaviours[k] = v
	}
	for i, n := range g.byType {
		t.Behaviours["events."+evNames[i]] = n
	}
	for i, n := range g.hot {
		if n > 0 {
			t.Behaviours[hotNames[i]] += n
		}
	}
	for name, s := range t.Surprises {
		if s.Count > 0 {
			t.Behaviours["surprise."+name] = s.Count
		}
	}
	for _, c := range t.Campaigns {
		c.HijackedBuyYen = float64(int64(c.HijackedBuyYen))
	}
	t.finish()
}
