package sim

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"os"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Scenario is a simulated firm, its market and the attacks on it. It is read from YAML (see the
// embedded files under scenarios/ for every parameter with its meaning); keys that are absent take the
// defaults of DefaultScenario.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Start is the first calendar day of the data (YYYY-MM-DD, JST).
	Start string `yaml:"start"`
	// TradingDays is how many TSE trading days the data covers (weekends and holidays in between are
	// simulated too, without a market).
	TradingDays int `yaml:"trading_days"`
	// Accounts is the number of customer accounts of the firm.
	Accounts  int              `yaml:"accounts"`
	Market    MarketParams     `yaml:"market"`
	Customers CustomerParams   `yaml:"customers"`
	Surprises SurpriseParams   `yaml:"surprises"`
	Campaigns []CampaignParams `yaml:"campaigns"`
	// StuffingWaves are credential-stuffing waves not tied to a campaign.
	StuffingWaves []WaveParams `yaml:"stuffing_waves"`
	// Standalone are takeovers outside any campaign: the attacker sells and tries to withdraw.
	Standalone StandaloneParams `yaml:"standalone"`
	// Vary draws the attack, market and surprise parameters from wide ranges around the scenario's, per
	// run, campaign and victim (see doc.go); the same as Options.Vary.
	Vary bool `yaml:"vary"`
}

// MarketParams sizes the instrument universe.
type MarketParams struct {
	Prime      int    `yaml:"prime"`      // prime-market large caps
	Standard   int    `yaml:"standard"`   // standard-market small caps
	Growth     int    `yaml:"growth"`     // growth-market small caps
	Funds      int    `yaml:"funds"`      // investment trusts (one NAV a day)
	Commission string `yaml:"commission"` // "tiered" (per-order fee by value) or "zero"
}

// KindMix gives the share of each customer kind (normalised to sum 1).
type KindMix struct {
	Dormant    float64 `yaml:"dormant"`
	LongTerm   float64 `yaml:"long_term"`
	Swing      float64 `yaml:"swing"`
	DayTrader  float64 `yaml:"day_trader"`
	Elderly    float64 `yaml:"elderly"`
	Speculator float64 `yaml:"speculator"`
}

// MFAMix gives the share of each login protection (normalised).
type MFAMix struct {
	None     float64 `yaml:"none"`
	EmailOTP float64 `yaml:"email_otp"`
	SMSOTP   float64 `yaml:"sms_otp"`
	TOTP     float64 `yaml:"totp"`
	Passkey  float64 `yaml:"passkey"`
}

// CustomerParams describes the firm's customers.
type CustomerParams struct {
	Kinds            KindMix `yaml:"kinds"`
	MFA              MFAMix  `yaml:"mfa"`
	NotificationsOff float64 `yaml:"notifications_off"` // share with login and trade notices off at the start
	ForeignLanguage  float64 `yaml:"foreign_language"`  // share whose browser language is not Japanese
	Activity         float64 `yaml:"activity"`          // multiplier on every kind's logins per day
}

