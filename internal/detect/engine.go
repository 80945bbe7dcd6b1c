// Package detect is brokerguard's decision engine. For every event it updates the market, the
// cross-account links and the account's profile, and for every successful login, account change, order
// and withdrawal it computes named signals from the account's own history and the market, scores them
// with a Scorer, applies the firm's rules, maps the result to an action through per-type thresholds and
// explains it with reasons. Only earlier events count, and the same events give the same decisions.
package detect

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/brokerguard/brokerguard/internal/campaign"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/ipintel"
	"github.com/brokerguard/brokerguard/internal/links"
	"github.com/brokerguard/brokerguard/internal/market"
	"github.com/brokerguard/brokerguard/internal/profile"
	"github.com/brokerguard/brokerguard/internal/rules"
)

// IPIntel looks up what is known of an address. *ipintel.DB implements it, and a nil one knows nothing.
type IPIntel interface {
	Lookup(addr netip.Addr) ipintel.Info
}

// CrossAccount is the engine's narrow view of state shared across accounts: who else used a resource,
// and which browsers a TLS fingerprint usually belongs to. *links.Links implements it in one process.
type CrossAccount interface {
	Observe(kind links.Kind, h, account uint64, t uint32) int
	ObserveTLS(tls, family uint64) links.TLSStats
	// LoginFailure counts a failed login towards the credential-stuffing watch and returns the wave it
	// starts, if any; StuffingWave says whether a wave is under way and how many failures the last ten
	// minutes saw.
	LoginFailure(t uint32, ip, account string) (links.WaveStart, bool)
	StuffingWave(t uint32) (bool, int)
}

// Step is one rung of a threshold ladder: at or above Score, the action is at least Action.
type Step struct {
	Action event.Action `yaml:"action" json:"action"`
	Score  int          `yaml:"score" json:"score"`
}

// Thresholds map scores to actions per event type.
type Thresholds struct {
	Login         []Step `yaml:"login"`
	ProfileChange []Step `yaml:"profile_change"`
	Order         []Step `yaml:"order"`
	Withdrawal    []Step `yaml:"withdrawal"`
}

// DefaultThresholds are the shipped ladders.
func DefaultThresholds() Thresholds {
	return Thresholds{
		// No score alone blocks: a block locks the customer out, so it is left to rules (a locked account).
		// A challenge or a hold already stops an attacker who cannot pass a phishing-resistant step-up.
		Login:         []Step{{event.ActionReview, 250}, {event.ActionChallenge, 450}},
		ProfileChange: []Step{{event.ActionReview, 300}, {event.ActionChallenge, 550}},
		Order:         []Step{{event.ActionReview, 300}, {event.ActionHold, 650}},
		Withdrawal:    []Step{{event.ActionReview, 300}, {event.ActionHold, 550}},
	}
}

// Validate checks that each ladder rises in both score and action.
func (th Thresholds) Validate() error {
	for _, l := range []struct {
		name  string
		steps []Step
	}{{"login", th.Login}, {"profile_change", th.ProfileChange}, {"order", th.Order}, {"withdrawal", th.Withdrawal}} {
		for i, s := range l.steps {
			if s.Score < 0 || s.Score > 1000 {
				return fmt.Errorf("thresholds.%s[%d]: score %d, want 0..1000", l.name, i, s.Score)
			}
			if i > 0 && (s.Score <= l.steps[i-1].Score || s.Action <= l.steps[i-1].Action) {
				return fmt.Errorf("thresholds.%s[%d]: each step needs a higher score and a more severe action than the one before", l.name, i)
			}
		}
	}
	return nil
}

func (th *Thresholds) ladder(t event.Type) []Step {
	switch t {
	case event.TypeLogin:
		return th.Login
	case event.TypeProfileChange:
		return th.ProfileChange
	case event.TypeOrder:
		return th.Order
	case event.TypeWithdrawal:
		return th.Withdrawal
	}
	return nil
}

func (th *Thresholds) action(t event.Type, score int) event.Action {
	a := event.ActionAllow
	for _, s := range th.ladder(t) {
		if score >= s.Score {
			a = s.Action
		}
	}
	return a
}

// Options configure an Engine. Zero fields get defaults.
type Options struct {
	IP         IPIntel
	Scorer     Scorer
	Rules      *rules.Set
	Shadow     *rules.Set
	Thresholds *Thresholds
	Links      CrossAccount
	Market     *market.Market
	Accounts   *profile.Accounts
	// Campaign is the cross-account campaign layer; a default one is made unless NoCampaign is set.
	Campaign   *campaign.Layer
	NoCampaign bool
	// AlertScore is the lowest score of a challenge that also raises an account_takeover alert; holds and
	// blocks always do.
	AlertScore int
	// MaxReasons bounds the reasons of a decision.
	MaxReasons int
	// LockFor is how long a fraud report locks the account; 0 keeps it locked until the customer is
	// re-verified (an analyst's unlock).
	LockFor time.Duration
	// Lateness, when positive, keeps each account's events of the last Lateness so that one arriving
	// late is applied at its place in time (see history.go): for sources that may deliver an account's
	// events out of order, such as the HTTP API. Zero when events come in time order (replay sorts them
	// before the engine sees them).
	Lateness time.Duration
}

// Engine decides on events. It is safe for concurrent use. Events of one account must be given in time
// order unless Options.Lateness is set.
type Engine struct {
	ip         IPIntel
	scorer     Scorer
	inherit    float32
	rules      *rules.Set
	shadow     *rules.Set
	th         Thresholds
	links      CrossAccount
	market     *market.Market
	accounts   *profile.Accounts
	campaign   *campaign.Layer
	alertScore int
	maxReasons int
	lockFor    uint32
	lateness   int64 // nanoseconds; 0: events come in time order
}

