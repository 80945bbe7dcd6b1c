package campaign

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/market"
)

// victimRec is a hijack-like buy of a thin symbol, counted toward the symbol's evidence when it is
// ordered (an order queued the evening before counts then, and is joined with the market when the
// open arrives).
type victimRec struct {
	t       uint32
	account string
	w       float64 // how suspicious the buy is, times how thin the symbol is
	qty     int64
	market  bool
	strong  bool // see Order.strong
	// intruder: the whole pattern with an intruder's access (see Order.Intruder).
	intruder bool
	signs    string
	// The hijacked session's access, watched when the campaign is found.
	addr                                  netip.Addr
	device                                string
	anonymous, foreignAddr, foreignDevice bool
}

// sellRec is a sell of a thin symbol kept for a while in case a campaign is found after it.
type sellRec struct {
	o Order
	t uint32
}

// symbol is the state of one thin symbol.
type symbol struct {
	name    string
	victims []victimRec // hijack-like buys within the evidence window, in time order
	sells   []sellRec   // the last hours, in time order
	// The current campaign: when it was detected (0: none), its alert, the accounts driven into it and
	// the beneficiaries found.
	since         uint32
	sinceTime     time.Time
	alert         string
	victimSet     map[string]bool
	beneficiaries map[string]bool
	lastVictimBuy uint32
	// The JST day of the latest campaign alert: one a day at most.
	alertDay int32
	// The symbol's own history before its latest campaign: a symbol pumped yesterday and again today is
	// measured against its calm days, not against yesterday's pump.
	calmClose, calmMove float64
	// Our customers' executed quantity today (JST day ourDay), both sides: the market volume that is
	// not ours shows what happens across other firms.
	ourDay int32
	ourQty int64
	// Our customers' ordered quantity today (JST day ordDay), both sides: a quote may show their trades
	// before the executions reach us.
	ordDay int32
	ordQty int64
	// Rising limits of sells by account, for beneficiaries: the last limit price and how often it rose.
	sellLimits map[string]limitTrail
}

func (s *symbol) campaign() Campaign {
	return Campaign{Symbol: s.name, Since: s.sinceTime, Alert: s.alert, Victims: joinSorted(s.victimSet),
		Beneficiaries: joinSorted(s.beneficiaries)}
}

const (
	sellMemory  = 6 * 3600 // sells are kept this long for a campaign found after them
	maxSells    = 256
	maxVictims  = 256
	rushSeconds = 10 // market buys this close together are a rush

	// The evidence window, in trading minutes (see tradingClock): a hijack-like buy counts in full while
	// the market has not traded since it was ordered (the evening before counts at the open), halves
	// every Config.HerdWindow of trading, and is forgotten after a whole session.
	evidenceWindow = tradingMinutes
	// evidenceAlert is the joint evidence (victims × own flow × market points) that raises a campaign
	// alert, once the market has moved at least rampVolume times an average day's volume by the time
	// of day: one hijacked buy right after a liquidation into a thin symbol at that ramp, a buy with
	// takeover signs only at twice that, or more victims.
	evidenceAlert = 2.0
	rampVolume    = 6.0
	// calmDays is how long after a campaign the symbol is measured against its calm history.
	calmDays = 5
)

// weekdayPrefix[r] counts the weekdays among the r days after a day number divisible by 7 (day 0,
// 1970-01-01, was a Thursday).
var weekdayPrefix = [8]int64{0, 1, 2, 2, 2, 3, 4, 5}

// tradingClock counts trading minutes since the epoch: 300 per weekday, none overnight or at
// weekends, so that an order placed on Friday evening is as fresh at Monday's open as one placed on
// Thursday evening at Friday's. (Exchange holidays count as trading days.)
func tradingClock(t uint32) float64 {
	d := (int64(t) + 9*3600) / 86400
	wd := 5*(d/7) + weekdayPrefix[d%7]
	if r := d % 7; r == 2 || r == 3 { // Saturday, Sunday: the week's session is over
		return float64(wd) * tradingMinutes
	}
	return float64(wd)*tradingMinutes + elapsedMinutes(t)
}

