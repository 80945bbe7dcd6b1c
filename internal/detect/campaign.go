package detect

import (
	"math"
	"strings"
	"sync"

	"github.com/brokerguard/brokerguard/internal/campaign"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/market"
	"github.com/brokerguard/brokerguard/internal/profile"
)

// campaignIO is one event's traffic with the campaign layer: the watchlist entries read before the
// account's lock, and what the layer is told after it. It is large and most events need none, so it
// comes from a pool, only when needed.
type campaignIO struct {
	symWatch, infraWatch, acctWatch campaign.Entry
	haveSym, haveInfra, haveAcct    bool
	underWay                        string // the symbol of a campaign under way
	underWayAge                     uint32
	order                           campaign.Order
	ins                             market.Instrument
	access                          campaign.Access
	recordOrder, recordAccess       bool
}

var campaignPool = sync.Pool{New: func() any { return new(campaignIO) }}

// io returns the request's campaign traffic, taking it from the pool on first use.
func (rq *request) io() *campaignIO {
	if rq.cio == nil {
		rq.cio = campaignPool.Get().(*campaignIO)
		*rq.cio = campaignIO{}
	}
	return rq.cio
}

// readCampaign reads what the campaign layer knows of a request before the account's lock: watchlist
// entries for its symbol, infrastructure and account, and a campaign under way.
func (e *Engine) readCampaign(c *campaign.Layer, ev *event.Event, t uint32, rq *request) {
	w := c.Watchlist()
	var under string
	var age uint32
	if ev.Type != event.TypeLogin {
		under, age, _ = c.UnderWay(t)
	}
	if w.Len() == 0 && under == "" {
		return
	}
	cio := rq.io()
	cio.underWay, cio.underWayAge = under, age
	// An event placed late does not see what detection found after it (its own account's later events
	// among them); in time order every finding counts, as of arrival.
	seen := campaign.SeenAll
	if rq.late {
		seen = t
	}
	if ev.Type == event.TypeOrder && ev.Side == "buy" {
		cio.symWatch, cio.haveSym = w.Symbol(ev.Symbol, t, seen)
	}
	cio.infraWatch, cio.haveInfra = w.Infrastructure(rq.addr, ev.Device, ev.Destination, t, seen)
	cio.acctWatch, cio.haveAcct = w.Account(ev.Account, t, seen)
}

// watchSignals raises the signals that come from the campaign layer: the request's symbol,
// infrastructure or account on the watchlist, and the market ramp of a thin symbol being bought.
func (e *Engine) watchSignals(ev *event.Event, t uint32, rq *request, ins *market.Instrument, haveIns bool, ss *Signals) {
	if e.campaign == nil {
		return
	}
	if cio := rq.cio; cio != nil {
		if cio.haveInfra {
			ss.Set(WatchedInfrastructure, 1, 0, 0, watchDetail(&cio.infraWatch))
		}
		if cio.haveAcct {
			ss.Set(WatchedAccount, 1, 0, 0, watchDetail(&cio.acctWatch))
		}
		if cio.underWay != "" {
			ss.Set(CampaignUnderWay, 1, float64(cio.underWayAge), 0, cio.underWay)
		}
		if cio.haveSym && ev.Type == event.TypeOrder && ev.Side == "buy" {
			ss.Set(WatchedSymbol, 1, 0, 0, watchDetail(&cio.symWatch))
		}
	}
	if ev.Type != event.TypeOrder || ev.Side != "buy" {
		return
	}
	if haveIns && e.campaign.Thin(ins) {
		if r := e.campaign.Ramp(ins, t); r.Significant(10) {
			ss.Set(MarketRamp, math.Log10(r.VolumeRatio)/math.Log10(50), r.VolumeRatio, r.Rise, "")
		}
	}
}

func watchDetail(w *campaign.Entry) string {
	return w.Kind + " " + w.Value + " on the watchlist: " + w.Reason
}