// SurpriseParams are the legitimate behaviours that look like a takeover. Rates "per account-month"
// are the chance that an eligible account does it in 30 days.
type SurpriseParams struct {
	TravelAbroad      float64 `yaml:"travel_abroad"`          // trips abroad per account-month
	NewDevice         float64 `yaml:"new_device"`             // new phone or PC per account-month
	ClearedCookies    float64 `yaml:"cleared_cookies"`        // share of browser logins without the device cookie
	VPNUsers          float64 `yaml:"vpn_users"`              // share of customers who use a VPN
	VPNLogins         float64 `yaml:"vpn_logins"`             // share of a VPN user's logins made over the VPN
	SharedHousehold   float64 `yaml:"shared_household"`       // share of accounts sharing a home with another account
	SharedDevice      float64 `yaml:"shared_device"`          // share of households that also share one PC
	Liquidation       float64 `yaml:"liquidation_withdrawal"` // sell everything, then withdraw to the usual bank, per account-month
	FirstMargin       float64 `yaml:"first_margin"`           // first margin trade per account-month (margin enabled, never used)
	SmallCap          float64 `yaml:"small_cap_speculation"`  // first small-cap buy per account-month (not speculators)
	ForgottenPassword float64 `yaml:"forgotten_password"`     // failed logins then a reset, per account-month
	EmailChange       float64 `yaml:"email_change"`           // per account-month
	NotificationsOff  float64 `yaml:"notifications_off"`      // customer turns notices off, per account-month
	BankChange        float64 `yaml:"bank_account_change"`    // new withdrawal bank account, per account-month
	PasskeyEnrolment  float64 `yaml:"passkey_enrolment"`      // per account-month (accounts without a passkey)
	Withdrawal        float64 `yaml:"withdrawal"`             // routine withdrawal to the usual bank, per account-month
	SessionIPChange   float64 `yaml:"session_ip_change"`      // share of phone sessions whose address changes mid-session
	SessionIPChangePC float64 `yaml:"session_ip_change_pc"`   // share of PC sessions whose address changes (laptop moves, VPN toggled)
	APITraders        float64 `yaml:"api_traders"`            // share of day traders whose program trades through the API from a cloud server
	CorporateEgress   float64 `yaml:"corporate_egress"`       // share of customers whose office PC reaches the firm through a cloud egress
	Aggregators       float64 `yaml:"aggregators"`            // share of customers with a household-finance service that logs in nightly from a Japanese cloud
	PortfolioSwitch   float64 `yaml:"portfolio_switch"`       // sell most holdings and buy others in one session, per account-month
	DomesticTravel    float64 `yaml:"domestic_travel"`        // trips in Japan (hotel Wi-Fi), per account-month
}

// Range is an interval [Min, Max] written in YAML as [min, max] or as one number.
type Range struct{ Min, Max float64 }

// UnmarshalYAML implements yaml.Unmarshaler.
func (r *Range) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var v float64
		if err := n.Decode(&v); err != nil {
			return err
		}
		*r = Range{v, v}
		return nil
	case yaml.SequenceNode:
		var v []float64
		if err := n.Decode(&v); err != nil {
			return err
		}
		if len(v) != 2 {
			return fmt.Errorf("line %d: want [min, max], got %d numbers", n.Line, len(v))
		}
		*r = Range{v[0], v[1]}
		return nil
	}
	return fmt.Errorf("line %d: want [min, max]", n.Line)
}

// MarshalYAML implements yaml.Marshaler.
func (r Range) MarshalYAML() (any, error) { return []float64{r.Min, r.Max}, nil }

