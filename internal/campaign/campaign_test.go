package campaign

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/market"
)

var jst = market.JST()

// at returns a time on 2025-04-11 (a Friday) in JST.
func at(hh, mm, ss int) time.Time { return time.Date(2025, 4, 11, hh, mm, ss, 0, jst) }

// thinIns is a thin symbol (¥6M a day) with today's volume as given at price 210 on a 200 close.
func thinIns(volume int64, now time.Time) *market.Instrument {
	return &market.Instrument{Symbol: "8012", ADV: 30000, PrevClose: 200, Price: 210, Day: market.DayNumber(now),
		DayVolume: volume, PrevDayVolume: 28000}
}

func hijackedBuy(id, account string, now time.Time, ins *market.Instrument) *Order {
	return &Order{ID: id, Account: account, Symbol: "8012", Side: "buy", Time: now, Qty: 5000, Value: 5000 * 210,
		Ins: ins, Takeover: true, Signs: "NEW_DEVICE+NEW_ASN", Liquidated: true, FirstTime: true, Score: 700, Stopped: true,
		Addr: netip.MustParseAddr("198.51.100.7"), Device: "dev-attacker", ForeignAddr: true, ForeignDevice: true}
}

func kinds(as []event.Alert) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Kind)
	}
	return out
}

// rampIns is the thin symbol at t with the market beyond the firm trading x times what an average day
// trades by then.
func rampIns(x float64, t time.Time) *market.Instrument {
	exp := 30000 * max(elapsedMinutes(unix(t)), 30) / tradingMinutes
	return thinIns(int64(x*exp), t)
}

// TestVictimsSpreadOverHoursJoinAModestRamp: buys with takeover signs only (no liquidation before)
// hours apart, into a symbol ramping 7x: one is not enough, the second joins the first's evidence,
// decayed but not forgotten.
func TestVictimsSpreadOverHoursJoinAModestRamp(t *testing.T) {
	l := New(Config{})
	weak := func(id, acct string, now time.Time) *Order {
		o := hijackedBuy(id, acct, now, rampIns(7, now))
		o.Liquidated = false
		return o
	}
	if got := l.Order(weak("e1", "A1", at(9, 40, 0))); len(got) != 0 {
		t.Fatalf("one buy with takeover signs only in a 7x ramp: %v, want nothing", kinds(got))
	}
	got := l.Order(weak("e2", "A2", at(13, 10, 0)))
	if len(got) != 1 || got[0].Kind != event.AlertCampaign {
		t.Fatalf("alerts = %v, want one campaign alert", kinds(got))
	}
	a := got[0]
	if a.ID != "cmp-e2" || !slices.Equal(a.Accounts, []string{"A1", "A2"}) {
		t.Errorf("alert = %+v", a)
	}
	if d := a.Reasons[0].Detail; a.Reasons[0].Code != "HERDING_ILLIQUID_BUY" || !strings.Contains(d, "2 accounts") ||
		!strings.Contains(d, "since 04-11 09:40 JST") || !strings.Contains(d, "evidence") {
		t.Errorf("reasons = %+v", a.Reasons)
	}
	// The buy that revealed it carried only takeover signs: the symbol is watched, no address is.
	w := l.Watchlist()
	if e, ok := w.Symbol("8012", unix(at(14, 0, 0)), SeenAll); !ok || e.Ref != "cmp-e2" {
		t.Errorf("symbol watch = %+v, %v", e, ok)
	}
	// A third buyer joins the campaign; there is one alert a day.
	if got := l.Order(weak("e3", "A3", at(14, 0, 0))); len(got) != 0 {
		t.Errorf("second alert the same day: %v", kinds(got))
	}
	if c, ok := l.Campaign("8012", at(14, 30, 0)); !ok || !slices.Equal(c.Victims, []string{"A1", "A2", "A3"}) {
		t.Errorf("campaign = %+v, %v", c, ok)
	}
}