// New returns an engine.
func New(o Options) (*Engine, error) {
	e := &Engine{ip: o.IP, scorer: o.Scorer, rules: o.Rules, shadow: o.Shadow, links: o.Links, market: o.Market,
		accounts: o.Accounts, campaign: o.Campaign, alertScore: o.AlertScore, maxReasons: o.MaxReasons, inherit: 0.8}
	if e.scorer == nil {
		e.scorer = DefaultModel()
	}
	if m, ok := e.scorer.(*Model); ok {
		e.inherit = float32(m.Inherit)
	}
	if e.rules == nil {
		e.rules = rules.Default()
	}
	if o.Thresholds != nil {
		e.th = *o.Thresholds
	} else {
		e.th = DefaultThresholds()
	}
	if err := e.th.Validate(); err != nil {
		return nil, err
	}
	if e.links == nil {
		e.links = links.New(24 * 3600)
	}
	if e.market == nil {
		e.market = market.New()
	}
	if e.accounts == nil {
		e.accounts = profile.NewAccounts()
	}
	if e.campaign == nil && !o.NoCampaign {
		e.campaign = campaign.New(campaign.Config{})
	}
	if e.alertScore == 0 {
		e.alertScore = 850
	}
	if e.maxReasons == 0 {
		e.maxReasons = 5
	}
	e.lockFor = uint32(o.LockFor / time.Second)
	e.lateness = int64(o.Lateness)
	return e, nil
}

// Accounts returns the engine's profiles.
func (e *Engine) Accounts() *profile.Accounts { return e.accounts }

// Market returns the engine's market state.
func (e *Engine) Market() *market.Market { return e.market }

// Campaign returns the campaign layer, or nil when it is off.
func (e *Engine) Campaign() *campaign.Layer { return e.campaign }

// Rules returns the live rule set.
func (e *Engine) Rules() *rules.Set { return e.rules }

// ShadowRules returns the shadow rule set, or nil.
func (e *Engine) ShadowRules() *rules.Set { return e.shadow }

// Outcome is what processing one event produced.
type Outcome struct {
	Decided  bool
	Decision event.Decision
	// Shadow is the shadow rule set's decision, when one runs.
	Shadow *event.Decision
	Alerts []event.Alert
	// Late is set when the event was placed before events of its account that had arrived earlier but
	// happened later: its decision saw only the events before it, and those after it were applied again.
	Late bool
	// Unplaced is set when the event can no longer be put at its place (events of its account after
	// it have been folded into its history's base). Nothing was applied; the caller rejects it as too
	// late.
	Unplaced bool
}

// FraudReportedCode is the reason code of the account_takeover alert a fraud report raises.
const FraudReportedCode = "FRAUD_REPORTED"

// Durations used by the signals.
const (
	hour             = 3600
	day              = 24 * hour
	liquidationShort = 6 * hour
	liquidationLong  = 7 * day
	recentChange     = 72 * hour
	dormancy         = 180 * day
)

// request is what the engine derives from an event before taking the account's lock.
type request struct {
	addr       netip.Addr
	info       ipintel.Info
	netKey     uint64       // ASN, or the /16 without IP data
	net16      netip.Prefix // the network without IP data
	prefix     uint64
	p24        netip.Prefix
	country    string
	uaFam      string
	uaKey      uint64
	tlsKey     uint64
	stackKey   uint64 // the TLS stack the user agent's client would carry (tlsStack)
	acct       uint64
	addrOthers int
	devOthers  int
	destOthers int
	tls        links.TLSStats
	// wave is set on a successful login inside a credential-stuffing wave.
	wave         bool
	waveFailures int

	// cio is the event's traffic with the campaign layer, when it has any (pooled; see campaignIO).
	cio           *campaignIO
	fraudReported bool
	// late is set when the event happened before events of its account already applied.
	late bool
}

// Process updates state with ev and, when the contract asks for one, decides on it. ev must be valid.
func (e *Engine) Process(ev *event.Event) Outcome {
	var out Outcome
	switch ev.Type {
	case event.TypeInstrument:
		e.market.ApplyInstrument(ev.Symbol, ev.Name, ev.Market, ev.Lot, ev.SharesOutstanding, ev.PrevClose, ev.AvgDailyVolume)
		return out
	case event.TypeQuote:
		e.market.ApplyQuote(ev.Symbol, ev.Time, ev.Price, ev.Volume)
		return out
	}
	var late bool
	if e.lateness > 0 {
		var ok bool
		if ok, late = e.placeable(ev); !ok {
			out.Unplaced = true
			return out
		}
	}
	t := profile.Unix(ev.Time)
	if ev.Type == event.TypeExecution && e.campaign != nil {
		if ins, ok := e.market.Get(ev.Symbol); ok {
			out.Alerts = append(out.Alerts, e.campaign.Execution(&ins, ev.ID, ev.Quantity, ev.Time)...)
		}
	}
	var rq request
	rq.acct = profile.Hash(ev.Account)
	rq.late = late
	if ev.IP != "" {
		e.network(ev, &rq)
	}
	// Cross-account observations: each is its own partition, reached before the account's lock.
	if ev.Type == event.TypeLogin {
		if ev.Result != "success" {
			if ws, started := e.links.LoginFailure(t, ev.IP, ev.Account); started {
				out.Alerts = append(out.Alerts, stuffingAlert(ev, ws))
			}
		} else {
			rq.wave, rq.waveFailures = e.links.StuffingWave(t)
		}
	}
	switch ev.Type {
	case event.TypeLogin, event.TypeProfileChange, event.TypeOrder, event.TypeWithdrawal:
		if rq.addr.IsValid() {
			rq.addrOthers = e.links.Observe(links.KindIP, profile.Hash(ev.IP), rq.acct, t)
		}
		if ev.Device != "" {
			rq.devOthers = e.links.Observe(links.KindDevice, profile.Hash(ev.Device), rq.acct, t)
		}
		if ev.UserAgent != "" {
			rq.uaFam = uaFamily(ev.UserAgent)
			rq.uaKey = profile.Hash(rq.uaFam)
		}
		if ev.TLS != "" {
			rq.tlsKey = profile.Hash(ev.TLS)
			if ev.Type == event.TypeLogin && rq.uaKey != 0 {
				// Fingerprints are learned per TLS stack, not per browser brand: Chrome on Windows and
				// Edge carry the same one, and so do Safari and every other browser on an iPhone.
				rq.stackKey = profile.Hash("tls:" + tlsStack(rq.uaFam))
				rq.tls = e.links.ObserveTLS(rq.tlsKey, rq.stackKey)
			}
		}
		if ev.Type == event.TypeWithdrawal && ev.Destination != "" {
			rq.destOthers = e.links.Observe(links.KindDestination, profile.Hash(ev.Destination), rq.acct, t)
		}
	}
	if c := e.campaign; c != nil && ev.NeedsDecision() {
		e.readCampaign(c, ev, t, &rq)
	}
	e.accounts.With(ev.Account, func(p *profile.Profile) {
		if e.lateness > 0 {
			e.processInOrder(ev, p, t, &rq, &out)
			return
		}
		e.processAccount(ev, p, t, &rq, &out, nil)
	})
	if rq.fraudReported {
		detail := "the customer reported activity on the account as not theirs"
		if ev.Channel != "" {
			detail += " (by " + ev.Channel + ")"
		}
		out.Alerts = append(out.Alerts, event.Alert{ID: "rep-" + ev.ID, Time: ev.Time, Kind: event.AlertAccountTakeover,
			Accounts: []string{ev.Account}, Score: 1000, Reasons: []event.Reason{{Code: FraudReportedCode, Detail: detail}}})
	}
	if c := e.campaign; c != nil {
		// The campaign layer learns from the decision outside the account's lock.
		if cio := rq.cio; cio != nil {
			if cio.recordOrder {
				out.Alerts = append(out.Alerts, c.Order(&cio.order)...)
			}
			if cio.recordAccess {
				out.Alerts = append(out.Alerts, c.Access(&cio.access)...)
			}
			campaignPool.Put(cio)
		}
		if rq.fraudReported {
			out.Alerts = append(out.Alerts, c.FraudReport(ev.ID, ev.Account, ev.Time)...)
		}
	}
	return out
}