// suspicion weighs one hijack-like buy: takeover signs right after a liquidation count most, signs
// alone less, a liquidation alone (a customer cashing out and trying a small cap) least.
func suspicion(o *Order) float64 {
	switch {
	case o.strong():
		return 1
	case o.Takeover:
		return 0.6
	}
	return 0.25
}

// thinness weighs a symbol by how little it trades: 1 at the thin-symbol threshold, up to 2 for a
// symbol trading a hundredth of it.
func (l *Layer) thinness(ins *market.Instrument) float64 {
	v := ins.ADValue()
	if v <= 0 {
		return 1
	}
	return min(2, max(1, 1+0.5*math.Log10(l.cfg.ThinValue/v)))
}

// evidence is the joint evidence of a campaign on one symbol at one time.
type evidence struct {
	hijacked []string // distinct accounts with hijack-like buys in the window, in order of first buy
	strong   int      // of those, accounts with the whole pattern (see Order.strong)
	signs    map[string]bool
	rush     int     // market buys by distinct accounts within rushSeconds of the latest
	first    uint32  // the earliest buy counted
	victims  float64 // the decayed, weighted victims
	victimQ  int64   // their quantity
	flow     float64 // 1 + the victims' share of an average day's volume (at most 2)
	market   float64 // the market's move, in points (see marketPoints)
	ramp     Ramp
	joint    float64
	herd     herd // set when the intruders' herd alone raised the alert, before any ramp
}

// herd is the symbol's herd of intruders within the evidence window.
type herd struct {
	intruders int // accounts with the whole pattern from an intruder's access, this symbol their only first buy of a thin one
	buyers    int // accounts with any hijack-like buy of the symbol
}

// herdIntruders is how many accounts taken over by intruders, each pouring its holdings into the same
// thin symbol and no other, raise a campaign alert before the market moves. A customer who sells
// everything and tries a small cap from a new phone on a new network is rare; two on one symbol within
// a session, where few others buy it for the first time, is a campaign, not a coincidence. (Where many
// customers take a first position in a popular thin stock every day, two such are not evidence: the
// intruders must be at least a third of the symbol's first-time buyers with signs or a liquidation.)
const herdIntruders = 2

// intruderHerd counts the symbol's intruders and hijack-like buyers within the evidence window at t.
func (l *Layer) intruderHerd(s *symbol, t uint32) herd {
	var h herd
	now := tradingClock(t)
	// Mostly there is no intruder at all: count without allocating first.
	n := 0
	for i := range s.victims {
		if v := &s.victims[i]; v.intruder && now-tradingClock(v.t) <= evidenceWindow {
			n++
		}
	}
	if n < herdIntruders {
		return h
	}
	seen := map[string]bool{}
	in := map[string]bool{}
	for i := range s.victims {
		v := &s.victims[i]
		if now-tradingClock(v.t) > evidenceWindow {
			continue
		}
		if !seen[v.account] {
			seen[v.account] = true
			h.buyers++
		}
		if v.intruder && !in[v.account] && !l.boughtOther(v.account, s.name, t) {
			in[v.account] = true
			h.intruders++
		}
	}
	return h
}

// firstBuy is a thin symbol an account first bought in a hijack-like way, and when.
type firstBuy struct {
	symbol string
	t      uint32
}

// maxFirstBuys bounds how many thin symbols are kept per account.
const maxFirstBuys = 4

// noteFirstBuy keeps the account's latest hijack-like first buys of thin symbols: a hijacked account
// pours its holdings into one target; a trader trying several small caps is not one.
func (l *Layer) noteFirstBuy(account, symbol string, t uint32) {
	if len(l.firstBuys) >= maxFirstBuyAccounts {
		now := tradingClock(t)
		for a, bs := range l.firstBuys {
			if now-tradingClock(bs[len(bs)-1].t) > evidenceWindow {
				delete(l.firstBuys, a)
			}
		}
	}
	bs := l.firstBuys[account]
	if n := len(bs); n > 0 && bs[n-1].symbol == symbol {
		bs[n-1].t = t
		return
	}
	if len(bs) == maxFirstBuys {
		bs = append(bs[:0], bs[1:]...)
	}
	l.firstBuys[account] = append(bs, firstBuy{symbol, t})
}