// TestEvidenceWeighsVictimsAndRamp: how many victims of each kind a ramp of each size needs.
func TestEvidenceWeighsVictimsAndRamp(t *testing.T) {
	for _, c := range []struct {
		name      string
		ramp      float64
		takeover  bool // takeover signs
		liquidate bool // right after selling the holdings
		victims   int
		wantAt    int // the victim whose buy raises the alert (0: none)
	}{
		{"whole pattern, ramp starting", 7, true, true, 1, 1},
		{"whole pattern, no ramp", 1, true, true, 5, 0},
		{"whole pattern, market moving 4x", 4, true, true, 5, 0},
		{"takeover signs only, ramp starting", 7, true, false, 3, 2},
		{"takeover signs only, strong ramp", 20, true, false, 1, 1},
		{"liquidation only, ramp starting", 7, false, true, 5, 4},
		{"liquidation only, strong ramp", 40, false, true, 3, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := New(Config{})
			got := 0
			for i := range c.victims {
				now := at(10, 5*i, 0)
				o := hijackedBuy(fmt.Sprintf("e%d", i+1), fmt.Sprintf("A%d", i+1), now, rampIns(c.ramp, now))
				o.Takeover, o.Liquidated = c.takeover, c.liquidate
				o.Qty = 1000
				if as := l.Order(o); len(as) > 0 && got == 0 {
					got = i + 1
				}
			}
			if got != c.wantAt {
				t.Errorf("alert at victim %d, want %d", got, c.wantAt)
			}
		})
	}
}

// TestBuyQueuedTheEveningBeforeJoinsTheOpen: a hijacked buy queued on Thursday evening counts then;
// when it executes into a ramp on Friday morning, the campaign is found at its execution.
func TestBuyQueuedTheEveningBeforeJoinsTheOpen(t *testing.T) {
	l := New(Config{})
	eve := time.Date(2025, 4, 10, 21, 30, 0, 0, jst)
	yesterday := &market.Instrument{Symbol: "8012", ADV: 30000, PrevClose: 200, Price: 200, Day: market.DayNumber(eve), DayVolume: 25000}
	o := hijackedBuy("e1", "A1", eve, yesterday)
	o.Market = true
	if got := l.Order(o); len(got) != 0 {
		t.Fatalf("evening order raised %v with no market", kinds(got))
	}
	// The opening auction alone is not a ramp.
	open := at(9, 0, 5)
	ins := thinIns(20000, open)
	ins.AuctionVolume = 20000
	if got := l.Execution(ins, "x1", 5000, open); len(got) != 0 {
		t.Fatalf("the opening auction raised %v", kinds(got))
	}
	// Half an hour in, the market beyond the firm trades 8x what an average day does by then.
	now := at(9, 31, 0)
	ins = rampIns(8, now)
	ins.DayVolume += 20000 + 5000
	ins.AuctionVolume = 20000
	got := l.Execution(ins, "x2", 100, now)
	if len(got) != 1 || got[0].Kind != event.AlertCampaign || got[0].ID != "cmp-x2" || !slices.Equal(got[0].Accounts, []string{"A1"}) {
		t.Fatalf("alerts = %+v", got)
	}
	// The evening's address is watched: it was the whole pattern from a foreign address.
	if _, ok := l.Watchlist().Infrastructure(netip.MustParseAddr("198.51.100.7"), "", "", unix(now), SeenAll); !ok {
		t.Error("the queued buy's address is not watched")
	}
	// A buy queued two evenings before is forgotten by the time the market has traded a session.
	l2 := New(Config{})
	l2.Order(hijackedBuy("e9", "A9", eve.AddDate(0, 0, -1), yesterday))
	if got := l2.Execution(rampIns(8, now), "x3", 100, now); len(got) != 0 {
		t.Errorf("a buy a whole session old raised %v", kinds(got))
	}
}