// stuffingAlert describes a credential-stuffing wave when it is first seen.
func stuffingAlert(ev *event.Event, ws links.WaveStart) event.Alert {
	var b strings.Builder
	fmt.Fprintf(&b, "%d failed logins across accounts in 10 min, against %.0f expected", ws.Failures, ws.Expected)
	if len(ws.Sources) > 0 {
		b.WriteString("; busiest sources:")
		for i, s := range ws.Sources {
			if i == 5 {
				break
			}
			fmt.Fprintf(&b, " %s (%d)", s.IP, s.Failures)
		}
	}
	score := int(math.Min(1000, 600+100*math.Log2(float64(ws.Failures)/math.Max(ws.Expected, 1))))
	return event.Alert{ID: "cs-" + ev.ID, Time: ev.Time, Kind: event.AlertCredentialStuffing, Accounts: ws.Accounts,
		Score: max(score, 600), Reasons: []event.Reason{{Code: "CREDENTIAL_STUFFING_WAVE", Detail: b.String()}}}
}

func (e *Engine) network(ev *event.Event, rq *request) {
	addr, err := netip.ParseAddr(ev.IP)
	if err != nil {
		return
	}
	addr = addr.Unmap()
	rq.addr = addr
	if e.ip != nil {
		rq.info = e.ip.Lookup(addr)
	}
	p24 := ipintel.Prefix(addr)
	rq.prefix = prefixKey(p24)
	rq.p24 = p24
	if rq.info.ASN != 0 {
		rq.netKey = uint64(rq.info.ASN) | 1<<40
	} else {
		bits := 16
		if addr.Is6() {
			bits = 32
		}
		p16, _ := addr.Prefix(bits)
		rq.netKey = prefixKey(p16)
		rq.net16 = p16
	}
	rq.country = ev.Country
	if rq.country == "" {
		rq.country = rq.info.Country
	}
}

// netName names the request's network for a reason: "AS4713 NTT Communications", or the address block.
// It is built only for signals that are raised.
func (rq *request) netName() string {
	if rq.info.ASN == 0 {
		return rq.net16.String()
	}
	n := "AS" + strconv.FormatUint(uint64(rq.info.ASN), 10)
	if rq.info.Org != "" {
		n += " " + rq.info.Org
	}
	return n
}

func prefixKey(p netip.Prefix) uint64 {
	b := p.Addr().As16()
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h ^ uint64(p.Bits())
}

// processAccount applies ev to the account's profile and decides on it when the contract asks for a
// decision. ls, when not nil, receives what the decision taught the profile.
func (e *Engine) processAccount(ev *event.Event, p *profile.Profile, t uint32, rq *request, out *Outcome, ls *lesson) {
	if e.observe(ev, p, t) {
		rq.fraudReported = ev.Type == event.TypeFraudReport
		return
	}
	e.decideAccount(ev, p, t, rq, out, ls)
}

// observe applies an event that needs no decision to the profile, and reports whether ev was one.
func (e *Engine) observe(ev *event.Event, p *profile.Profile, t uint32) bool {
	switch ev.Type {
	case event.TypeSnapshot:
		hs := make([]profile.Position, len(ev.Holdings))
		for i, h := range ev.Holdings {
			hs[i] = profile.Position{Symbol: h.Symbol, Qty: h.Quantity, Cost: h.Cost}
		}
		var opened uint32
		if d, err := time.Parse("2006-01-02", ev.Opened); err == nil {
			opened = profile.Unix(d)
		}
		p.ApplySnapshot(ev.Cash, hs, ev.Margin, ev.Notifications, ev.MFA, opened)
		return true
	case event.TypeLogin:
		if ev.Result != "success" {
			p.AddFail(t)
			return true
		}
		return false
	case event.TypeLogout:
		p.EndSession(profile.Hash(ev.Session))
		return true
	case event.TypeCancel:
		return true
	case event.TypeExecution:
		p.ApplyExecution(ev.Symbol, ev.Side, ev.Quantity, ev.Price, ev.Fee, t)
		p.Symbols.Add(profile.Hash(ev.Symbol), t, profile.MaxSymbols)
		p.Touch(t)
		return true
	case event.TypeFraudReport:
		p.Lock(t)
		return true
	}
	return false
}

