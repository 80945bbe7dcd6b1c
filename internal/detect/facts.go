package detect

import (
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/market"
	"github.com/brokerguard/brokerguard/internal/profile"
	"github.com/brokerguard/brokerguard/internal/rules"
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

func (f *facts) EventVars() *rules.EventVars {
	ev := f.ev
	price := 0.0
	if ev.HasPrice {
		price = ev.Price
	}
	return &rules.EventVars{
		ID: ev.ID, Type: ev.Type.String(), Account: ev.Account, Time: ev.Time,
		IP: ev.IP, Device: ev.Device, Channel: ev.Channel, Method: ev.Method, Result: ev.Result,
		Field: ev.Field, Value: ev.Value, Symbol: ev.Symbol, Side: ev.Side,
		Quantity: ev.Quantity, Price: price, OrderValue: f.orderValue, AccountType: ev.AccountType,
		Amount: ev.Amount, Destination: ev.Destination, Country: f.rq.country,
		ASN: int64(f.rq.info.ASN), Hosting: f.rq.info.Hosting, VPN: f.rq.info.VPN,
	}
}

func (f *facts) ProfileVars() *rules.ProfileVars {
	p := f.p
	t := profile.Unix(f.ev.Time)
	pv := &rules.ProfileVars{MFA: p.MFA, Notifications: p.Notifications, MarginEnabled: p.Margin, MarginUsed: p.MarginUsed,
		AccountAgeDays: -1, Logins: int64(p.Logins), Orders: int64(p.Orders), Cash: p.Cash,
		KnownDevices: int64(len(p.Devices)), DaysSinceActivity: -1, Locked: p.Locked}
	if p.Opened > 0 && t >= p.Opened {
		pv.AccountAgeDays = int64((t - p.Opened) / day)
	}
	if p.LastActivity > 0 && t >= p.LastActivity {
		pv.DaysSinceActivity = int64((t - p.LastActivity) / day)
	}
	for _, h := range p.Holdings {
		pv.HoldingsValue += float64(h.Qty) * h.Cost
	}
	return pv
}

func (f *facts) InstrumentVars() *rules.InstrumentVars {
	in := f.ins
	iv := &rules.InstrumentVars{Symbol: f.ev.Symbol}
	if !f.haveIns {
		return iv
	}
	iv.Market, iv.Price, iv.MarketCap, iv.ADVValue = in.Market, in.RefPrice(), in.MarketCap(), in.ADValue()
	if in.ADV > 0 && in.Day == market.DayNumber(f.ev.Time) {
		iv.DayVolumeRatio = float64(in.DayVolume) / in.ADV
	}
	if in.PrevClose > 0 && in.Price > 0 {
		iv.DayChange = in.Price/in.PrevClose - 1
	}
	return iv
}

func (f *facts) SignalVars() map[string]float64 { return f.ss.Map() }

func (f *facts) ScoreVar() int64 { return int64(f.score) }
