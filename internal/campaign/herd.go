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

// buyRec is one of the firm's customers' buys of a thin symbol.
type buyRec struct {
	t       uint32
	account string
	qty     int64
	market  bool
	hijack  bool
	strong  bool // see Order.strong
	signs   string
}

// sellRec is a sell of a thin symbol kept for a while in case a campaign is found after it.
type sellRec struct {
	o Order
	t uint32
}

// symbol is the state of one thin symbol.
type symbol struct {
	name  string
	buys  []buyRec  // within the herd window, in time order
	sells []sellRec // the last hours, in time order
	// The current campaign: when it was detected (0: none), its alert, the accounts driven into it and
	// the beneficiaries found.
	since         uint32
	sinceTime     time.Time
	alert         string
	victims       map[string]bool
	beneficiaries map[string]bool
	lastVictimBuy uint32
	// Our customers' executed quantity today (JST day ourDay), both sides: the market volume that is
	// not ours shows what happens across other firms.
	ourDay int32
	ourQty int64
}

func (s *symbol) campaign() Campaign {
	return Campaign{Symbol: s.name, Since: s.sinceTime, Alert: s.alert, Victims: joinSorted(s.victims),
		Beneficiaries: joinSorted(s.beneficiaries)}
}

const (
	sellMemory   = 6 * 3600 // sells are kept this long for a campaign found after them
	maxSells     = 256
	maxBuys      = 512
	rushSeconds  = 10 // market buys this close together are a rush
	realertAfter = 24 * 3600
)

// herd summarises the buys in the window.
type herd struct {
	hijacked []string // distinct accounts with hijack-like buys, in order of first buy
	strong   int      // of those, accounts with the whole pattern (see Order.strong)
	buyers   int      // distinct accounts buying
	ourQty   int64
	rush     int // market buys by distinct accounts within rushSeconds of the latest
	signs    map[string]bool
}

func (s *symbol) herd(t uint32) herd {
	var h herd
	seen := map[string]bool{}
	hj := map[string]bool{}
	st := map[string]bool{}
	h.signs = map[string]bool{}
	rush := map[string]bool{}
	for _, b := range s.buys {
		if !seen[b.account] {
			seen[b.account] = true
			h.buyers++
		}
		h.ourQty += b.qty
		if b.hijack && !hj[b.account] {
			hj[b.account] = true
			h.hijacked = append(h.hijacked, b.account)
			if b.signs != "" {
				h.signs[b.signs] = true
			}
		}
		if b.strong && !st[b.account] {
			st[b.account] = true
			h.strong++
		}
		if b.market && b.t+rushSeconds >= t {
			rush[b.account] = true
		}
	}
	h.rush = len(rush)
	return h
}

// buy records a buy and raises a campaign alert when the herd, with the market's ramp, makes one.
func (l *Layer) buy(s *symbol, o *Order, t uint32) (event.Alert, bool) {
	// Forget buys that left the window.
	i := 0
	for i < len(s.buys) && s.buys[i].t+l.cfg.HerdWindow < t {
		i++
	}
	s.buys = append(s.buys[:0], s.buys[i:]...)
	if len(s.buys) == maxBuys {
		s.buys = s.buys[1:]
	}
	hj := o.hijackLike()
	s.buys = append(s.buys, buyRec{t: t, account: o.Account, qty: o.Qty, market: o.Market, hijack: hj,
		strong: o.strong(), signs: o.Signs})
	if o.hijackLike() {
		if s.since != 0 && t <= s.since+l.cfg.WatchTTL {
			s.victims[o.Account] = true
		}
		s.lastVictimBuy = t
	}
	if s.since != 0 && t < s.since+realertAfter {
		return event.Alert{}, false
	}
	if !o.hijackLike() {
		return event.Alert{}, false
	}
	h := s.herd(t)
	r := rampOf(o.Ins, t, s.ourQty)
	n := len(h.hijacked)
	// Herding alone is not enough: in a large firm, a popular thin stock sees several first-time
	// buyers with some sign of unfamiliar access every hour. The market beyond the firm must move too.
	switch {
	case h.strong >= 3 && r.significant(3): // herding, with the market moving
	case h.strong >= 2 && r.significant(5): // a few, with the market moving more
	case h.strong >= 1 && r.significant(10): // one of ours inside a ramp across firms
	case n >= 2 && r.significant(10) && (r.Rise >= 0.05 || r.RiseSigma >= 2): // careful attackers inside a clear ramp
	default:
		return event.Alert{}, false
	}
	return l.raiseCampaign(s, o, t, h, r), true
}