// decideAccount decides on a successful login, account change, order or withdrawal and learns from it.
func (e *Engine) decideAccount(ev *event.Event, p *profile.Profile, t uint32, rq *request, out *Outcome, ls *lesson) {
	// A decision: login success, profile change, order or withdrawal. The per-decision working memory
	// comes from a pool: it would otherwise escape to the heap through the rules' interface.
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	*sc = scratch{}
	ss := &sc.sigs
	e.accessSignals(ev, p, t, rq, ss)
	var sess *profile.Session
	if ev.Type != event.TypeLogin && ev.Session != "" {
		sess = p.Session(profile.Hash(ev.Session))
		if sess != nil && sess.Verified {
			// The customer passed a phishing-resistant step-up in this session: who is at the keyboard
			// is settled for the network and client that passed it. A request of the session from
			// elsewhere is not covered (a stolen cookie of a verified session is still stolen): what is
			// new about its network or client still counts, and so do changes within the session.
			if !rq.addr.IsValid() || sess.Net == 0 || rq.netKey == sess.Net {
				ss.Strength[NewASN], ss.Strength[NewNetwork], ss.Strength[NewCountry] = 0, 0, 0
			}
			if rq.tlsKey == 0 || sess.TLS == 0 || rq.tlsKey == sess.TLS {
				for _, s := range [...]Signal{NewDevice, NoDeviceID, NewUserAgent, NewTLS} {
					ss.Strength[s] = 0
				}
			}
		}
	}
	ins := &sc.ins
	var haveIns bool
	var orderValue float64
	switch ev.Type {
	case event.TypeLogin:
		e.loginSignals(ev, p, t, rq, ss)
	case event.TypeProfileChange:
		e.sessionSignals(ev, p, rq, ss)
		e.changeSignals(ev, p, t, ss)
	case event.TypeOrder:
		e.sessionSignals(ev, p, rq, ss)
		e.changeSignals(ev, p, t, ss)
		*ins, haveIns = e.market.Get(ev.Symbol)
		orderValue = e.orderSignals(ev, p, t, ins, haveIns, ss)
	case event.TypeWithdrawal:
		e.sessionSignals(ev, p, rq, ss)
		e.changeSignals(ev, p, t, ss)
		e.withdrawalSignals(ev, p, t, rq, ss)
	}
	if p.Locked && e.lockFor > 0 && t >= p.LockedAt+e.lockFor {
		p.Locked = false // the configured lock period is over
	}
	if p.Locked {
		ss.Set(AccountLocked, 1, 0, 0, "after a fraud report")
	}
	e.watchSignals(ev, t, rq, ins, haveIns, ss)

	score, contribs := e.scorer.Score(ev.Type, ss, sc.contribs[:0])
	f := &sc.facts
	*f = facts{ev: ev, p: p, rq: rq, ss: ss, ins: ins, haveIns: haveIns, orderValue: orderValue, score: score}
	d := e.decide(ev, e.rules, f, score, contribs)
	out.Decided = true
	out.Decision = d
	if e.shadow != nil {
		sd := e.decide(ev, e.shadow, f, score, contribs)
		out.Shadow = &sd
	}
	var own lesson
	if ls == nil {
		ls = &own
	}
	*ls = lesson{action: d.Action, score: d.Score, signals: ss.Mask(), orderValue: orderValue,
		addr: rq.addr.IsValid(), netKey: rq.netKey, prefix: rq.prefix, country: rq.country, uaKey: rq.uaKey, tlsKey: rq.tlsKey}
	if ev.Type == event.TypeOrder && ev.Side == "sell" {
		ls.holdings = e.holdingsValue(p, t) // at the prices of the moment
	}
	alert := e.learn(ev, p, t, ls)
	if e.campaign != nil {
		e.tellCampaign(ev, p, rq, ss, &d, ins, haveIns, orderValue)
	}
	if alert {
		a := event.Alert{ID: "ato-" + ev.ID, Time: ev.Time, Kind: event.AlertAccountTakeover,
			Accounts: []string{ev.Account}, Score: d.Score, Reasons: d.Reasons}
		if ev.Symbol != "" {
			a.Symbols = []string{ev.Symbol}
		}
		out.Alerts = append(out.Alerts, a)
	}
}

// lesson is what a decision teaches the account's profile: all that learn reads, so that a decided
// event can be applied again, as it was decided, when an earlier one arrives late.
type lesson struct {
	action     event.Action
	score      int
	signals    uint64 // the raised signals (Signals.Mask)
	orderValue float64
	holdings   float64 // a sell order's holdings value before it
	// The request's network and client, as keys.
	addr                          bool
	netKey, prefix, uaKey, tlsKey uint64
	country                       string
}

func (ls *lesson) has(s Signal) bool { return ls.signals&(1<<s) != 0 }