// TestSymbolPumpedAgainKeepsItsHistory: the day after a campaign, the same symbol ramps again from its
// pumped close; measured against its calm close it is still a ramp, and the campaign keeps its victims.
func TestSymbolPumpedAgainKeepsItsHistory(t *testing.T) {
	l := New(Config{})
	now := at(10, 0, 0)
	if got := l.Order(hijackedBuy("e1", "A1", now, rampIns(20, now))); len(got) != 1 {
		t.Fatalf("day 1: %v", kinds(got))
	}
	next := time.Date(2025, 4, 14, 10, 0, 0, 0, jst) // Monday
	ins := rampIns(8, next)
	ins.PrevClose, ins.Price, ins.DailyMove = 260, 262, 0.02 // closed +30% on Friday; calm moves were 2%
	o := hijackedBuy("e2", "A2", next, ins)
	o.Liquidated = false
	got := l.Order(o)
	if len(got) != 1 || got[0].Kind != event.AlertCampaign {
		t.Fatalf("day 2: %v", kinds(got))
	}
	if d := got[0].Reasons[1].Detail; got[0].Reasons[1].Code != "MARKET_RAMP" || !strings.Contains(d, "+31.0% on the previous close") {
		t.Errorf("ramp = %+v", got[0].Reasons[1])
	}
	if c, ok := l.Campaign("8012", next.Add(time.Hour)); !ok || !slices.Equal(c.Victims, []string{"A1", "A2"}) {
		t.Errorf("campaign = %+v, %v", c, ok)
	}
}

func TestHerdingWithoutAMarketMoveIsNotACampaign(t *testing.T) {
	l := New(Config{})
	ins := thinIns(5000, at(10, 0, 0)) // what an average day trades by mid-morning
	for i, acct := range []string{"A1", "A2", "A3", "A4", "A5"} {
		if got := l.Order(hijackedBuy("e"+acct, acct, at(10, 5*i, 0), ins)); len(got) != 0 {
			t.Fatalf("alert without a market move: %+v", got)
		}
	}
}

func TestOneHijackedBuyIntoARampIsACampaign(t *testing.T) {
	l := New(Config{})
	now := at(9, 50, 0)
	// 50 minutes in, an average day has traded 5,000 shares; the market traded 150,000.
	ins := thinIns(150000, now)
	got := l.Order(hijackedBuy("e1", "A1", now, ins))
	if len(got) != 1 || got[0].Kind != event.AlertCampaign {
		t.Fatalf("alerts = %v", kinds(got))
	}
	if !slices.ContainsFunc(got[0].Reasons, func(r event.Reason) bool { return r.Code == "MARKET_RAMP" }) {
		t.Errorf("no MARKET_RAMP reason: %+v", got[0].Reasons)
	}
}

func TestOwnCustomersVolumeIsNotARamp(t *testing.T) {
	l := New(Config{})
	now := at(9, 50, 0)
	ins := thinIns(150000, now)
	// Our own customers executed 148,000 of those shares: the market beyond the firm is quiet.
	l.Execution(ins, "x1", 148000, at(9, 1, 0))
	if got := l.Order(hijackedBuy("e1", "A1", now, ins)); len(got) != 0 {
		t.Fatalf("alerts = %+v, want none", got)
	}
	if r := l.Ramp(ins, unix(now)); r.Significant(5) {
		t.Errorf("ramp = %+v, want not significant", r)
	}
}

func TestLegitimateBuysAndLiquidSymbolsRaiseNothing(t *testing.T) {
	l := New(Config{})
	now := at(10, 0, 0)
	ins := thinIns(150000, now)
	for i := range 5 {
		o := hijackedBuy("e"+string(rune('a'+i)), "B"+string(rune('a'+i)), now.Add(time.Duration(i)*time.Minute), ins)
		o.Takeover, o.Liquidated = false, false // the customers' own first buys
		if got := l.Order(o); len(got) != 0 {
			t.Fatalf("legitimate buys raised %+v", got)
		}
	}
	liquid := &market.Instrument{Symbol: "7203", ADV: 20e6, PrevClose: 3000, Price: 3000, Day: market.DayNumber(now), DayVolume: 80e6}
	for i := range 5 {
		o := hijackedBuy("f"+string(rune('a'+i)), "C"+string(rune('a'+i)), now, liquid)
		o.Symbol = "7203"
		if got := l.Order(o); len(got) != 0 {
			t.Fatalf("buys of a liquid symbol raised %+v", got)
		}
	}
}

