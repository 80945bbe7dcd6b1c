package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
)

// run is one generated data set, shared by the tests that only read it.
type run struct {
	events []byte
	truth  *Truth
	stats  Stats
	parsed []event.Event
}

var (
	smallOnce sync.Once
	smallRun  *run
	smallErr  error
)

func generate(t testing.TB, name string, opts Options) *run {
	t.Helper()
	sc, err := BuiltinScenario(name)
	if err != nil {
		t.Fatal(err)
	}
	var ev, tr bytes.Buffer
	st, err := Generate(context.Background(), sc, opts, &ev, &tr)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := ReadTruth(&tr)
	if err != nil {
		t.Fatalf("read truth: %v", err)
	}
	return &run{events: ev.Bytes(), truth: truth, stats: st}
}

// small returns the small scenario generated with seed 1, decoded.
func small(t *testing.T) *run {
	t.Helper()
	smallOnce.Do(func() {
		sc, err := BuiltinScenario("small")
		if err != nil {
			smallErr = err
			return
		}
		var ev, tr bytes.Buffer
		st, err := Generate(context.Background(), sc, Options{Seed: 1}, &ev, &tr)
		if err != nil {
			smallErr = err
			return
		}
		truth, err := ReadTruth(&tr)
		if err != nil {
			smallErr = err
			return
		}
		r := &run{events: ev.Bytes(), truth: truth, stats: st}
		sc2 := bufio.NewScanner(bytes.NewReader(r.events))
		sc2.Buffer(make([]byte, 1<<20), 1<<20)
		line := 0
		for sc2.Scan() {
			line++
			raw := append([]byte(nil), sc2.Bytes()...)
			e, err := event.Decode(raw)
			if err != nil {
				smallErr = &lineErr{line, err, string(raw)}
				return
			}
			r.parsed = append(r.parsed, e)
		}
		smallRun = r
	})
	if smallErr != nil {
		t.Fatal(smallErr)
	}
	return smallRun
}

type lineErr struct {
	line int
	err  error
	raw  string
}

func (e *lineErr) Error() string {
	return "line " + itoa(uint64(e.line)) + ": " + e.err.Error() + ": " + e.raw
}

func TestEventsDecodeAndOrder(t *testing.T) {
	r := small(t)
	if int64(len(r.parsed)) != r.stats.Events {
		t.Fatalf("decoded %d events, stats say %d", len(r.parsed), r.stats.Events)
	}
	ids := map[string]bool{}
	var prev time.Time
	for i, e := range r.parsed {
		if ids[e.ID] {
			t.Fatalf("event %d: duplicate id %s", i+1, e.ID)
		}
		ids[e.ID] = true
		if e.Time.Before(prev) {
			t.Fatalf("event %d (%s) at %s is before the previous event at %s", i+1, e.ID, e.Time, prev)
		}
		prev = e.Time
		if _, off := e.Time.Zone(); off != 9*3600 {
			t.Fatalf("event %d: offset %d, want +09:00", i+1, off)
		}
	}
}

func TestReferenceDataFirst(t *testing.T) {
	r := small(t)
	known := map[string]bool{}
	snap := map[string]bool{}
	first := true
	for i, e := range r.parsed {
		switch e.Type {
		case event.TypeInstrument:
			known[e.Symbol] = true
			continue
		case event.TypeSnapshot:
			snap[e.Account] = true
		}
		if first {
			first = false
			if len(known) != r.stats.Instruments {
				t.Fatalf("%d instruments before the first other event, want %d", len(known), r.stats.Instruments)
			}
		}
		if e.Symbol != "" && !known[e.Symbol] {
			t.Fatalf("event %d uses symbol %s before its instrument event", i+1, e.Symbol)
		}
		if e.Type != event.TypeSnapshot && e.Type != event.TypeQuote && e.Type != event.TypeLogin && !snap[e.Account] {
			t.Fatalf("event %d (%s) for account %s before its snapshot", i+1, e.Type, e.Account)
		}
	}
	if len(snap) != r.stats.Accounts {
		t.Fatalf("%d snapshots, want %d", len(snap), r.stats.Accounts)
	}
}