// maxFirstBuyAccounts is how many accounts' first buys are kept before the stale ones are dropped.
const maxFirstBuyAccounts = 4096

// boughtOther reports whether the account bought another thin symbol in a hijack-like way within the
// evidence window before t.
func (l *Layer) boughtOther(account, symbol string, t uint32) bool {
	now := tradingClock(t)
	for _, b := range l.firstBuys[account] {
		if b.symbol != symbol && now-tradingClock(b.t) <= evidenceWindow {
			return true
		}
	}
	return false
}

// evidence sums the symbol's victims at t, each at its strongest, joined with the market ramp and
// the victims' share of the symbol's flow.
func (l *Layer) evidence(s *symbol, ins *market.Instrument, t uint32, r Ramp) evidence {
	var ev evidence
	now := tradingClock(t)
	best := map[string]float64{}
	ev.signs = map[string]bool{}
	st := map[string]bool{}
	rush := map[string]bool{}
	for _, v := range s.victims {
		age := now - tradingClock(v.t)
		w := v.w * math.Exp2(-age*60/float64(l.cfg.HerdWindow))
		if _, ok := best[v.account]; !ok {
			ev.hijacked = append(ev.hijacked, v.account)
			if ev.first == 0 {
				ev.first = v.t
			}
		}
		best[v.account] = max(best[v.account], w)
		ev.victimQ += v.qty
		if v.signs != "" {
			ev.signs[v.signs] = true
		}
		if v.strong && !st[v.account] {
			st[v.account] = true
			ev.strong++
		}
		if v.market && v.t+rushSeconds >= t {
			rush[v.account] = true
		}
	}
	ev.rush = len(rush)
	for _, a := range ev.hijacked {
		ev.victims += best[a]
	}
	ev.flow = 1
	if ins.ADV > 0 {
		ev.flow += min(1, float64(ev.victimQ)/ins.ADV)
	}
	ev.ramp = r
	ev.market = r.points()
	ev.joint = ev.victims * ev.flow * ev.market
	return ev
}

// rampFor measures the symbol's ramp beyond the firm's customers, against its calm history when it
// was under campaign in the last days.
func (l *Layer) rampFor(s *symbol, ins *market.Instrument, t uint32) Ramp {
	ours := int64(0)
	day := market.DayNumber(time.Unix(int64(t), 0))
	if s.ourDay == day {
		ours = s.ourQty
	}
	if s.ordDay == day {
		ours = max(ours, s.ordQty)
	}
	if s.calmClose > 0 && s.alertDay != 0 && market.DayNumber(time.Unix(int64(t), 0)) <= s.alertDay+calmDays {
		c := *ins
		c.PrevClose = min(c.PrevClose, s.calmClose)
		if s.calmMove > 0 {
			c.DailyMove = min(c.DailyMove, s.calmMove)
		}
		return rampOf(&c, t, ours)
	}
	return rampOf(ins, t, ours)
}

// points scores a market move by its volume beyond the firm against what an average day trades by
// this time of day: a point at rampVolume times, one more at each doubling (up to 4). A thin
// symbol's odd block trade is not a ramp: the volume must also exceed the expectation by half an
// average day. The price alone moves too much in thin symbols to count, but a rise of more
// than three typical daily moves on the previous close adds up to a point to a volume ramp.
func (r Ramp) points() float64 {
	if r.Excess < 0.5 || r.VolumeRatio <= rampVolume/2 {
		return 0
	}
	p := min(4, math.Log2(r.VolumeRatio/(rampVolume/2)))
	if r.Rise >= 0.03 && r.RiseSigma > 3 {
		p += min(1, (r.RiseSigma-3)/3)
	}
	return p
}