func TestBeneficiarySellsIntoTheCampaign(t *testing.T) {
	l := New(Config{})
	now := at(9, 50, 0)
	ins := thinIns(150000, now)
	bought := unix(now.AddDate(0, 0, -4))
	// A sell just before the campaign is found: kept, then named when it is.
	// It bought on two days this week and asks above the market.
	early := &Order{ID: "s1", Account: "BEN1", Symbol: "8012", Side: "sell", Time: at(9, 45, 0), Qty: 8000, Value: 8000 * 212, Ins: ins,
		PositionSince: bought, PositionLastBuy: bought + 86400, PositionBuyDays: 2, PositionQty: 20000}
	// A momentum trader who bought once, yesterday, and sells a large position into the spike is not named.
	trader := &Order{ID: "s0", Account: "TRADER", Symbol: "8012", Side: "sell", Time: at(9, 46, 0), Qty: 9000, Ins: ins,
		PositionSince: bought + 3*86400, PositionLastBuy: bought + 3*86400, PositionBuyDays: 1, PositionQty: 9000,
		AccountOpened: unix(now.AddDate(-3, 0, 0))}
	if got := l.Order(trader); len(got) != 0 {
		t.Fatalf("sell before any campaign raised %+v", got)
	}
	if got := l.Order(early); len(got) != 0 {
		t.Fatalf("sell before any campaign raised %+v", got)
	}
	got := l.Order(hijackedBuy("e1", "A1", now, ins))
	if !slices.Equal(kinds(got), []string{event.AlertCampaign, event.AlertBeneficiary}) {
		t.Fatalf("alerts = %v", kinds(got))
	}
	if b := got[1]; !slices.Equal(b.Accounts, []string{"BEN1"}) || b.Time != now {
		t.Errorf("beneficiary alert = %+v", b)
	}
	// A long-time holder of an old account selling into the spike is not a beneficiary.
	holder := &Order{ID: "s2", Account: "OLD", Symbol: "8012", Side: "sell", Time: at(10, 10, 0), Qty: 500, Ins: ins,
		PositionQty: 500, PositionBuyDays: 1, AccountOpened: unix(now.AddDate(-5, 0, 0))}
	if got := l.Order(holder); len(got) != 0 {
		t.Errorf("long-time holder named: %+v", got)
	}
	// A recently opened account with a large stake from before the data, selling while victims buy, is.
	fresh := &Order{ID: "s3", Account: "BEN2", Symbol: "8012", Side: "sell", Time: at(10, 0, 0), Qty: 7800, Ins: ins,
		PositionQty: 15600, PositionBuyDays: 1, AccountOpened: unix(now.AddDate(0, 0, -40))}
	got = l.Order(fresh)
	if len(got) != 1 || got[0].Kind != event.AlertBeneficiary || got[0].Accounts[0] != "BEN2" {
		t.Fatalf("alerts = %+v", got)
	}
	// Each beneficiary is named once per campaign.
	again := *fresh
	again.ID, again.Time = "s4", at(10, 20, 0)
	if got := l.Order(&again); len(got) != 0 {
		t.Errorf("named twice: %+v", got)
	}
	c, _ := l.Campaign("8012", at(11, 0, 0))
	if !slices.Equal(c.Beneficiaries, []string{"BEN1", "BEN2"}) {
		t.Errorf("beneficiaries = %v", c.Beneficiaries)
	}
}

func TestSharedInfrastructureClusters(t *testing.T) {
	l := New(Config{})
	dev := "dev-shared"
	var got []event.Alert
	for i, acct := range []string{"V1", "V2"} {
		got = append(got, l.Access(&Access{ID: "a" + acct, Account: acct, Time: at(10, i, 0), Device: dev, ForeignDevice: true})...)
	}
	if len(got) != 0 {
		t.Fatalf("two accounts (a household) raised %+v", got)
	}
	// A third account on the same device, and later a fourth through a shared payee of the third.
	got = l.Access(&Access{ID: "aV3", Account: "V3", Time: at(10, 5, 0), Device: dev, ForeignDevice: true, Destination: "bk-mule"})
	if len(got) != 1 || got[0].Kind != event.AlertSharedInfrastructure || !slices.Equal(got[0].Accounts, []string{"V1", "V2", "V3"}) {
		t.Fatalf("alerts = %+v", got)
	}
	if !strings.Contains(got[0].Reasons[0].Detail, "device dev-shared") {
		t.Errorf("detail = %q", got[0].Reasons[0].Detail)
	}
	got = l.Access(&Access{ID: "aV4", Account: "V4", Time: at(10, 6, 0), Destination: "bk-mule"})
	if len(got) != 0 {
		t.Errorf("re-alerted at 4 accounts (next alert at 6): %+v", got)
	}
	// Addresses link only three or more accounts (carrier NAT).
	ip := netip.MustParseAddr("203.0.113.9")
	l.Access(&Access{ID: "n1", Account: "N1", Time: at(11, 0, 0), Addr: ip, ForeignAddr: true})
	l.Access(&Access{ID: "n2", Account: "N2", Time: at(11, 0, 1), Addr: ip, ForeignAddr: true})
	if g := &l.graph; g.find(g.ids["N1"]) == g.find(g.ids["N2"]) {
		t.Error("two accounts behind one address were linked")
	}
}