func TestQuotesInTradingHours(t *testing.T) {
	r := small(t)
	perSymbolDay := map[string]int{}
	for _, e := range r.parsed {
		if e.Type != event.TypeQuote {
			continue
		}
		h, m, _ := e.Time.Clock()
		mins := h*60 + m
		okAM := mins >= 9*60 && mins <= 11*60+30
		okPM := mins >= 12*60+30 && mins <= 15*60+30
		if !okAM && !okPM {
			t.Fatalf("quote %s at %s is outside TSE hours", e.ID, e.Time)
		}
		perSymbolDay[e.Symbol+e.Time.Format("2006-01-02")]++
	}
	// A liquid large cap trades every minute: about 300 quotes a day.
	max := 0
	for _, n := range perSymbolDay {
		if n > max {
			max = n
		}
	}
	if max < 290 || max > 301 {
		t.Fatalf("busiest symbol has %d quotes in a day, want about 300", max)
	}
}

func TestSessionsAndClients(t *testing.T) {
	r := small(t)
	sessions := map[string]string{} // session -> account
	deviceUA := map[string]map[string]bool{}
	for i, e := range r.parsed {
		switch e.Type {
		case event.TypeLogin:
			if e.Result == "success" {
				sessions[e.Session] = e.Account
			}
		case event.TypeOrder, event.TypeWithdrawal, event.TypeProfileChange:
			if e.Session == "" {
				continue // phone orders, password resets
			}
			if acct, ok := sessions[e.Session]; !ok || acct != e.Account {
				t.Fatalf("event %d (%s) uses session %s that %s never opened", i+1, e.Type, e.Session, e.Account)
			}
		}
		if e.Device != "" && e.TLS != "" {
			if deviceUA[e.Device] == nil {
				deviceUA[e.Device] = map[string]bool{}
			}
			deviceUA[e.Device][e.TLS] = true
		}
	}
	// A device speaks with one TLS stack, except a victim's device under a stolen session.
	stolen := map[string]bool{}
	for _, tk := range r.truth.Takeovers {
		if tk.Kind == KindStolenSession {
			stolen[tk.Account] = true
		}
	}
	multi := 0
	for _, tls := range deviceUA {
		if len(tls) > 1 {
			multi++
		}
	}
	if multi > len(stolen) {
		t.Fatalf("%d devices seen with several TLS fingerprints; only stolen sessions (%d) may", multi, len(stolen))
	}
}

func TestDeterministic(t *testing.T) {
	a := generate(t, "small", Options{Seed: 42, Accounts: 600, Days: 2})
	b := generate(t, "small", Options{Seed: 42, Accounts: 600, Days: 2})
	if !bytes.Equal(a.events, b.events) {
		t.Fatal("same seed gave different events")
	}
	ta, _ := json.Marshal(a.truth)
	tb, _ := json.Marshal(b.truth)
	if !bytes.Equal(ta, tb) {
		t.Fatal("same seed gave different truth")
	}
	c := generate(t, "small", Options{Seed: 43, Accounts: 600, Days: 2})
	if bytes.Equal(a.events, c.events) {
		t.Fatal("different seeds gave the same events")
	}
}