// buy records a buy; a hijack-like one counts toward the symbol's evidence. Either may raise the
// campaign alert: a later buy carries a fresher view of the market.
func (l *Layer) buy(s *symbol, o *Order, t uint32) (event.Alert, bool) {
	if o.hijackLike() {
		if len(s.victims) == maxVictims {
			s.victims = s.victims[1:]
		}
		s.victims = append(s.victims, victimRec{t: t, account: o.Account, w: suspicion(o) * l.thinness(o.Ins), qty: o.Qty,
			market: o.Market, strong: o.strong(), intruder: o.strong() && o.Intruder, signs: o.Signs, addr: o.Addr, device: o.Device, anonymous: o.Anonymous,
			foreignAddr: o.ForeignAddr, foreignDevice: o.ForeignDevice})
		if s.since != 0 && t <= s.since+l.cfg.WatchTTL {
			s.victimSet[o.Account] = true
		}
		s.lastVictimBuy = t
		l.noteFirstBuy(o.Account, s.name, t)
	}
	return l.judge(s, o.Ins, t, o.ID, o.Time, o)
}

// forget drops the victims that left the evidence window.
func (s *symbol) forget(t uint32) {
	now := tradingClock(t)
	i := 0
	for i < len(s.victims) && now-tradingClock(s.victims[i].t) > evidenceWindow {
		i++
	}
	if i > 0 {
		s.victims = append(s.victims[:0], s.victims[i:]...)
	}
}

// judge weighs the symbol's evidence at t and raises the campaign alert when it is enough. id and at
// name the event that found it; o is the order, if an order found it.
func (l *Layer) judge(s *symbol, ins *market.Instrument, t uint32, id string, at time.Time, o *Order) (event.Alert, bool) {
	s.forget(t)
	if len(s.victims) == 0 || ins == nil || s.alertDay == market.DayNumber(at) {
		return event.Alert{}, false
	}
	// Herding alone is not enough: in a large firm, a popular thin stock sees first-time buyers with
	// some sign of unfamiliar access every day. The market beyond the firm must move too (measured
	// first: it is cheap, and mostly it has not).
	r := l.rampFor(s, ins, t)
	if r.points() < 1 {
		// Before the market moves: intruders herding into the symbol, and few others buying it.
		if h := l.intruderHerd(s, t); h.intruders >= herdIntruders && 3*h.intruders >= h.buyers {
			ev := l.evidence(s, ins, t, r)
			ev.herd = h
			return l.raiseCampaign(s, ins, t, id, at, o, ev), true
		}
		return event.Alert{}, false
	}
	ev := l.evidence(s, ins, t, r)
	if ev.joint < evidenceAlert {
		return event.Alert{}, false
	}
	return l.raiseCampaign(s, ins, t, id, at, o, ev), true
}