func TestFraudReportWatchesTheTrailAndNamesSharers(t *testing.T) {
	l := New(Config{})
	ins := thinIns(5000, at(10, 0, 0))
	ip := netip.MustParseAddr("45.76.1.2")
	l.Access(&Access{ID: "x1", Account: "VIC", Time: at(10, 0, 0), Addr: ip, Anonymous: true, ForeignAddr: true, ForeignDevice: true, Device: "dev-x", Symbol: "8012"})
	l.Access(&Access{ID: "x2", Account: "VIC", Time: at(10, 1, 0), Destination: "bk-mule"})
	l.Access(&Access{ID: "y1", Account: "OTHER", Time: at(11, 0, 0), Device: "dev-x", ForeignDevice: true})
	_ = ins
	report := at(18, 0, 0)
	got := l.FraudReport("fr1", "VIC", report)
	if len(got) != 1 || got[0].Kind != event.AlertSharedInfrastructure || !slices.Equal(got[0].Accounts, []string{"VIC", "OTHER"}) {
		t.Fatalf("alerts = %+v", got)
	}
	w := l.Watchlist()
	now := unix(report) + 60
	for _, c := range []struct{ kind, value string }{
		{KindPrefix, "45.76.1.0/24"}, {KindDevice, "dev-x"}, {KindDestination, "bk-mule"}, {KindSymbol, "8012"}, {KindAccount, "OTHER"},
	} {
		e, ok := w.Get(c.kind, c.value)
		if !ok || e.Source != SourceFraudReport || e.Ref != "fr1" {
			t.Errorf("%s %s: %+v, %v", c.kind, c.value, e, ok)
		}
	}
	if _, ok := w.Infrastructure(netip.MustParseAddr("45.76.1.200"), "", "", now, SeenAll); !ok {
		t.Error("an address in the watched block does not match")
	}
	if _, ok := w.Account("OTHER", now, SeenAll); !ok {
		t.Error("the sharing account is not watched")
	}
	// Entries expire after the watch period.
	if _, ok := w.Account("OTHER", now+l.Config().WatchTTL, SeenAll); ok {
		t.Error("entry did not expire")
	}
}