// Clock is a time of day in JST written "HH:MM".
type Clock int64 // milliseconds after midnight

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *Clock) UnmarshalYAML(n *yaml.Node) error {
	t, err := time.Parse("15:04", n.Value)
	if err != nil {
		return fmt.Errorf("line %d: want a time HH:MM, got %q", n.Line, n.Value)
	}
	*c = Clock(int64(t.Hour())*msHour + int64(t.Minute())*msMinute)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (c Clock) MarshalYAML() (any, error) { return c.String(), nil }

func (c Clock) String() string {
	return fmt.Sprintf("%02d:%02d", int64(c)/msHour, int64(c)/msMinute%60)
}

// AttackMix gives the share of each way in (normalised).
type AttackMix struct {
	PhishingRelay      float64 `yaml:"phishing_relay"`
	StolenSession      float64 `yaml:"stolen_session"`
	CredentialStuffing float64 `yaml:"credential_stuffing"`
}

// CampaignParams is one pump campaign: hijacked accounts driven to buy one thin small cap while the
// criminals' own accounts sell into the rise.
type CampaignParams struct {
	ID     string `yaml:"id"`
	Symbol string `yaml:"symbol"` // target; "" = a standard/growth stock priced 80-400 yen
	// Day is the trading day (1-based) of the ramp.
	Day       int   `yaml:"day"`
	RampStart Clock `yaml:"ramp_start"`
	// Victims is the number of this firm's accounts taken over for the campaign.
	Victims int       `yaml:"victims"`
	Kinds   AttackMix `yaml:"kinds"`
	// Careful is the share of victims taken by careful attackers (Japanese residential addresses, the
	// victim's own browser family) rather than careless ones (hosting abroad, one address for many).
	Careful float64 `yaml:"careful"`
	// Night is the share of takeovers that start the evening before (sells queued for the open).
	Night float64 `yaml:"night"`
	// Beneficiaries is the number of the criminals' own accounts at this firm.
	Beneficiaries       int     `yaml:"beneficiaries"`
	BeneficiaryLeadDays Range   `yaml:"beneficiary_lead_days"` // they start buying this many trading days before
	VolumeMultiple      Range   `yaml:"volume_multiple"`       // ramp day's volume over the previous day's
	PriceRise           Range   `yaml:"price_rise"`            // rise from the open to the peak (0.3 = +30%)
	PeakMinutes         Range   `yaml:"peak_minutes"`          // trading minutes from the ramp start to the peak
	BuySpreadMinutes    Range   `yaml:"buy_spread_minutes"`    // hijacked buys start this long after the ramp start
	FraudReport         float64 `yaml:"fraud_report"`          // share of victims who report
	FraudReportHours    Range   `yaml:"fraud_report_hours"`    // report delay after the attack
	NotificationsOff    float64 `yaml:"notifications_off"`     // share of takeovers that turn notices off
	EmailChange         float64 `yaml:"email_change"`          // share that change the registered email
	WithdrawalAttempt   float64 `yaml:"withdrawal_attempt"`    // share that try to withdraw to a new bank account
}

// WaveParams is a credential-stuffing wave.
type WaveParams struct {
	ID           string  `yaml:"id"`
	Day          int     `yaml:"day"` // trading day (1-based); the wave runs on that calendar day
	Start        Clock   `yaml:"start"`
	Hours        float64 `yaml:"hours"`
	Attempts     int     `yaml:"attempts"`      // failed and successful logins in the wave
	Sources      int     `yaml:"sources"`       // distinct source addresses
	Style        string  `yaml:"style"`         // careless: hosting abroad, one tool; careful: Japanese residential proxies
	UnknownShare float64 `yaml:"unknown_share"` // share of attempts on ids that are not accounts
	Successes    int     `yaml:"successes"`     // accounts taken over (each sells and tries to withdraw)
}

// StandaloneParams are takeovers outside campaigns, spread over the trading days after the first: the
// attacker sells everything and most try to withdraw. Credential-stuffing takeovers come from
// stuffing_waves, so a credential_stuffing share here is taken as phishing_relay.
type StandaloneParams struct {
	Count   int       `yaml:"count"`
	Kinds   AttackMix `yaml:"kinds"`
	Careful float64   `yaml:"careful"`
}

// DefaultScenario returns the parameters every scenario starts from.
func DefaultScenario() *Scenario {
	return &Scenario{
		Name: "default", Start: "2025-04-07", TradingDays: 5, Accounts: 10000,
		Market: MarketParams{Prime: 160, Standard: 70, Growth: 50, Funds: 30, Commission: "tiered"},
		Customers: CustomerParams{
			Kinds:            KindMix{Dormant: 0.25, LongTerm: 0.30, Swing: 0.17, DayTrader: 0.04, Elderly: 0.14, Speculator: 0.10},
			MFA:              MFAMix{None: 0.40, EmailOTP: 0.35, SMSOTP: 0.12, TOTP: 0.05, Passkey: 0.08},
			NotificationsOff: 0.10, ForeignLanguage: 0.05, Activity: 1,
		},
		Surprises: SurpriseParams{
			TravelAbroad: 0.008, NewDevice: 0.03, ClearedCookies: 0.03, VPNUsers: 0.02, VPNLogins: 0.6,
			SharedHousehold: 0.06, SharedDevice: 0.3, Liquidation: 0.003, FirstMargin: 0.01, SmallCap: 0.02,
			ForgottenPassword: 0.012, EmailChange: 0.005, NotificationsOff: 0.002, BankChange: 0.003,
			PasskeyEnrolment: 0.004, Withdrawal: 0.03, SessionIPChange: 0.08, SessionIPChangePC: 0.015,
			APITraders: 0.1,
		},
		Standalone: StandaloneParams{Kinds: AttackMix{PhishingRelay: 0.6, StolenSession: 0.3, CredentialStuffing: 0.1}},
	}
}

func defaultCampaign() CampaignParams {
	return CampaignParams{
		Day: 3, RampStart: Clock(9*msHour + 30*msMinute), Victims: 10,
		Kinds:   AttackMix{PhishingRelay: 0.6, StolenSession: 0.25, CredentialStuffing: 0.15},
		Careful: 0.3, Night: 0.4, Beneficiaries: 2,
		BeneficiaryLeadDays: Range{2, 6}, VolumeMultiple: Range{100, 300}, PriceRise: Range{0.20, 0.40},
		PeakMinutes: Range{60, 180}, BuySpreadMinutes: Range{0, 75},
		FraudReport: 0.6, FraudReportHours: Range{3, 96},
		NotificationsOff: 0.6, EmailChange: 0.4, WithdrawalAttempt: 0.3,
	}
}

// UnmarshalYAML fills the campaign's defaults before reading it.
func (c *CampaignParams) UnmarshalYAML(n *yaml.Node) error {
	*c = defaultCampaign()
	type plain CampaignParams
	return n.Decode((*plain)(c))
}

func defaultWave() WaveParams {
	return WaveParams{Day: 2, Start: Clock(1 * msHour), Hours: 3, Attempts: 3000, Sources: 6, Style: "careless", UnknownShare: 0.4, Successes: 3}
}

// UnmarshalYAML fills the wave's defaults before reading it.
func (w *WaveParams) UnmarshalYAML(n *yaml.Node) error {
	*w = defaultWave()
	type plain WaveParams
	return n.Decode((*plain)(w))
}

//go:embed scenarios/*.yaml
var builtinFS embed.FS

// BuiltinScenarios lists the names of the embedded scenarios.
func BuiltinScenarios() []string {
	ents, _ := builtinFS.ReadDir("scenarios")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// BuiltinScenario returns an embedded scenario by name.
func BuiltinScenario(name string) (*Scenario, error) {
	b, err := builtinFS.ReadFile(path.Join("scenarios", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("no built-in scenario %q (have %s)", name, strings.Join(BuiltinScenarios(), ", "))
	}
	return ParseScenario(b, name+".yaml")
}

// LoadScenario reads a scenario file.
func LoadScenario(file string) (*Scenario, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return ParseScenario(b, file)
}

// ParseScenario parses and validates a scenario; name is used in error messages. Unknown keys and bad
// values are errors that name the line.
func ParseScenario(b []byte, name string) (*Scenario, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	sc := DefaultScenario()
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty scenario", name)
	}
	lines := map[string]int{}
	if err := checkKeys(doc.Content[0], reflect.TypeOf(*sc), "", lines); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(sc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := sc.validate(lines); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return sc, nil
}

// checkKeys rejects keys that no field of t carries, naming the line, and records the line of every
// key path for validation messages.
func checkKeys(n *yaml.Node, t reflect.Type, at string, lines map[string]int) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeOf(Range{}) || t == reflect.TypeOf(Clock(0)) {
			return nil
		}
		if n.Kind != yaml.MappingNode {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return nil
			}
			return fmt.Errorf("line %d: %s: want a mapping", n.Line, label(at))
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag != "" && tag != "-" {
				fields[tag] = f.Type
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				return fmt.Errorf("line %d: unknown key %q in %s", k.Line, k.Value, label(at))
			}
			p := k.Value
			if at != "" {
				p = at + "." + k.Value
			}
			lines[p] = k.Line
			if err := checkKeys(v, ft, p, lines); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return nil
			}
			return fmt.Errorf("line %d: %s: want a list", n.Line, label(at))
		}
		for i, c := range n.Content {
			p := at + "[" + strconv.Itoa(i) + "]"
			lines[p] = c.Line
			if err := checkKeys(c, t.Elem(), p, lines); err != nil {
				return err
			}
		}
	}
	return nil
}