func (l *Layer) raiseCampaign(s *symbol, ins *market.Instrument, t uint32, id string, at time.Time, o *Order, ev evidence) event.Alert {
	n := len(ev.hijacked)
	day := market.DayNumber(at)
	if s.since == 0 || t > s.since+l.cfg.WatchTTL {
		// A new campaign; a symbol pumped again within the watch period keeps its victims and beneficiaries.
		s.victimSet = map[string]bool{}
		s.beneficiaries = map[string]bool{}
		s.calmClose, s.calmMove = ins.PrevClose, ins.DailyMove
	}
	s.since, s.sinceTime, s.alert, s.alertDay = t, at, "cmp-"+id, day
	for _, a := range ev.hijacked {
		s.victimSet[a] = true
	}
	score := 500 + int(100*min(5, ev.joint-evidenceAlert)) + 60*(n-1)
	if ev.herd.intruders > 0 {
		score = 500 + 100*ev.herd.intruders + 60*(n-1)
	}
	var reasons []event.Reason
	first := time.Unix(int64(ev.first), 0).In(market.JST()).Format("01-02 15:04")
	herdDetail := fmt.Sprintf("%s showing takeover signs or just liquidated bought %s for the first time since %s JST (%d with takeover signs right after selling their holdings)",
		plural(n, "account", "accounts"), s.name, first, ev.strong)
	if len(ev.signs) > 0 {
		herdDetail += " (" + strings.Join(joinSorted(ev.signs), "; ") + ")"
	}
	if ins.ADV > 0 {
		herdDetail += fmt.Sprintf("; they bought %.0f%% of an average day's market volume", 100*float64(ev.victimQ)/ins.ADV)
	}
	if ev.herd.intruders > 0 {
		reasons = append(reasons, event.Reason{Code: "HIJACKED_HERD", Detail: fmt.Sprintf(
			"%s, on a network and a client new to them (or a session that moved), sold their holdings and put the proceeds into %s and no other thin symbol: %d of the %d accounts buying it for the first time with takeover signs or after a liquidation, before the market moved",
			plural(ev.herd.intruders, "account", "accounts"), s.name, ev.herd.intruders, ev.herd.buyers)})
	}
	herdDetail += fmt.Sprintf("; evidence %.1f = victims %.1f × own flow %.2f × market ramp %.1f (alert at %.0f)",
		ev.joint, ev.victims, ev.flow, ev.market, evidenceAlert)
	reasons = append(reasons, event.Reason{Code: "HERDING_ILLIQUID_BUY", Detail: herdDetail})
	if ev.market > 0 || ev.herd.intruders == 0 {
		reasons = append(reasons, event.Reason{Code: "MARKET_RAMP", Detail: ev.ramp.describe(at)})
	}
	if ev.rush >= 3 {
		score += 80
		reasons = append(reasons, event.Reason{Code: "RUSH_ORDERS",
			Detail: fmt.Sprintf("%d accounts sent market buys within %d s", ev.rush, rushSeconds)})
	}
	reasons = append(reasons, event.Reason{Code: "THIN_SYMBOL",
		Detail: fmt.Sprintf("%s trades ¥%.0fM a day on average", s.name, ins.ADValue()/1e6)})
	accts := append([]string(nil), ev.hijacked...)
	l.watchCampaign(s, at)
	l.last.Store(&lastCampaign{t: t, symbol: s.name})
	return event.Alert{ID: s.alert, Time: at, Kind: event.AlertCampaign, Symbols: []string{s.name},
		Accounts: accts, Score: min(score, 1000), Reasons: reasons}
}

// watchCampaign puts the symbol, and the foreign infrastructure of the hijacked sessions with the
// whole pattern that revealed it, on the watchlist.
func (l *Layer) watchCampaign(s *symbol, at time.Time) {
	exp := at.Add(time.Duration(l.cfg.WatchTTL) * time.Second)
	reason := "under campaign: hijacked accounts herding into it"
	l.watch.Put(Entry{Kind: KindSymbol, Value: s.name, Reason: reason, Source: SourceCampaign, Ref: s.alert, Added: at, Expires: exp})
	for i := range s.victims {
		if v := &s.victims[i]; v.strong {
			l.watchAccess(v.addr, v.device, v.anonymous, v.foreignAddr, v.foreignDevice, "used by a hijacked account buying "+s.name, SourceCampaign, s.alert, at, exp)
		}
	}
}

// watchAccess watches the address (or its block, for hosting and VPN networks) and the device of a
// hijacked session, when they are not the account's own.
func (l *Layer) watchAccess(addr netip.Addr, device string, anonymous, foreignAddr, foreignDevice bool, reason, source, ref string, at, exp time.Time) {
	if !foreignAddr {
		addr = netip.Addr{}
	}
	if !foreignDevice {
		device = ""
	}
	if addr.IsValid() {
		if anonymous {
			l.watch.Put(Entry{Kind: KindPrefix, Value: BlockOf(addr).String(), Reason: reason, Source: source, Ref: ref, Added: at, Expires: exp})
		} else {
			l.watch.Put(Entry{Kind: KindIP, Value: addr.String(), Reason: reason, Source: source, Ref: ref, Added: at, Expires: exp})
		}
	}
	if device != "" {
		l.watch.Put(Entry{Kind: KindDevice, Value: device, Reason: reason, Source: source, Ref: ref, Added: at, Expires: exp})
	}
}