func TestWatchlistAnalystOperations(t *testing.T) {
	w := newWatchlist()
	t0 := at(9, 0, 0)
	if _, err := w.Put(Entry{Kind: "colour", Value: "x"}); !errors.Is(err, ErrBadEntry) {
		t.Errorf("bad kind: %v", err)
	}
	if _, err := w.Put(Entry{Kind: KindPrefix, Value: "10.0.0.0/8"}); err == nil || !strings.Contains(err.Error(), "/24") {
		t.Errorf("bad prefix: %v", err)
	}
	if _, err := w.Put(Entry{Kind: KindIP, Value: "::ffff:10.1.2.3", Source: SourceAnalyst, Added: t0, Expires: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if e, ok := w.Get(KindIP, "10.1.2.3"); !ok || e.Value != "10.1.2.3" {
		t.Errorf("mapped address not normalised: %+v %v", e, ok)
	}
	if _, err := w.Pin(KindIP, "10.1.2.3", true, time.Time{}); err != nil {
		t.Fatal(err)
	}
	far := unix(t0) + 365*86400
	if _, ok := w.Infrastructure(netip.MustParseAddr("10.1.2.3"), "", "", far, SeenAll); !ok {
		t.Error("pinned entry expired")
	}
	// An automatic source does not shorten a pinned entry.
	if changed, _ := w.Put(Entry{Kind: KindIP, Value: "10.1.2.3", Source: SourceCampaign, Added: t0, Expires: t0.Add(time.Minute)}); changed {
		t.Error("automatic entry replaced a pinned one")
	}
	if _, err := w.Remove(KindIP, "10.1.2.3", t0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Remove(KindIP, "10.1.2.3", t0); !errors.Is(err, ErrNoEntry) {
		t.Errorf("second remove: %v", err)
	}
	// After an analyst removed it, automatic sources leave it off for the suppression period.
	if changed, _ := w.Put(Entry{Kind: KindIP, Value: "10.1.2.3", Source: SourceCampaign, Added: t0.Add(time.Hour), Expires: t0.Add(2 * time.Hour)}); changed {
		t.Error("automatic source re-added a removed entry")
	}
	if changed, _ := w.Put(Entry{Kind: KindIP, Value: "10.1.2.3", Source: SourceCampaign, Added: t0.Add(25 * time.Hour), Expires: t0.Add(26 * time.Hour)}); !changed {
		t.Error("automatic source could not re-add after the suppression period")
	}
	if n := len(w.List(t0.Add(25*time.Hour), false)); n != 1 || w.Len() != 1 {
		t.Errorf("list = %d, len = %d", n, w.Len())
	}
}

// TestWatchlistFindingsByTime: what detection found counts, for an event placed late, only from the
// time it was first found; found again, an entry keeps that time, and an analyst's entry stays the
// analyst's. The API lists entries by expiry only.
func TestWatchlistFindingsByTime(t *testing.T) {
	w := newWatchlist()
	dev := func(added, expires time.Time, source string) Entry {
		return Entry{Kind: KindDevice, Value: "d1", Source: source, By: map[bool]string{true: "sato"}[source == SourceAnalyst],
			Reason: source, Added: added, Expires: expires}
	}
	w.Put(dev(at(9, 0, 0), at(12, 0, 0), SourceFraudReport))
	lookup := func(tt time.Time, seen uint32) bool {
		_, ok := w.Infrastructure(netip.Addr{}, "d1", "", unix(tt), seen)
		return ok
	}
	if lookup(at(8, 59, 0), unix(at(8, 59, 0))) || !lookup(at(8, 59, 0), SeenAll) || !lookup(at(9, 0, 0), unix(at(9, 0, 0))) {
		t.Error("a late lookup before the finding sees it, or one in time order does not")
	}
	// Found again at 09:30 for longer: still watched since 09:00.
	if changed, _ := w.Put(dev(at(9, 30, 0), at(12, 30, 0), SourceCampaign)); !changed {
		t.Fatal("a longer finding did not extend the entry")
	}
	if e, _ := w.Get(KindDevice, "d1"); !e.Added.Equal(at(9, 0, 0)) || !e.Expires.Equal(at(12, 30, 0)) {
		t.Errorf("found again: added %s, expires %s; want 09:00, 12:30", e.Added, e.Expires)
	}
	if !lookup(at(9, 29, 0), unix(at(9, 29, 0))) {
		t.Error("a late lookup at 09:29 no longer sees the 09:00 finding")
	}
	// An analyst's entry that detection finds again lasts longer and stays the analyst's.
	w.Put(Entry{Kind: KindDevice, Value: "d2", Source: SourceAnalyst, By: "sato", Reason: "called in", Added: at(10, 0, 0), Expires: at(11, 0, 0)})
	w.Put(Entry{Kind: KindDevice, Value: "d2", Source: SourceCampaign, Reason: "campaign", Added: at(10, 30, 0), Expires: at(13, 0, 0)})
	if e, _ := w.Get(KindDevice, "d2"); e.Source != SourceAnalyst || e.By != "sato" || e.Reason != "called in" || !e.Expires.Equal(at(13, 0, 0)) {
		t.Errorf("analyst entry found again: %+v", e)
	}
	// Expired, an analyst's entry found again is detection's, from the new finding.
	w.Put(Entry{Kind: KindDevice, Value: "d3", Source: SourceAnalyst, By: "sato", Reason: "called in", Added: at(9, 0, 0), Expires: at(10, 0, 0)})
	w.Put(Entry{Kind: KindDevice, Value: "d3", Source: SourceCampaign, Reason: "campaign", Added: at(11, 0, 0), Expires: at(13, 0, 0)})
	if e, _ := w.Get(KindDevice, "d3"); e.Source != SourceCampaign || !e.Added.Equal(at(11, 0, 0)) {
		t.Errorf("expired analyst entry found again: %+v", e)
	}
	if _, ok := w.Infrastructure(netip.Addr{}, "d3", "", unix(at(10, 30, 0)), unix(at(10, 30, 0))); ok {
		t.Error("a late lookup at 10:30 sees a watch nobody had then")
	}
	// The API lists what has not expired, whatever the events' clock says.
	if n := len(w.List(at(8, 0, 0), false)); n != 3 {
		t.Errorf("listed %d entries at 08:00, want 3", n)
	}
}

func TestElapsedMinutes(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want float64
	}{{at(8, 0, 0), 0}, {at(9, 30, 0), 30}, {at(11, 45, 0), 150}, {at(13, 0, 0), 180}, {at(16, 0, 0), 300}} {
		if got := elapsedMinutes(unix(c.t)); got != c.want {
			t.Errorf("%s: %v, want %v", c.t.Format("15:04"), got, c.want)
		}
	}
}

func TestAnonymousBlocksLinkAccounts(t *testing.T) {
	l := New(Config{})
	var got []event.Alert
	for i, acct := range []string{"P1", "P2", "P3"} {
		addr := netip.MustParseAddr(fmt.Sprintf("45.76.1.%d", 10+i)) // three addresses of one hosting block
		got = append(got, l.Access(&Access{ID: "p" + acct, Account: acct, Time: at(10, i, 0), Addr: addr, Anonymous: true, ForeignAddr: true})...)
	}
	if len(got) != 1 || !strings.Contains(got[0].Reasons[0].Detail, "prefix 45.76.1.0/24") {
		t.Fatalf("alerts = %+v", got)
	}
	// The same spread over a domestic block (not anonymous) links nothing.
	l2 := New(Config{})
	for i, acct := range []string{"H1", "H2", "H3"} {
		addr := netip.MustParseAddr(fmt.Sprintf("153.1.1.%d", 10+i))
		if got := l2.Access(&Access{ID: "h" + acct, Account: acct, Time: at(10, i, 0), Addr: addr, ForeignAddr: true}); len(got) != 0 {
			t.Fatalf("domestic neighbours linked: %+v", got)
		}
	}
}

// TestConcurrentUse drives the layer from several goroutines at once, as serve does; run with -race.
func TestConcurrentUse(t *testing.T) {
	l := New(Config{})
	ins := thinIns(150000, at(9, 50, 0))
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 200 {
				acct := fmt.Sprintf("G%d-%d", g, i%20)
				now := at(9, 50, i%60)
				l.Order(hijackedBuy(fmt.Sprintf("e%d-%d", g, i), acct, now, ins))
				l.Access(&Access{ID: fmt.Sprintf("a%d-%d", g, i), Account: acct, Time: now, Device: "dev", ForeignDevice: true})
				l.Watchlist().Infrastructure(netip.MustParseAddr("198.51.100.7"), "dev", "", unix(now), SeenAll)
				l.Watchlist().List(now, true)
				l.Campaigns(now)
				l.UnderWay(unix(now))
				if i%50 == 0 {
					l.FraudReport(fmt.Sprintf("fr%d-%d", g, i), acct, now)
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	if cs := l.Campaigns(at(10, 0, 0)); len(cs) != 1 || cs[0].Symbol != "8012" {
		t.Errorf("campaigns = %+v", cs)
	}
}

// TestBeneficiaryEvidenceIsGraded: no single window decides. An account opened seven months ago that
// bought a small stake on two days is named when it raises its limit into the ramp; a swing trader's
// like stake in a years-old account, selling the same way, is not.
func TestBeneficiaryEvidenceIsGraded(t *testing.T) {
	l := New(Config{})
	now := at(9, 50, 0)
	ins := thinIns(150000, now)
	if got := l.Order(hijackedBuy("e1", "A1", now, ins)); len(got) != 1 {
		t.Fatalf("campaign: %v", kinds(got))
	}
	bought := unix(now.AddDate(0, 0, -3))
	sell := func(id, acct string, mm int, limit float64, opened time.Time) *Order {
		return &Order{ID: id, Account: acct, Symbol: "8012", Side: "sell", Time: at(10, mm, 0), Qty: 1000, Value: 1000 * limit,
			Ins: ins, PositionSince: bought, PositionLastBuy: bought + 86400, PositionBuyDays: 2, PositionQty: 2000,
			AccountOpened: unix(opened)}
	}
	for _, c := range []struct {
		o    *Order
		want []string
	}{
		{sell("b1", "BEN", 10, 212, now.AddDate(0, -7, 0)), nil},
		{sell("t1", "SWING", 12, 212, now.AddDate(-6, 0, 0)), nil},
		{sell("b2", "BEN", 20, 216, now.AddDate(0, -7, 0)), []string{"BEN"}},
		{sell("t2", "SWING", 22, 216, now.AddDate(-6, 0, 0)), nil},
	} {
		got := l.Order(c.o)
		var named []string
		for _, a := range got {
			named = append(named, a.Accounts...)
			if !strings.Contains(a.Reasons[0].Detail, "raised its limit") {
				t.Errorf("%s: reason %q", c.o.ID, a.Reasons[0].Detail)
			}
		}
		if !slices.Equal(named, c.want) {
			t.Errorf("%s: named %v, want %v", c.o.ID, named, c.want)
		}
	}
}

// TestIntrudersHerdBeforeTheRamp: two accounts taken over by intruders (a network and a client new to
// them), each selling its holdings into the same thin symbol and no other, raise a campaign alert before
// the market moves; an account that also tried another small cap does not count, nor do two intruders
// among many customers taking a first position in a popular thin stock.
func TestIntrudersHerdBeforeTheRamp(t *testing.T) {
	intruderBuy := func(id, acct, symbol string, now time.Time) *Order {
		o := hijackedBuy(id, acct, now, rampIns(0.5, now))
		o.Symbol, o.Ins.Symbol, o.Intruder = symbol, symbol, true
		return o
	}
	l := New(Config{})
	if got := l.Order(intruderBuy("e1", "A1", "8012", at(9, 10, 0))); len(got) != 0 {
		t.Fatalf("one intruder's buy: %v, want nothing", kinds(got))
	}
	// A2 tries two small caps: a trader's habit, not a hijacked account's.
	if got := l.Order(intruderBuy("e2", "A2", "7777", at(9, 20, 0))); len(got) != 0 {
		t.Fatalf("an intruder's buy of another symbol: %v", kinds(got))
	}
	if got := l.Order(intruderBuy("e3", "A2", "8012", at(9, 30, 0))); len(got) != 0 {
		t.Fatalf("an account buying two thin symbols counted: %v", kinds(got))
	}
	got := l.Order(intruderBuy("e4", "A3", "8012", at(11, 0, 0)))
	if len(got) != 1 || got[0].Kind != event.AlertCampaign {
		t.Fatalf("alerts = %v, want one campaign alert", kinds(got))
	}
	a := got[0]
	if a.Reasons[0].Code != "HIJACKED_HERD" || !strings.Contains(a.Reasons[0].Detail, "2 accounts") ||
		!strings.Contains(a.Reasons[0].Detail, "2 of the 3 accounts") {
		t.Errorf("reasons = %+v", a.Reasons)
	}
	for _, r := range a.Reasons {
		if r.Code == "MARKET_RAMP" {
			t.Errorf("a market ramp named before the market moved: %+v", r)
		}
	}

	// A popular thin stock: eight customers just liquidated and bought it for the first time.
	l = New(Config{})
	for i := range 8 {
		o := intruderBuy(fmt.Sprintf("c%d", i), fmt.Sprintf("C%d", i), "8012", at(9, 5+i, 0))
		o.Takeover, o.Intruder = false, false
		l.Order(o)
	}
	l.Order(intruderBuy("e1", "A1", "8012", at(10, 0, 0)))
	if got := l.Order(intruderBuy("e2", "A2", "8012", at(10, 30, 0))); len(got) != 0 {
		t.Errorf("two intruders among ten first-time buyers: %v, want nothing", kinds(got))
	}
}