func TestTruthMatchesEvents(t *testing.T) {
	r := small(t)
	byID := map[string]*event.Event{}
	for i := range r.parsed {
		byID[r.parsed[i].ID] = &r.parsed[i]
	}
	tr := r.truth
	victims := 0
	for _, c := range tr.Campaigns {
		victims += len(c.Victims)
	}
	if victims != 6 {
		t.Fatalf("campaign victims = %d, want 6", victims)
	}
	if len(tr.Takeovers) != 6+1+1 {
		t.Fatalf("takeovers = %d, want 8 (6 campaign, 1 wave, 1 standalone)", len(tr.Takeovers))
	}
	for _, tk := range tr.Takeovers {
		if len(tk.Events) == 0 {
			t.Fatalf("takeover of %s has no events", tk.Account)
		}
		if tk.FirstOrder == "" {
			t.Fatalf("takeover of %s placed no order", tk.Account)
		}
		if tk.Style != StyleCareless && tk.Style != StyleCareful {
			t.Fatalf("takeover of %s has style %q", tk.Account, tk.Style)
		}
		logins := 0
		for _, ae := range tk.Events {
			e := byID[ae.ID]
			if e == nil {
				t.Fatalf("attacker event %s of %s is not in the events", ae.ID, tk.Account)
			}
			if e.Account != tk.Account || e.Type.String() != ae.Type {
				t.Fatalf("attacker event %s: events say %s/%s, truth %s/%s", ae.ID, e.Account, e.Type, tk.Account, ae.Type)
			}
			if ae.Type == "login" {
				logins++
			}
			if ae.Type == "order" && ae.Yen <= 0 {
				t.Fatalf("attacker order %s has no value", ae.ID)
			}
		}
		switch tk.Kind {
		case KindStolenSession:
			if logins != 0 {
				t.Fatalf("stolen session of %s has %d attacker logins, want none", tk.Account, logins)
			}
		default:
			if logins == 0 {
				t.Fatalf("%s takeover of %s has no login", tk.Kind, tk.Account)
			}
		}
		if tk.FraudReport != "" {
			if e := byID[tk.FraudReport]; e == nil || e.Type != event.TypeFraudReport || e.Account != tk.Account {
				t.Fatalf("fraud report %s of %s does not match the events", tk.FraudReport, tk.Account)
			}
		}
	}
	if len(tr.Beneficiaries) != 1 {
		t.Fatalf("beneficiaries = %v, want 1", tr.Beneficiaries)
	}
}

// TestAttackerAddresses checks the styles: careless attackers come from hosting or foreign networks and
// share addresses; careful ones from Japanese residential networks.
func TestAttackerAddresses(t *testing.T) {
	r := generate(t, "wave-2025", Options{Seed: 3, Accounts: 4000, Days: 5})
	table := newNetTable()
	lookup := func(s string) netKind {
		a := netip.MustParseAddr(s).As4()
		ip := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
		for i := range ipTable {
			if ip >= table.base[i] && ip-table.base[i] < table.size[i] {
				return ipTable[i].Kind
			}
		}
		t.Fatalf("attacker address %s is not in the table", s)
		return 0
	}
	n := map[string]int{}
	for _, tk := range r.truth.Takeovers {
		for _, a := range tk.Addresses {
			k := lookup(a)
			jp := k == kindJPFixed || k == kindJPMobile
			switch tk.Style {
			case StyleCareful:
				if !jp {
					t.Fatalf("careful attacker of %s used %s (%s)", tk.Account, a, k)
				}
			case StyleCareless:
				if jp {
					t.Fatalf("careless attacker of %s used Japanese residential %s", tk.Account, a)
				}
			}
			n[tk.Style]++
		}
	}
	if n[StyleCareful] == 0 || n[StyleCareless] == 0 {
		t.Fatalf("want both styles, got %v", n)
	}
}

func TestCampaignMarket(t *testing.T) {
	r := generate(t, "demo", Options{Seed: 5})
	if len(r.truth.Campaigns) != 1 {
		t.Fatalf("campaigns = %d, want 1", len(r.truth.Campaigns))
	}
	c := r.truth.Campaigns[0]
	if c.PrevClose < 80*0.8 || c.PrevClose > 400*1.2 {
		t.Fatalf("target %s closed at %g before the ramp, want a cheap small cap", c.Symbol, c.PrevClose)
	}
	mult := c.RampDayVolume / c.PrevDayVolume
	if mult < 0.6*c.VolumeMultiple || mult > 1.6*c.VolumeMultiple {
		t.Fatalf("ramp day volume is %.0fx the previous day, want about %.0fx", mult, c.VolumeMultiple)
	}
	limit := priceLimit(c.PrevClose) / c.PrevClose
	rise := c.High/c.Open - 1
	if want := math.Min(0.6*c.PriceRise, 0.8*limit); rise < want {
		t.Fatalf("price rose %.1f%% from the open, want at least %.1f%%", rise*100, want*100)
	}
	if c.Close >= c.High {
		t.Fatalf("no fade: close %g, high %g", c.Close, c.High)
	}
	if c.FirstHijackedBuy == "" || c.HijackedBuyShares == 0 {
		t.Fatal("no hijacked buy executed")
	}
	if c.FirstHijackedBuyTime < c.RampStart {
		t.Fatalf("first hijacked buy %s before the ramp start %s", c.FirstHijackedBuyTime, c.RampStart)
	}
	if c.BeneficiaryBuyShares == 0 || c.BeneficiarySellShares == 0 {
		t.Fatalf("beneficiaries bought %d and sold %d shares, want both", c.BeneficiaryBuyShares, c.BeneficiarySellShares)
	}
}