// sell looks at a sell of a thin symbol: a beneficiary alert when it sells into a campaign a position
// bought before it; otherwise it is kept for a while in case a campaign is found just after.
func (l *Layer) sell(s *symbol, o *Order, t uint32) (event.Alert, bool) {
	l.limits(s, o, t)
	if s.since != 0 && t <= s.since+2*86400 {
		return l.beneficiary(s, []Order{*o}, o.ID, o.Time, t)
	}
	i := 0
	for i < len(s.sells) && s.sells[i].t+sellMemory < t {
		i++
	}
	s.sells = append(s.sells[:0], s.sells[i:]...)
	if len(s.sells) == maxSells {
		s.sells = s.sells[1:]
	}
	s.sells = append(s.sells, sellRec{o: *o, t: t})
	return event.Alert{}, false
}

// limitTrail is an account's latest limit sell of a symbol.
type limitTrail struct {
	t     uint32
	limit float64
}

// limits notes whether a limit sell asks above the market and above the account's previous limit in
// the symbol that day: selling into a ramp with rising limits.
func (l *Layer) limits(s *symbol, o *Order, t uint32) {
	if o.Market || o.Qty <= 0 || o.Value <= 0 {
		return
	}
	limit := o.Value / float64(o.Qty)
	if o.Ins != nil && o.Ins.Price > 0 && limit > o.Ins.Price {
		o.limitAbove = true
	}
	if s.sellLimits == nil {
		s.sellLimits = map[string]limitTrail{}
	}
	if prev, ok := s.sellLimits[o.Account]; ok && prev.t+86400 > t && limit > prev.limit {
		o.limitRising = true
	}
	if len(s.sellLimits) >= maxSells {
		for a, lt := range s.sellLimits {
			if lt.t+86400 <= t {
				delete(s.sellLimits, a)
			}
		}
	}
	s.sellLimits[o.Account] = limitTrail{t: t, limit: limit}
}

// lookBack examines the sells kept before a campaign was found.
func (l *Layer) lookBack(s *symbol, id string, at time.Time, t uint32) (event.Alert, bool) {
	var cands []Order
	for _, r := range s.sells {
		if r.t+sellMemory >= t {
			cands = append(cands, r.o)
		}
	}
	s.sells = s.sells[:0]
	if len(cands) == 0 {
		return event.Alert{}, false
	}
	return l.beneficiary(s, cands, id, at, t)
}