func label(at string) string {
	if at == "" {
		return "the scenario"
	}
	return at
}

type validator struct {
	lines map[string]int
	errs  []string
}

func (v *validator) fail(p, format string, args ...any) {
	msg := p + ": " + fmt.Sprintf(format, args...)
	if l, ok := v.lines[p]; ok {
		msg = "line " + strconv.Itoa(l) + ": " + msg
	}
	v.errs = append(v.errs, msg)
}

func (v *validator) share(p string, x float64) {
	if x < 0 || x > 1 || x != x {
		v.fail(p, "want a share between 0 and 1, got %g", x)
	}
}

func (v *validator) rate(p string, x float64) {
	if x < 0 || x > 30 || x != x {
		v.fail(p, "want a rate between 0 and 30, got %g", x)
	}
}

func (v *validator) rng(p string, r Range, lo, hi float64) {
	if r.Min > r.Max || r.Min < lo || r.Max > hi {
		v.fail(p, "want [min, max] within [%g, %g], got [%g, %g]", lo, hi, r.Min, r.Max)
	}
}

func (v *validator) mix(p string, xs ...float64) {
	sum := 0.0
	for _, x := range xs {
		if x < 0 || x != x {
			v.fail(p, "shares must not be negative")
			return
		}
		sum += x
	}
	if sum <= 0 {
		v.fail(p, "shares must not all be zero")
	}
}