func (l *Layer) raiseCampaign(s *symbol, o *Order, t uint32, h herd, r Ramp) event.Alert {
	n := len(h.hijacked)
	s.since, s.sinceTime, s.alert = t, o.Time, "cmp-"+o.ID
	s.victims = map[string]bool{}
	s.beneficiaries = map[string]bool{}
	for _, a := range h.hijacked {
		s.victims[a] = true
	}
	score := 500 + 120*(n-1)
	var reasons []event.Reason
	herdDetail := fmt.Sprintf("%s showing takeover signs or just liquidated bought %s for the first time within %d min (%d with takeover signs right after selling their holdings)",
		plural(n, "account", "accounts"), s.name, l.cfg.HerdWindow/60, h.strong)
	if len(h.signs) > 0 {
		herdDetail += " (" + strings.Join(joinSorted(h.signs), "; ") + ")"
	}
	if o.Ins != nil && o.Ins.DayVolume > 0 {
		herdDetail += fmt.Sprintf("; our customers bought %.0f%% of today's market volume", 100*math.Min(1, float64(h.ourQty)/float64(o.Ins.DayVolume)))
	}
	reasons = append(reasons, event.Reason{Code: "HERDING_ILLIQUID_BUY", Detail: herdDetail})
	if r.significant(5) {
		score += 100
		if r.VolumeRatio >= 20 && r.Rise >= 0.15 {
			score += 100
		}
		reasons = append(reasons, event.Reason{Code: "MARKET_RAMP", Detail: r.describe(o.Time)})
	}
	if h.rush >= 3 {
		score += 80
		reasons = append(reasons, event.Reason{Code: "RUSH_ORDERS",
			Detail: fmt.Sprintf("%d accounts sent market buys within %d s", h.rush, rushSeconds)})
	}
	if o.Ins != nil {
		reasons = append(reasons, event.Reason{Code: "THIN_SYMBOL",
			Detail: fmt.Sprintf("%s trades ¥%.0fM a day on average", s.name, o.Ins.ADValue()/1e6)})
	}
	accts := append([]string(nil), h.hijacked...)
	l.watchCampaign(s, o)
	l.last.Store(&lastCampaign{t: t, symbol: s.name})
	return event.Alert{ID: s.alert, Time: o.Time, Kind: event.AlertCampaign, Symbols: []string{s.name},
		Accounts: accts, Score: min(score, 1000), Reasons: reasons}
}

// watchCampaign puts the symbol and the infrastructure of the buy that revealed it on the watchlist.
func (l *Layer) watchCampaign(s *symbol, o *Order) {
	exp := o.Time.Add(time.Duration(l.cfg.WatchTTL) * time.Second)
	reason := "under campaign: hijacked accounts herding into it"
	l.watch.Put(Entry{Kind: KindSymbol, Value: s.name, Reason: reason, Source: SourceCampaign, Ref: s.alert, Added: o.Time, Expires: exp})
	if o.strong() {
		l.watchAccess(o.Addr, o.Device, o.Anonymous, o.ForeignAddr, o.ForeignDevice, "used by a hijacked account buying "+s.name, SourceCampaign, s.alert, o.Time, exp)
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
	if s.since != 0 && t <= s.since+2*86400 {
		return l.beneficiary(s, []Order{*o}, o, t)
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

// lookBack examines the sells kept before a campaign was found.
func (l *Layer) lookBack(s *symbol, o *Order, t uint32) (event.Alert, bool) {
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
	return l.beneficiary(s, cands, o, t)
}

// beneficiary raises one alert naming the sellers that profit from the campaign: accounts that opened
// their position before the ramp day (or, holding it from before the data, were opened recently) and
// sell into it. at is the order whose processing found them.
func (l *Layer) beneficiary(s *symbol, sells []Order, at *Order, t uint32) (event.Alert, bool) {
	rampDay := market.DayNumber(s.sinceTime)
	dayStart := uint32(int64(rampDay)*86400 - 9*3600)
	found := map[string]bool{}
	var reasons []event.Reason
	for i := range sells {
		o := &sells[i]
		if s.beneficiaries[o.Account] || s.victims[o.Account] || found[o.Account] {
			continue
		}
		// Evidence of a stake taken before the ramp and sold into it.
		lastBuy := o.PositionLastBuy
		if lastBuy == 0 {
			lastBuy = o.PositionSince
		}
		before := (o.PositionSince == 0 || o.PositionSince < dayStart) && (lastBuy == 0 || lastBuy < dayStart)
		withinLookback := lastBuy == 0 || lastBuy+l.cfg.Lookback >= s.since
		accumulated := before && withinLookback && o.PositionBuyDays >= 2
		boughtBefore := before && lastBuy > 0 && withinLookback
		recent := o.AccountOpened > 0 && unix(o.Time) <= o.AccountOpened+l.cfg.NewAccount
		adv := 0.0
		if o.Ins != nil {
			adv = o.Ins.ADV
		}
		share := 0.0
		if adv > 0 {
			share = float64(o.PositionQty) / adv
		}
		big := share >= 0.2
		during := s.lastVictimBuy > 0 && absDiff(unix(o.Time), s.lastVictimBuy) <= 1800
		// Evidence points. A stake built on two days before the ramp with only the timing to go on is
		// what an active trader's swing position looks like too: it takes one more piece of evidence.
		points := 0
		if accumulated {
			points++
			if share >= 0.02 {
				points++
			}
			if o.PositionBuyDays >= 3 {
				points++
			}
		}
		for _, ok := range []bool{big, recent, during} {
			if ok {
				points++
			}
		}
		need := 4
		if !accumulated && !boughtBefore {
			need = 3 // held from before the data by a recently opened account
		}
		if points < need || !(accumulated || boughtBefore || (o.PositionSince == 0 && recent)) {
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
		if recent {
			why = append(why, fmt.Sprintf("account opened %d days ago", (unix(o.Time)-o.AccountOpened)/86400))
		}
		if big {
			why = append(why, fmt.Sprintf("a position of %d shares, %.0f%% of an average day's market volume", o.PositionQty, 100*share))
		}
		if during {
			why = append(why, "sold while hijacked accounts were buying")
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
	return event.Alert{ID: "bf-" + at.ID, Time: at.Time, Kind: event.AlertBeneficiary, Symbols: []string{s.name},
		Accounts: accts, Score: score, Reasons: reasons}, true
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// Execution counts one of the firm's customers' executions of a thin symbol toward today's volume that
// is the firm's own.
func (l *Layer) Execution(ins *market.Instrument, qty int64, at time.Time) {
	if !l.thin(ins) {
		return
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
}