// tellCampaign hands the decided event to the campaign layer (through rq, so that the layer runs after
// the account's lock is released): orders of thin symbols, and requests with takeover signs or a new
// withdrawal destination.
func (e *Engine) tellCampaign(ev *event.Event, p *profile.Profile, rq *request, ss *Signals,
	d *event.Decision, ins *market.Instrument, haveIns bool, value float64) {
	mask := ss.Mask()
	signs := mask&takeoverSigns != 0
	anonymous := rq.info.Hosting || rq.info.VPN
	// A domestic home or mobile address shared by strangers is a carrier's NAT; a hosting, VPN or
	// foreign address is not.
	foreignAddr := anonymous || ss.Has(NewCountry) || ss.Has(ImpossibleTravel)
	foreignDevice := ss.Has(NewDevice) || ss.Has(DeviceShared)
	var symbol, text string
	if ev.Type == event.TypeOrder && haveIns && e.campaign.Thin(ins) {
		cio := rq.io()
		cio.ins = *ins
		if signs && ev.Side == "buy" {
			text = signsText(ss, mask)
		}
		cio.order = campaign.Order{ID: ev.ID, Account: ev.Account, Symbol: ev.Symbol, Side: ev.Side, Time: ev.Time,
			Qty: ev.Quantity, Value: value, Market: !ev.HasPrice, Addr: rq.addr, Device: ev.Device, Anonymous: anonymous,
			ForeignAddr: foreignAddr, ForeignDevice: foreignDevice, Ins: &cio.ins, Takeover: signs, Intruder: signs && intruder(ss), Signs: text, Liquidated: ss.Has(Liquidation), FirstTime: ss.Has(FirstTimeSymbol),
			FirstMargin: ss.Has(FirstMarginUse), Stopped: d.Action >= event.ActionHold, Score: d.Score,
			AccountOpened: p.Opened}
		if ev.Side == "sell" {
			if pos := p.Position(ev.Symbol); pos != nil {
				cio.order.PositionSince, cio.order.PositionQty = pos.Since, pos.Qty
				cio.order.PositionLastBuy, cio.order.PositionBuyDays = pos.LastBuy, int(pos.BuyDays)
			}
		} else {
			symbol = ev.Symbol
		}
		cio.recordOrder = true
	}
	newPayee := ev.Type == event.TypeWithdrawal && (ss.Has(NewWithdrawalDestination) || ss.Has(DestinationShared))
	// Requests the engine itself found suspicious link accounts; ordinary VPN users do not.
	if signs && d.Action >= event.ActionReview || newPayee {
		cio := rq.io()
		cio.access = campaign.Access{ID: ev.ID, Account: ev.Account, Time: ev.Time, Addr: rq.addr, Anonymous: anonymous,
			ForeignAddr: foreignAddr, ForeignDevice: foreignDevice, Device: ev.Device, Symbol: symbol, Signs: text}
		if newPayee {
			cio.access.Destination = ev.Destination
		}
		cio.recordAccess = true
	}
}

// intruder reports whether a request's signs say that someone else is at the keyboard rather than the
// customer somewhere new: the network and the client both new to the account (a customer's new phone
// comes on a network the account knows; a trip abroad on the device it knows), the session moving to
// another network or client mid-way, infrastructure on the watchlist, or a login among a
// credential-stuffing wave. (A household's shared device, a hotel's shared address or a VPN's
// impossible travel alone are customers' habits.)
func intruder(ss *Signals) bool {
	if ss.Has(StuffingWave) || ss.Has(WatchedInfrastructure) {
		return true
	}
	if ss.Strength[SessionNetworkChanged] >= 0.9 || ss.Has(SessionTLSChanged) || ss.Has(SessionDeviceChanged) {
		return true
	}
	place := ss.Has(NewASN) || ss.Has(NewCountry) || ss.Has(VPNASN) || ss.Has(ImpossibleTravel) || ss.Has(AddressShared)
	client := ss.Has(NewDevice) || ss.Strength[NoDeviceID] >= 0.9 && ss.Inherited&(1<<NoDeviceID) == 0 ||
		ss.Has(UATLSMismatch) || ss.Has(NewTLS) && ss.Has(NewUserAgent) || ss.Has(DeviceShared)
	return place && client
}

// signsText names the takeover signs raised, the first three in signal order.
func signsText(ss *Signals, mask uint64) string {
	var b strings.Builder
	n := 0
	for bits := mask & takeoverSigns; bits != 0 && n < 3; bits &= bits - 1 {
		if n > 0 {
			b.WriteByte('+')
		}
		b.WriteString(Signal(trailingZeros(bits)).String())
		n++
	}
	return b.String()
}