// TestBehaviourCounts checks the counts of the truth against the scenario's parameters.
func TestBehaviourCounts(t *testing.T) {
	sc, err := LoadScenario(filepath.Join("testdata", "surprises.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ev, trb bytes.Buffer
	if _, err := Generate(context.Background(), sc, Options{Seed: 11}, &ev, &trb); err != nil {
		t.Fatal(err)
	}
	tr, err := ReadTruth(&trb)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range tr.Surprises {
		exp := s.Expected()
		tol := 4*math.Sqrt(exp) + 3
		if s.Unit == "account" {
			tol = 0.35*exp + 5 // households come in groups
		}
		if math.Abs(float64(s.Count)-exp) > tol {
			t.Errorf("surprise %s: %d, want %.1f ± %.1f (%d %s opportunities at rate %g)", name, s.Count, exp, tol,
				s.Opportunities, s.Unit, s.Rate)
		}
	}
	for _, name := range []string{"travel_abroad", "new_device", "cleared_cookies", "vpn_login", "liquidation_withdrawal",
		"small_cap_speculation", "forgotten_password", "email_change", "shared_household", "session_ip_change", "withdrawal"} {
		if tr.Surprises[name].Count == 0 {
			t.Errorf("surprise %s never happened", name)
		}
	}
	kinds := map[string]int{}
	for _, tk := range tr.Takeovers {
		kinds[tk.Kind]++
	}
	if n := len(tr.Takeovers); n != 5+2+1 {
		t.Errorf("takeovers by kind %v, want 8 in all (5 campaign, 2 wave, 1 standalone)", kinds)
	}
	if len(tr.Campaigns) != 1 || len(tr.Campaigns[0].Victims) != 5 || len(tr.Campaigns[0].Beneficiaries) != 1 {
		t.Errorf("campaigns = %+v, want one with 5 victims and 1 beneficiary", tr.Campaigns)
	}
	if w := tr.StuffingWaves; len(w) < 1 || w[len(w)-1].Attempts != 400 || len(w[len(w)-1].Successes) != 2 {
		t.Errorf("waves = %+v, want the scenario's wave of 400 attempts and 2 successes", w)
	}
	if tr.Legitimate.Logins == 0 || tr.Legitimate.Orders == 0 {
		t.Errorf("legitimate counts are empty: %+v", tr.Legitimate)
	}
	if got := tr.Behaviours["events.snapshot"]; got != 8000 {
		t.Errorf("snapshots = %d, want 8000", got)
	}
}

func TestIPTableShape(t *testing.T) {
	tab := newNetTable()
	for k := netKind(0); k < numNetKinds; k++ {
		if len(tab.byKind[k]) == 0 {
			t.Errorf("no ranges of kind %s", k)
		}
	}
	if len(ipTable) < 24 || len(ipTable) > 120 {
		t.Errorf("%d ranges, want a few dozen", len(ipTable))
	}
	for _, r := range ipTable {
		p := netip.MustParsePrefix(r.Prefix)
		if p.Masked() != p || !p.Addr().Is4() {
			t.Errorf("range %s is not a canonical IPv4 prefix", r.Prefix)
		}
		if (r.Kind == kindJPFixed || r.Kind == kindJPMobile) && r.Country != "JP" {
			t.Errorf("Japanese range %s is in %s", r.Prefix, r.Country)
		}
	}
}

func TestContextCancel(t *testing.T) {
	sc, _ := BuiltinScenario("small")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ev bytes.Buffer
	if _, err := Generate(ctx, sc, Options{Seed: 1}, &ev, nil); err == nil {
		t.Fatal("want an error from a cancelled context")
	}
}

func TestProgress(t *testing.T) {
	sc, _ := BuiltinScenario("small")
	var last, total int64
	calls := 0
	var ev bytes.Buffer
	_, err := Generate(context.Background(), sc, Options{Seed: 1, Accounts: 300, Days: 1, Progress: func(d, tot int64) {
		if d < last {
			t.Fatalf("progress went back from %d to %d", last, d)
		}
		last, total = d, tot
		calls++
	}}, &ev, nil)
	if err != nil {
		t.Fatal(err)
	}
	if calls < 10 || last != total {
		t.Fatalf("progress called %d times, ended at %d of %d", calls, last, total)
	}
}

func TestOptionsOverride(t *testing.T) {
	r := generate(t, "wave-2025", Options{Seed: 1, Accounts: 1500, Days: 3})
	if r.stats.Accounts != 1500 || r.stats.TradingDays != 3 {
		t.Fatalf("got %d accounts over %d days", r.stats.Accounts, r.stats.TradingDays)
	}
	// Campaigns after day 3 are left out.
	if len(r.truth.Campaigns) != 0 {
		t.Fatalf("campaigns = %d, want 0 in three days", len(r.truth.Campaigns))
	}
	if !strings.HasPrefix(r.truth.Start, "2025-04-07T06:00:00") {
		t.Fatalf("start = %s", r.truth.Start)
	}
}

// TestHoldingsNeverNegative replays the snapshots and executions: no account ever sells shares it does
// not hold, and every execution belongs to an order placed before it.
func TestHoldingsNeverNegative(t *testing.T) {
	r := small(t)
	type key struct{ acct, sym string }
	held := map[key]int64{}
	orders := map[string]*event.Event{}
	filled := map[string]int64{}
	for i := range r.parsed {
		e := &r.parsed[i]
		switch e.Type {
		case event.TypeSnapshot:
			for _, h := range e.Holdings {
				held[key{e.Account, h.Symbol}] += h.Quantity
			}
		case event.TypeOrder:
			orders[e.OrderID] = e
		case event.TypeExecution:
			o := orders[e.OrderID]
			if o == nil || o.Account != e.Account || o.Symbol != e.Symbol || o.Side != e.Side {
				t.Fatalf("execution %s does not match an earlier order %s", e.ID, e.OrderID)
			}
			filled[e.OrderID] += e.Quantity
			if filled[e.OrderID] > o.Quantity {
				t.Fatalf("order %s filled %d of %d", e.OrderID, filled[e.OrderID], o.Quantity)
			}
			k := key{e.Account, e.Symbol}
			if e.Side == "buy" {
				held[k] += e.Quantity
			} else {
				held[k] -= e.Quantity
				if held[k] < 0 {
					t.Fatalf("execution %s leaves %s short %d of %s", e.ID, e.Account, -held[k], e.Symbol)
				}
			}
		}
	}
}

// TestCampaignOnFirstDay: a campaign whose night takeovers and lead days fall before the data still
// starts after the reference data and the snapshots.
func TestCampaignOnFirstDay(t *testing.T) {
	sc, err := ParseScenario([]byte(`
name: day1
start: "2025-04-07"
trading_days: 2
accounts: 800
campaigns:
  - day: 1
    victims: 4
    night: 1.0
    kinds: {phishing_relay: 1, stolen_session: 0, credential_stuffing: 0}
    ramp_start: "09:05"
    beneficiaries: 1
`), "day1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ev bytes.Buffer
	if _, err := Generate(context.Background(), sc, Options{Seed: 1}, &ev, nil); err != nil {
		t.Fatal(err)
	}
	s := bufio.NewScanner(&ev)
	s.Buffer(nil, 1<<20)
	snap := map[string]bool{}
	for n := 1; s.Scan(); n++ {
		e, err := event.Decode(s.Bytes())
		if err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		if e.Type == event.TypeSnapshot {
			snap[e.Account] = true
		} else if e.Account != "" && !snap[e.Account] && (e.Type != event.TypeLogin || e.Result == "success") {
			t.Fatalf("line %d: %s of %s before its snapshot", n, e.Type, e.Account)
		}
	}
}