// beneficiary raises one alert naming the sellers that profit from the campaign: accounts that opened
// their position before the ramp day (or, holding it from before the data, were opened recently) and
// sell into it. at is the order whose processing found them.
func (l *Layer) beneficiary(s *symbol, sells []Order, id string, at time.Time, t uint32) (event.Alert, bool) {
	rampDay := market.DayNumber(s.sinceTime)
	dayStart := uint32(int64(rampDay)*86400 - 9*3600)
	found := map[string]bool{}
	var reasons []event.Reason
	for i := range sells {
		o := &sells[i]
		if s.beneficiaries[o.Account] || s.victimSet[o.Account] || found[o.Account] {
			continue
		}
		// A stake taken before the ramp day, last added to within the look-back: sold into the ramp.
		lastBuy := o.PositionLastBuy
		if lastBuy == 0 {
			lastBuy = o.PositionSince
		}
		before := (o.PositionSince == 0 || o.PositionSince < dayStart) && (lastBuy == 0 || lastBuy < dayStart)
		withinLookback := lastBuy == 0 || lastBuy+l.cfg.Lookback >= s.since
		if !before || !withinLookback {
			continue
		}
		accumulated := o.PositionBuyDays >= 2 && lastBuy > 0
		boughtBefore := lastBuy > 0
		adv := 0.0
		if o.Ins != nil {
			adv = o.Ins.ADV
		}
		share := 0.0
		if adv > 0 {
			share = float64(o.PositionQty) / adv
		}
		// The account's age counts in full when recently opened and fades out over the year.
		age := 0.0
		if o.AccountOpened > 0 && unix(o.Time) > o.AccountOpened {
			days := float64(unix(o.Time)-o.AccountOpened) / 86400
			newDays := float64(l.cfg.NewAccount) / 86400
			age = min(1, max(0, (365-days)/max(1, 365-newDays)))
		}
		during := l.duringCampaign(s, unix(o.Time))
		// Evidence points. A stake built on two days before the ramp with only the timing to go on is
		// what an active trader's swing position looks like too: it takes more evidence.
		points := 0.0
		if accumulated {
			points++
			if o.PositionBuyDays >= 3 {
				points++
			}
		}
		// A stake large against what the symbol trades is what a pump pays out on.
		switch {
		case share >= 0.3:
			points += 1.5
		case share >= 0.1:
			points++
		case share >= 0.02:
			points += 0.5
		}
		points += age
		if during {
			points++
		}
		if o.limitAbove {
			points += 0.5
		}
		if o.limitRising {
			points += 0.5
		}
		need := 4.0
		if !boughtBefore {
			need = 3 // held from before the data: only a young account's stake counts
		}
		if points < need || !(boughtBefore || age > 0) {
			continue
		}
		found[o.Account] = true
		s.beneficiaries[o.Account] = true
		var why []string
		switch {
		case accumulated:
			why = append(why, fmt.Sprintf("bought it on %d days before the ramp day", o.PositionBuyDays))
		case boughtBefore:
			why = append(why, fmt.Sprintf("bought it %.1f days before the campaign", float64(s.since-lastBuy)/86400))
		default:
			why = append(why, "held it from before the data")
		}
		if age > 0 {
			why = append(why, fmt.Sprintf("account opened %d days ago", (unix(o.Time)-o.AccountOpened)/86400))
		}
		if share >= 0.02 {
			why = append(why, fmt.Sprintf("a position of %d shares, %.0f%% of an average day's market volume", o.PositionQty, 100*share))
		}
		if during {
			why = append(why, "sold while hijacked accounts were buying")
		}
		if o.limitRising {
			why = append(why, "raised its limit from the previous sell")
		} else if o.limitAbove {
			why = append(why, "a limit above the market")
		}
		reasons = append(reasons, event.Reason{Code: "SELLS_INTO_CAMPAIGN",
			Detail: fmt.Sprintf("%s sold %d %s at %s JST: %s", o.Account, o.Qty, s.name,
				o.Time.In(market.JST()).Format("01-02 15:04"), strings.Join(why, "; "))})
	}
	if len(found) == 0 {
		return event.Alert{}, false
	}
	accts := joinSorted(found)
	score := 700
	if len(reasons) > 4 {
		reasons = reasons[:4]
	}
	return event.Alert{ID: "bf-" + id, Time: at, Kind: event.AlertBeneficiary, Symbols: []string{s.name},
		Accounts: accts, Score: score, Reasons: reasons}, true
}

// duringCampaign reports whether t is on a day the symbol's campaign ran, after its first hijacked
// buy, or within two hours of any hijacked buy counted.
func (l *Layer) duringCampaign(s *symbol, t uint32) bool {
	if s.lastVictimBuy > 0 && absDiff(t, s.lastVictimBuy) <= 2*3600 {
		return true
	}
	for i := range s.victims {
		if absDiff(t, s.victims[i].t) <= 2*3600 {
			return true
		}
	}
	return s.since != 0 && market.DayNumber(time.Unix(int64(t), 0)) == s.alertDay && t >= s.since-2*3600
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// Execution counts one of the firm's customers' executions of a thin symbol toward today's volume that
// is the firm's own, and weighs the symbol's evidence again: orders queued the evening before execute
// at the open, when the market's move first shows. id names the execution event.
func (l *Layer) Execution(ins *market.Instrument, id string, qty int64, at time.Time) []event.Alert {
	if !l.thin(ins) {
		return nil
	}
	l.symMu.Lock()
	defer l.symMu.Unlock()
	s := l.symbols[ins.Symbol]
	if s == nil {
		s = &symbol{name: ins.Symbol}
		l.symbols[ins.Symbol] = s
	}
	if d := market.DayNumber(at); d != s.ourDay {
		s.ourDay, s.ourQty = d, 0
	}
	s.ourQty += qty
	if len(s.victims) == 0 {
		return nil
	}
	t := unix(at)
	a, ok := l.judge(s, ins, t, id, at, nil)
	if !ok {
		return nil
	}
	out := []event.Alert{a}
	if b, ok := l.lookBack(s, id, at, t); ok {
		out = append(out, b)
	}
	return out
}
