package detect

import (
	"math"
	"strings"

	"github.com/brokerguard/brokerguard/internal/campaign"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/market"
	"github.com/brokerguard/brokerguard/internal/profile"
)

// watchSignals raises the signals that come from the campaign layer: the request's symbol,
// infrastructure or account on the watchlist, and the market ramp of a thin symbol being bought.
func (e *Engine) watchSignals(ev *event.Event, t uint32, rq *request, ins *market.Instrument, haveIns bool, ss *Signals) {
	if e.campaign == nil {
		return
	}
	if rq.haveInfra {
		ss.Set(WatchedInfrastructure, 1, 0, 0, watchDetail(&rq.infraWatch))
	}
	if rq.haveAcct {
		ss.Set(WatchedAccount, 1, 0, 0, watchDetail(&rq.acctWatch))
	}
	if rq.underWay != "" {
		ss.Set(CampaignUnderWay, 1, float64(rq.underWayAge), 0, rq.underWay)
	}
	if ev.Type != event.TypeOrder || ev.Side != "buy" {
		return
	}
	if rq.haveSym {
		ss.Set(WatchedSymbol, 1, 0, 0, watchDetail(&rq.symWatch))
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
func (e *Engine) tellCampaign(ev *event.Event, p *profile.Profile, t uint32, rq *request, ss *Signals,
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
		rq.ins = *ins
		if signs && ev.Side == "buy" {
			text = signsText(ss, mask)
		}
		rq.order = campaign.Order{ID: ev.ID, Account: ev.Account, Symbol: ev.Symbol, Side: ev.Side, Time: ev.Time,
			Qty: ev.Quantity, Value: value, Market: !ev.HasPrice, Addr: rq.addr, Device: ev.Device, Anonymous: anonymous,
			ForeignAddr: foreignAddr, ForeignDevice: foreignDevice, Ins: &rq.ins, Takeover: signs, Signs: text, Liquidated: ss.Has(Liquidation), FirstTime: ss.Has(FirstTimeSymbol),
			FirstMargin: ss.Has(FirstMarginUse), Stopped: d.Action >= event.ActionHold, Score: d.Score,
			AccountOpened: p.Opened}
		if ev.Side == "sell" {
			if pos := p.Position(ev.Symbol); pos != nil {
				rq.order.PositionSince, rq.order.PositionQty = pos.Since, pos.Qty
				rq.order.PositionLastBuy, rq.order.PositionBuyDays = pos.LastBuy, int(pos.BuyDays)
			}
		} else {
			symbol = ev.Symbol
		}
		rq.recordOrder = true
	}
	newPayee := ev.Type == event.TypeWithdrawal && (ss.Has(NewWithdrawalDestination) || ss.Has(DestinationShared))
	// Requests the engine itself found suspicious link accounts; ordinary VPN users do not.
	if signs && d.Action >= event.ActionReview || newPayee {
		rq.access = campaign.Access{ID: ev.ID, Account: ev.Account, Time: ev.Time, Addr: rq.addr, Anonymous: anonymous,
			ForeignAddr: foreignAddr, ForeignDevice: foreignDevice, Device: ev.Device, Symbol: symbol, Signs: text}
		if newPayee {
			rq.access.Destination = ev.Destination
		}
		rq.recordAccess = true
	}
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