func (sc *Scenario) validate(lines map[string]int) error {
	v := &validator{lines: lines}
	if _, err := time.Parse("2006-01-02", sc.Start); err != nil {
		v.fail("start", "want a date YYYY-MM-DD, got %q", sc.Start)
	}
	if sc.TradingDays < 1 || sc.TradingDays > 400 {
		v.fail("trading_days", "want 1..400, got %d", sc.TradingDays)
	}
	if sc.Accounts < 50 || sc.Accounts > 20_000_000 {
		v.fail("accounts", "want 50..20000000, got %d", sc.Accounts)
	}
	m := sc.Market
	if m.Prime < 5 || m.Standard+m.Growth < 10 || m.Funds < 1 || m.Prime+m.Standard+m.Growth+m.Funds > 3000 {
		v.fail("market", "want at least 5 prime, 10 standard+growth and 1 fund, at most 3000 instruments")
	}
	if m.Commission != "tiered" && m.Commission != "zero" {
		v.fail("market.commission", "want tiered or zero, got %q", m.Commission)
	}
	k := sc.Customers.Kinds
	v.mix("customers.kinds", k.Dormant, k.LongTerm, k.Swing, k.DayTrader, k.Elderly, k.Speculator)
	f := sc.Customers.MFA
	v.mix("customers.mfa", f.None, f.EmailOTP, f.SMSOTP, f.TOTP, f.Passkey)
	v.share("customers.notifications_off", sc.Customers.NotificationsOff)
	v.share("customers.foreign_language", sc.Customers.ForeignLanguage)
	if a := sc.Customers.Activity; a <= 0 || a > 10 {
		v.fail("customers.activity", "want a multiplier in (0, 10], got %g", a)
	}
	s := sc.Surprises
	for p, x := range map[string]float64{
		"travel_abroad": s.TravelAbroad, "new_device": s.NewDevice, "liquidation_withdrawal": s.Liquidation,
		"first_margin": s.FirstMargin, "small_cap_speculation": s.SmallCap, "forgotten_password": s.ForgottenPassword,
		"email_change": s.EmailChange, "notifications_off": s.NotificationsOff, "bank_account_change": s.BankChange,
		"passkey_enrolment": s.PasskeyEnrolment, "withdrawal": s.Withdrawal, "portfolio_switch": s.PortfolioSwitch,
		"domestic_travel": s.DomesticTravel,
	} {
		v.rate("surprises."+p, x)
	}
	for p, x := range map[string]float64{
		"cleared_cookies": s.ClearedCookies, "vpn_users": s.VPNUsers, "vpn_logins": s.VPNLogins,
		"shared_household": s.SharedHousehold, "shared_device": s.SharedDevice, "session_ip_change": s.SessionIPChange,
		"session_ip_change_pc": s.SessionIPChangePC, "api_traders": s.APITraders, "corporate_egress": s.CorporateEgress,
		"aggregators": s.Aggregators,
	} {
		v.share("surprises."+p, x)
	}
	ids := map[string]bool{}
	for i := range sc.Campaigns {
		c := &sc.Campaigns[i]
		p := "campaigns[" + strconv.Itoa(i) + "]"
		if c.ID == "" {
			c.ID = "cmp-" + strconv.Itoa(i+1)
		}
		if ids[c.ID] {
			v.fail(p+".id", "duplicate id %q", c.ID)
		}
		ids[c.ID] = true
		if c.Day < 1 {
			v.fail(p+".day", "want a trading day ≥ 1, got %d", c.Day)
		}
		if c.RampStart < Clock(amOpen) || c.RampStart >= Clock(pmClose-60*msMinute) ||
			(c.RampStart >= Clock(amClose) && c.RampStart < Clock(pmOpen)) {
			v.fail(p+".ramp_start", "want a time in trading hours at least an hour before the close, got %s", c.RampStart)
		}
		if c.Victims < 1 || c.Victims > 100000 {
			v.fail(p+".victims", "want 1..100000, got %d", c.Victims)
		}
		v.mix(p+".kinds", c.Kinds.PhishingRelay, c.Kinds.StolenSession, c.Kinds.CredentialStuffing)
		for q, x := range map[string]float64{"careful": c.Careful, "night": c.Night, "fraud_report": c.FraudReport,
			"notifications_off": c.NotificationsOff, "email_change": c.EmailChange, "withdrawal_attempt": c.WithdrawalAttempt} {
			v.share(p+"."+q, x)
		}
		if c.Beneficiaries < 0 || c.Beneficiaries > 1000 {
			v.fail(p+".beneficiaries", "want 0..1000, got %d", c.Beneficiaries)
		}
		v.rng(p+".beneficiary_lead_days", c.BeneficiaryLeadDays, 1, 30)
		v.rng(p+".volume_multiple", c.VolumeMultiple, 1, 2000)
		v.rng(p+".price_rise", c.PriceRise, 0, 3)
		v.rng(p+".peak_minutes", c.PeakMinutes, 5, 290)
		v.rng(p+".buy_spread_minutes", c.BuySpreadMinutes, 0, 240)
		v.rng(p+".fraud_report_hours", c.FraudReportHours, 0, 24*60)
	}
	for i := range sc.StuffingWaves {
		w := &sc.StuffingWaves[i]
		p := "stuffing_waves[" + strconv.Itoa(i) + "]"
		if w.ID == "" {
			w.ID = "cs-" + strconv.Itoa(i+1)
		}
		if ids[w.ID] {
			v.fail(p+".id", "duplicate id %q", w.ID)
		}
		ids[w.ID] = true
		if w.Day < 1 {
			v.fail(p+".day", "want a trading day ≥ 1, got %d", w.Day)
		}
		if w.Hours <= 0 || w.Hours > 24 {
			v.fail(p+".hours", "want (0, 24], got %g", w.Hours)
		}
		if w.Attempts < 1 || w.Attempts > 10_000_000 {
			v.fail(p+".attempts", "want 1..10000000, got %d", w.Attempts)
		}
		if w.Sources < 1 || w.Sources > w.Attempts {
			v.fail(p+".sources", "want 1..attempts, got %d", w.Sources)
		}
		if w.Style != "careless" && w.Style != "careful" {
			v.fail(p+".style", "want careless or careful, got %q", w.Style)
		}
		v.share(p+".unknown_share", w.UnknownShare)
		if w.Successes < 0 || w.Successes > w.Attempts {
			v.fail(p+".successes", "want 0..attempts, got %d", w.Successes)
		}
	}
	if sc.Standalone.Count < 0 {
		v.fail("standalone.count", "want ≥ 0, got %d", sc.Standalone.Count)
	}
	if sc.Standalone.Count > 0 {
		k := sc.Standalone.Kinds
		v.mix("standalone.kinds", k.PhishingRelay, k.StolenSession, k.CredentialStuffing)
	}
	v.share("standalone.careful", sc.Standalone.Careful)
	if len(v.errs) > 0 {
		sort.Strings(v.errs)
		return errors.New(strings.Join(v.errs, "; "))
	}
	return nil
}

// startDay returns the day number of the scenario's first day.
func (sc *Scenario) startDay() int64 {
	t, _ := time.Parse("2006-01-02", sc.Start)
	return dayOf(t)
}