// scratch is one decision's working memory.
type scratch struct {
	sigs     Signals
	contribs [16]Contribution
	ins      market.Instrument
	facts    facts
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// decide combines the score with a rule set into a decision.
func (e *Engine) decide(ev *event.Event, rs *rules.Set, f *facts, score int, contribs []Contribution) event.Decision {
	d := event.Decision{ID: ev.ID, Account: ev.Account, Type: ev.Type.String(), Time: ev.Time}
	var hitBuf [8]rules.Hit
	hits := rs.Eval(ev.Type, f, hitBuf[:0])
	minAction := event.ActionAllow
	for _, h := range hits {
		score += h.AddScore
		if h.HasAction && h.MinAction > minAction {
			minAction = h.MinAction
		}
	}
	score = max(0, min(1000, score))
	d.Score = score
	d.Action = max(e.th.action(ev.Type, score), minAction)
	if ev.Type == event.TypeLogin && phishingResistant(ev.Method) && d.Action == event.ActionChallenge && minAction < event.ActionChallenge {
		// The login itself passed the phishing-resistant step-up a challenge would ask for (a passkey,
		// or the app's biometrics unlocking its device-bound key): novelty alone is left to review.
		d.Action = event.ActionReview
	}
	reasons := make([]event.Reason, 0, min(e.maxReasons, len(hits)+len(contribs)))
	for _, h := range hits {
		if len(reasons) == e.maxReasons {
			break
		}
		if h.Reason.Code != "" && !hasCode(reasons, h.Reason.Code) {
			reasons = append(reasons, h.Reason)
		}
	}
	for _, c := range contribs {
		if len(reasons) == e.maxReasons || c.Value < 0.3 {
			break
		}
		if hasCode(reasons, c.Code) {
			continue
		}
		var detail string
		if c.Pair > 0 {
			if m, ok := e.scorer.(*Model); ok {
				detail = m.Interactions[c.Pair-1].Detail
			}
		} else {
			detail = f.ss.Detail(c.Signal)
		}
		reasons = append(reasons, event.Reason{Code: c.Code, Detail: detail})
	}
	d.Reasons = reasons
	return d
}

func hasCode(rs []event.Reason, code string) bool {
	for _, r := range rs {
		if r.Code == code {
			return true
		}
	}
	return false
}

// history reports whether the account has enough past to call something new.
func history(p *profile.Profile) bool { return p.Logins > 0 }

func (e *Engine) accessSignals(ev *event.Event, p *profile.Profile, t uint32, rq *request, ss *Signals) {
	known := history(p)
	if ev.Device != "" {
		if known && !p.Devices.Has(profile.Hash(ev.Device)) {
			ss.Set(NewDevice, 1, 0, 0, "")
		}
	} else if ev.Channel != "phone" && (ev.Type == event.TypeLogin || len(p.Devices) > 0) {
		v := 0.5
		if len(p.Devices) > 0 {
			v = 1
		}
		ss.Set(NoDeviceID, v, 0, 0, "")
	}
	if rq.addr.IsValid() {
		if known && !p.ASNs.Has(rq.netKey) {
			ss.Set(NewASN, 1, 0, 0, rq.netName())
		}
		if known && !p.Prefixes.Has(rq.prefix) {
			ss.Set(NewNetwork, 1, 0, 0, rq.p24.String())
		}
		if rq.info.Hosting {
			v := 1.0
			if p.ASNs.Has(rq.netKey) {
				v = 0.3 // a hosting network this customer uses (a corporate or personal VPN)
			}
			ss.Set(HostingASN, v, 0, 0, rq.netName())
		}
		if rq.info.VPN {
			ss.Set(VPNASN, 1, 0, 0, rq.netName())
		}
		// Many customers behind one address is normal for a carrier's shared NAT or an office, and for
		// the addresses a customer uses every day; it is evidence only on an address block new to them.
		if rq.addrOthers >= 3 && !p.Prefixes.Has(rq.prefix) {
			ss.Set(AddressShared, 0.4+0.1*float64(rq.addrOthers), float64(rq.addrOthers), 0, "")
		}
	}
	if rq.country != "" && known {
		ck := countryKey(rq.country)
		if !p.Countries.Has(ck) {
			ss.Set(NewCountry, 1, 0, 0, rq.country)
		}
		last := string(p.LastCountry[:])
		if p.LastLogin > 0 && last != rq.country && p.LastCountry[0] != 0 && t > p.LastLogin {
			if km := distanceKM(last, rq.country); km > 500 {
				dt := float64(t - p.LastLogin)
				if speed := km / dt * 3600; speed > 1000 {
					ss.Set(ImpossibleTravel, 1, speed, dt, last+" → "+rq.country)
				}
			}
		}
	}
	if ev.Device != "" && rq.devOthers > 0 {
		v := 0.4
		if rq.devOthers >= 2 {
			v = 1
		}
		ss.Set(DeviceShared, v, float64(rq.devOthers), 0, "")
	}
	if rq.uaKey != 0 && known && !p.UAFamilies.Has(rq.uaKey) {
		ss.Set(NewUserAgent, 1, 0, 0, rq.uaFam)
	}
	if rq.tlsKey != 0 {
		if known && !p.TLS.Has(rq.tlsKey) {
			ss.Set(NewTLS, 1, 0, 0, "")
		}
		// The fingerprint is well known, another stack usually carries it, and the one the user agent
		// claims almost never does: a copied user agent over a tool's or another browser's TLS.
		if rq.tls.Total >= 30 && rq.tls.DominantShare >= 0.6 && rq.tls.ThisShare < 0.02 && rq.tls.Dominant != rq.stackKey {
			ss.Set(UATLSMismatch, 1, 0, 0, rq.uaFam)
		}
	}
	if p.LastActivity > 0 && t > p.LastActivity+dormancy {
		ss.Set(DormantReactivated, 1, float64(t-p.LastActivity), 0, "")
	}
}

func countryKey(c string) uint64 { return profile.Hash("cc:" + c) }

func (e *Engine) loginSignals(ev *event.Event, p *profile.Profile, t uint32, rq *request, ss *Signals) {
	if rq.wave {
		// A success among a wave of failures is most likely a hit of the list, unless it is plainly the
		// customer: a device and a network the account knows.
		v := 1.0
		if ev.Device != "" && p.Devices.Has(profile.Hash(ev.Device)) && p.ASNs.Has(rq.netKey) {
			v = 0.2
		}
		ss.Set(StuffingWave, v, float64(rq.waveFailures), 0, "")
	}
	if t > hour {
		if n := p.FailsSince(t - hour); n > 0 {
			v := 0.4
			if n >= 3 {
				v = 1
			}
			ss.Set(FailedLoginsBefore, v, float64(n), 0, "")
		}
	}
	if p.Logins >= 3 {
		strength := profile.MethodStrength(ev.Method)
		usual, most := uint8(0), uint16(0)
		for m, n := range p.Methods {
			if n > most {
				usual, most = uint8(m), n
			}
		}
		if strength != profile.MethodRefresh && strength < usual && float64(most) >= 0.8*float64(p.Logins) {
			ss.Set(WeakerMethod, 1, 0, 0, ev.Method)
		}
	}
	// A password or a one-time code can be relayed by a phishing page in real time; a passkey or the app's
	// biometrics cannot. Such a login on a client the account does not know (no device id, or a new one)
	// from an address block it never used is what a relayed login looks like.
	if history(p) && rq.addr.IsValid() && !p.Prefixes.Has(rq.prefix) && phishable(ev.Method) &&
		(ev.Device == "" || !p.Devices.Has(profile.Hash(ev.Device))) {
		// Strongest without a device id (a relaying tool keeps none) and from a network never used.
		v := 1.0
		if ev.Device != "" {
			v = 0.5
		}
		if p.ASNs.Has(rq.netKey) {
			v *= 0.6
		}
		ss.Set(PhishableLoginNewAddress, v, 0, 0, ev.Method)
	}
	if p.Logins >= 10 {
		h := jstHour(ev.Time)
		n := int(p.LoginHours[h]) + int(p.LoginHours[(h+23)%24]) + int(p.LoginHours[(h+1)%24])
		if float64(n) < 0.02*float64(p.Logins) {
			ss.Set(UnusualHour, 1, float64(h), 0, "")
		}
	}
}

// phishingResistant reports whether a login method is itself a phishing-resistant authentication: a
// passkey, or the app's biometrics unlocking a key bound to the device. (A session refresh is a token
// that can be stolen like a cookie; a password or a one-time code can be relayed.)
func phishingResistant(method string) bool { return method == "passkey" || method == "app_biometric" }

// phishable reports whether a login method can be relayed by a phishing page in real time.
func phishable(method string) bool { return method == "password" || method == "password_otp" }

func jstHour(t time.Time) int { return int(((t.Unix()+9*3600)%86400+86400)%86400) / 3600 }

func (e *Engine) sessionSignals(ev *event.Event, p *profile.Profile, rq *request, ss *Signals) {
	if ev.Session == "" {
		return
	}
	s := p.Session(profile.Hash(ev.Session))
	if s == nil {
		if history(p) {
			ss.Set(SessionUnknown, 1, 0, 0, "")
		}
		return
	}
	if ev.Device != "" && s.Device != 0 && profile.Hash(ev.Device) != s.Device {
		ss.Set(SessionDeviceChanged, 1, 0, 0, "")
	}
	// A browser keeps the device id the firm sets at its first login and sends it with every request
	// after; a whole web session without one, login included, is a tool relaying the customer's
	// credentials (an API or phone session never carries one).
	if ev.Device == "" && s.Device == 0 && ev.Channel != "api" && ev.Channel != "phone" {
		ss.Set(NoDeviceID, 1, 1, 0, "")
	}
	if rq.addr.IsValid() {
		if s.Net != 0 && rq.netKey != s.Net {
			v := 1.0
			sameClient := rq.tlsKey != 0 && rq.tlsKey == s.TLS && (ev.Device == "" || profile.Hash(ev.Device) == s.Device)
			switch {
			case p.ASNs.Has(rq.netKey):
				v = 0.3 // to a network the customer uses too: home Wi-Fi to the mobile carrier
			case sameClient && rq.country == string(p.LastCountry[:]):
				v = 0.4 // the same browser and device roaming within the country; a replayed cookie rarely brings its TLS client along
			}
			ss.Set(SessionNetworkChanged, v, 0, 0, rq.netName())
		}
		if s.Prefix != 0 && rq.prefix != s.Prefix {
			ss.Set(SessionAddressChanged, 1, 0, 0, "")
		}
	}
	if rq.tlsKey != 0 && s.TLS != 0 && rq.tlsKey != s.TLS {
		ss.Set(SessionTLSChanged, 1, 0, 0, "")
	}
	// The login's access signals carry over to everything done in its session, until a step-up.
	if s.Verified {
		return
	}
	// A login the engine let through without a second look passes on less than one it sent to review.
	inherit := e.inherit
	if e.th.action(event.TypeLogin, int(s.LoginScore)) == event.ActionAllow {
		inherit /= 2
	}
	for bits := s.Signals & accessSignals; bits != 0; bits &= bits - 1 {
		sig := Signal(trailingZeros(bits))
		if ss.Strength[sig] < inherit {
			ss.Strength[sig] = inherit
			ss.Inherited |= 1 << sig
		}
	}
}

func trailingZeros(x uint64) int {
	n := 0
	for x&1 == 0 {
		x >>= 1
		n++
	}
	return n
}

func (e *Engine) changeSignals(ev *event.Event, p *profile.Profile, t uint32, ss *Signals) {
	if ev.Type == event.TypeProfileChange {
		switch ev.Field {
		case "notifications":
			if ev.Value == "off" {
				ss.Set(NotificationsOff, 1, 0, 0, "")
			}
		case "email", "phone", "bank_account", "password", "trading_pin":
			ss.Set(SensitiveChange, 1, 0, 0, ev.Field)
		case "mfa":
			ss.Set(SensitiveChange, 1, 0, 0, "MFA")
			if mfaRank(ev.Value) < mfaRank(p.MFA) {
				ss.Set(MFADowngrade, 1, 0, 0, ev.Value)
			}
		}
	}
	if c := p.Changed[profile.ChangeNotifications]; c > 0 && !p.Notifications && t-c < recentChange {
		ss.Set(NotificationsOff, 1, float64(t-c), 0, "")
	}
	for _, i := range []int{profile.ChangeEmail, profile.ChangePhone} {
		if c := p.Changed[i]; c > 0 && t-c < recentChange {
			ss.Set(EmailChangedRecently, 1, float64(t-c), 0, profile.ChangeName(i))
		}
	}
	if c := p.Changed[profile.ChangeBankAccount]; c > 0 && t-c < recentChange {
		ss.Set(BankAccountChangedRecently, 1, float64(t-c), 0, "")
	}
}

func mfaRank(v string) int {
	switch v {
	case "passkey":
		return 4
	case "totp":
		return 3
	case "sms_otp", "email_otp", "on":
		return 2
	case "none", "off":
		return 0
	}
	return 1
}

// holdingsValue values the account's long-held positions (opened a day or more before t) at the best
// known prices: selling those is liquidation, closing today's trades is not.
func (e *Engine) holdingsValue(p *profile.Profile, t uint32) float64 {
	v := 0.0
	for _, h := range p.Holdings {
		if h.Since+day > t {
			continue
		}
		price := e.market.Price(h.Symbol)
		if price == 0 {
			price = h.Cost
		}
		v += float64(h.Qty) * price
	}
	return v
}

// longHeldValue is the value of a sell that comes out of a long-held position.
func longHeldValue(p *profile.Profile, symbol string, qty int64, price float64, t uint32) float64 {
	pos := p.Position(symbol)
	if pos == nil || pos.Since+day > t {
		return 0
	}
	return float64(min(qty, pos.Qty)) * price
}

// liquidation returns the share of holdings value sold within window and the time since the first sell.
func liquidation(p *profile.Profile, t, window uint32) (share float64, since uint32) {
	if p.SellBase <= 0 {
		return 0, 0
	}
	sold := 0.0
	first := uint32(0)
	for _, f := range p.Sells {
		if f.T+window >= t && f.T <= t {
			sold += f.Value
			if first == 0 {
				first = f.T
			}
		}
	}
	if first == 0 {
		return 0, 0
	}
	return math.Min(1, sold/p.SellBase), t - first
}

func (e *Engine) orderSignals(ev *event.Event, p *profile.Profile, t uint32, ins *market.Instrument, haveIns bool, ss *Signals) float64 {
	price := ev.Price
	if !ev.HasPrice && haveIns {
		price = ins.RefPrice()
	}
	value := float64(ev.Quantity) * price
	if ev.Side == "sell" {
		// The sell itself counts toward the liquidation it may be part of.
		base := p.SellBase
		if profile.SumFlows(p.Sells, t, liquidationShort) == 0 {
			base = e.holdingsValue(p, t)
		}
		if lv := longHeldValue(p, ev.Symbol, ev.Quantity, price, t); base > 0 && lv > 0 {
			sold := profile.SumFlows(p.Sells, t, liquidationShort) + lv
			share := math.Min(1, sold/base)
			if share >= 0.5 {
				first := t
				for _, f := range p.Sells {
					if f.T+liquidationShort >= t {
						first = f.T
						break
					}
				}
				ss.Set(Liquidation, (share-0.3)/0.6, share, float64(t-first), "")
			}
		}
		// The first sells of a takeover come before they add up to a liquidation; once they do,
		// LIQUIDATION and the changes' own signals say it.
		if !ss.Has(Liquidation) && longHeldValue(p, ev.Symbol, ev.Quantity, price, t) > 0 {
			sellAfterChange(p, t, ss)
		}
	} else {
		if share, since := liquidation(p, t, day); share >= 0.5 {
			ss.Set(Liquidation, (share-0.3)/0.6, share, float64(since), "")
		}
		if !p.Symbols.Has(profile.Hash(ev.Symbol)) {
			v := 0.5
			if p.Snapshot || p.Orders >= 3 {
				v = 1
			}
			ss.Set(FirstTimeSymbol, v, 0, 0, ev.Symbol)
		}
		if haveIns {
			illiquidSignal(ev, ins, value, p.IlliquidBuys, ss)
		}
	}
	if ev.AccountType == "margin" && !p.MarginUsed {
		v := 0.5
		if p.Orders >= 5 {
			v = 1
		}
		ss.Set(FirstMarginUse, v, 0, 0, "")
	}
	if p.Orders >= 5 && value > 0 {
		std := math.Max(p.OrderStd(), 0.25)
		z := (math.Log10(value) - p.OrderMean) / std
		if z >= 2.5 {
			ss.Set(OrderSizeOutlier, 0.5+(z-2.5)/2, value, value/math.Pow(10, p.OrderMean), "")
		}
	}
	return value
}

// sellAfterChange raises SellAfterAccountChange on a sell of long-held shares within a day of the changes
// that come before a takeover's sells: notices off, a new email or phone, a new bank account.
func sellAfterChange(p *profile.Profile, t uint32, ss *Signals) {
	for _, i := range [...]int{profile.ChangeNotifications, profile.ChangeEmail, profile.ChangePhone, profile.ChangeBankAccount} {
		if c := p.Changed[i]; c > 0 && t >= c && t-c < day {
			if i == profile.ChangeNotifications && p.Notifications {
				continue // turned back on, or only ever turned on
			}
			ss.Set(SellAfterAccountChange, 1, float64(t-c), 0, profile.ChangeName(i))
		}
	}
}

// illiquidSignal rates how thin a symbol is for the size of the buy.
func illiquidSignal(ev *event.Event, ins *market.Instrument, value float64, before uint16, ss *Signals) {
	adv := ins.ADValue()
	mcap := ins.MarketCap()
	v := 0.0
	thin := (mcap > 0 && mcap < 5e9) || (adv > 0 && adv < 30e6)
	if thin {
		v = 0.5
	}
	ratio := 0.0
	if adv > 0 && value > 0 {
		ratio = value / adv
		v += 0.5 * math.Max(0, math.Min(1, (math.Log10(ratio)+2)/1.3))
	}
	if v < 0.3 {
		return
	}
	if before > 0 {
		v *= 0.5 // a customer who speculates in small caps already
	}
	detail := "buy " + ev.Symbol + " " + yen(value)
	if adv > 0 {
		detail += " = " + strconv.FormatFloat(ratio*100, 'f', 1, 64) + "% of its daily traded value"
	}
	if mcap > 0 {
		detail += "; market cap " + yen(mcap)
	}
	ss.Set(IlliquidSymbol, v, ratio, mcap, detail)
}

func (e *Engine) withdrawalSignals(ev *event.Event, p *profile.Profile, t uint32, rq *request, ss *Signals) {
	if ev.Destination != "" && !p.Destinations.Has(profile.Hash(ev.Destination)) {
		v := 0.5
		if len(p.Destinations) > 0 {
			v = 1
		}
		ss.Set(NewWithdrawalDestination, v, ev.Amount, 0, "")
	}
	if rq.destOthers > 0 {
		ss.Set(DestinationShared, 1, float64(rq.destOthers), 0, "")
	}
	if share, _ := liquidation(p, t, liquidationLong); share >= 0.5 {
		ss.Set(WithdrawalAfterLiquidation, (share-0.3)/0.6, share, 0, "")
	}
}

// learn records the event into the profile. What a decision did not let through (a held order's size)
// is not learned as the customer's own, and only logins teach devices and networks.
// learn records a decided event into the profile, and reports whether the decision raises an
// account_takeover alert (at most one a day per account, unless a block follows).
func (e *Engine) learn(ev *event.Event, p *profile.Profile, t uint32, ls *lesson) (alert bool) {
	if p.Locked && e.lockFor > 0 && t >= p.LockedAt+e.lockFor {
		p.Locked = false // the configured lock period is over
	}
	trusted := ls.action <= event.ActionReview || (ev.Type == event.TypeLogin && ls.action == event.ActionChallenge)
	p.Touch(t)
	// Only an authentication teaches the profile who the customer is: a request inside a session (a
	// replayed cookie among them) must not make its own network familiar.
	if trusted && ev.Type == event.TypeLogin {
		if ev.Device != "" {
			p.Devices.Add(profile.Hash(ev.Device), t, profile.MaxDevices)
		}
		if ls.addr {
			p.ASNs.Add(ls.netKey, t, profile.MaxASNs)
			p.Prefixes.Add(ls.prefix, t, profile.MaxPrefixes)
		}
		if ls.country != "" {
			p.Countries.Add(countryKey(ls.country), t, profile.MaxCountries)
		}
		if ls.uaKey != 0 {
			p.UAFamilies.Add(ls.uaKey, t, profile.MaxUAFamilies)
		}
		if ls.tlsKey != 0 {
			p.TLS.Add(ls.tlsKey, t, profile.MaxTLS)
		}
	}
	switch ev.Type {
	case event.TypeLogin:
		s := profile.Session{Key: profile.Hash(ev.Session), Device: hashOrZero(ev.Device), Prefix: ls.prefix,
			UA: ls.uaKey, TLS: ls.tlsKey, Net: ls.netKey, Start: t, LoginScore: uint16(ls.score),
			Signals:  ls.signals & accessSignals,
			Verified: ls.action == event.ActionChallenge || trusted && phishingResistant(ev.Method)}
		p.StartSession(s)
		if trusted {
			p.Logins++
			p.LoginHours[jstHour(ev.Time)]++
			p.Methods[profile.MethodStrength(ev.Method)]++
			p.Channels[channelIndex(ev.Channel)]++
			p.LastLogin = t
			if len(ls.country) == 2 {
				copy(p.LastCountry[:], ls.country)
			}
		}
	case event.TypeProfileChange:
		if i := profile.ChangeIndex(ev.Field); i >= 0 {
			p.Changed[i] = t
		}
		if ls.action == event.ActionChallenge && ev.Session != "" {
			// Nothing proceeds until the customer passes the step-up; what follows in the session did.
			if s := p.Session(profile.Hash(ev.Session)); s != nil {
				s.Verified = true
			}
		}
		if ls.action <= event.ActionReview {
			switch ev.Field {
			case "notifications":
				p.Notifications = ev.Value != "off"
			case "mfa":
				p.MFA = ev.Value
			}
		} else if ev.Field == "notifications" && ev.Value == "off" {
			p.Notifications = false // stopped or not, the intent is on record for later events
		}
	case event.TypeOrder:
		if ev.Side == "sell" {
			if lv := longHeldValue(p, ev.Symbol, ev.Quantity, ls.orderValue/float64(ev.Quantity), t); lv > 0 {
				if profile.SumFlows(p.Sells, t, liquidationShort) == 0 {
					p.SellBase = ls.holdings
				}
				p.Sells = profile.AddFlow(p.Sells, t, lv, liquidationLong)
			}
		}
		if trusted {
			if ev.Side == "buy" && ls.has(IlliquidSymbol) && p.IlliquidBuys < ^uint16(0) {
				p.IlliquidBuys++
			}
			p.ObserveOrderValue(ls.orderValue)
			if ev.AccountType == "margin" {
				p.MarginUsed = true
			}
		}
	case event.TypeWithdrawal:
		if trusted && ev.Destination != "" {
			p.Destinations.Add(profile.Hash(ev.Destination), t, profile.MaxDestinations)
		}
		p.Cash -= ev.Amount
	}
	if ls.action >= event.ActionHold || (ls.action >= event.ActionChallenge && ls.score >= e.alertScore) {
		if p.LastAlert == 0 || t >= p.LastAlert+day || ls.action == event.ActionBlock && t != p.LastAlert {
			p.LastAlert = t
			return true
		}
	}
	return false
}

func hashOrZero(s string) uint64 {
	if s == "" {
		return 0
	}
	return profile.Hash(s)
}

func channelIndex(c string) int {
	switch c {
	case "app":
		return 1
	case "api":
		return 2
	case "phone":
		return 3
	}
	return 0
}
