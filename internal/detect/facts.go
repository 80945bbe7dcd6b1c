package detect

import (
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/market"
	"github.com/brokerguard/brokerguard/internal/profile"
)

// facts is what a rule sees of one decision. It implements rules.Facts; each variable is built only when
// a rule asks for it, under the account's lock.
type facts struct {
	ev         *event.Event
	p          *profile.Profile
	rq         *request
	ss         *Signals
	ins        *market.Instrument
	haveIns    bool
	orderValue float64
	score      int
}

func (f *facts) EventVars() map[string]any {
	ev := f.ev
	price := 0.0
	if ev.HasPrice {
		price = ev.Price
	}
	return map[string]any{
		"id": ev.ID, "type": ev.Type.String(), "account": ev.Account, "time": ev.Time,
		"ip": ev.IP, "device": ev.Device, "channel": ev.Channel, "method": ev.Method, "result": ev.Result,
		"field": ev.Field, "value": ev.Value, "symbol": ev.Symbol, "side": ev.Side,
		"quantity": ev.Quantity, "price": price, "order_value": f.orderValue, "account_type": ev.AccountType,
		"amount": ev.Amount, "destination": ev.Destination, "country": f.rq.country,
		"asn": int64(f.rq.info.ASN), "hosting": f.rq.info.Hosting, "vpn": f.rq.info.VPN,
	}
}

func (f *facts) ProfileVars() map[string]any {
	p := f.p
	t := profile.Unix(f.ev.Time)
	age := int64(-1)
	if p.Opened > 0 && t >= p.Opened {
		age = int64((t - p.Opened) / day)
	}
	idle := int64(-1)
	if p.LastActivity > 0 && t >= p.LastActivity {
		idle = int64((t - p.LastActivity) / day)
	}
	hv := 0.0
	for _, h := range p.Holdings {
		hv += float64(h.Qty) * h.Cost
	}
	return map[string]any{
		"mfa": p.MFA, "notifications": p.Notifications, "margin_enabled": p.Margin, "margin_used": p.MarginUsed,
		"account_age_days": age, "logins": int64(p.Logins), "orders": int64(p.Orders),
		"holdings_value": hv, "cash": p.Cash, "known_devices": int64(len(p.Devices)),
		"days_since_activity": idle, "locked": p.Locked,
	}
}

func (f *facts) InstrumentVars() map[string]any {
	in := f.ins
	m := map[string]any{"symbol": f.ev.Symbol, "market": "", "price": 0.0, "market_cap": 0.0, "adv_value": 0.0,
		"day_volume_ratio": 0.0, "day_change": 0.0}
	if !f.haveIns {
		return m
	}
	m["market"] = in.Market
	m["price"] = in.RefPrice()
	m["market_cap"] = in.MarketCap()
	m["adv_value"] = in.ADValue()
	if in.ADV > 0 && in.Day == market.DayNumber(f.ev.Time) {
		m["day_volume_ratio"] = float64(in.DayVolume) / in.ADV
	}
	if in.PrevClose > 0 && in.Price > 0 {
		m["day_change"] = in.Price/in.PrevClose - 1
	}
	return m
}

func (f *facts) SignalVars() map[string]float64 { return f.ss.Map() }

func (f *facts) ScoreVar() int64 { return int64(f.score) }
