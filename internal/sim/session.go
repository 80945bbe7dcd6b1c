package sim

import (
	"math"
)

// act is one step of a scripted session: gap after the previous step, then fn.
type act struct {
	gap int64
	fn  func(t int64)
}

// run plays acts one after another, starting at t0.
func (g *gen) run(t0 int64, acts []act) {
	if len(acts) == 0 {
		return
	}
	i := 0
	var step func(t int64)
	step = func(t int64) {
		acts[i].fn(t)
		i++
		if i < len(acts) {
			g.at(t+acts[i].gap, step)
		}
	}
	g.at(t0+acts[0].gap, step)
}

func sec(r *rng, a, b float64) int64 { return int64(r.uniform(a, b) * 1000) }

// poolAddr returns an address from a mobile carrier's carrier-grade NAT pool: many subscribers share it.
func (g *gen) poolAddr(rng int) addr {
	if g.pool == nil {
		g.pool = make([][]uint32, len(ipTable))
	}
	p := g.pool[rng]
	if p == nil {
		n := 300
		p = make([]uint32, n)
		for i := range p {
			p[i] = g.nets.draw(g.rp, rng).ip
		}
		g.pool[rng] = p
	}
	return addr{ip: p[g.r.intn(len(p))], rng: int16(rng)}
}

// sessionTime draws a login time on day from the account's habits.
func (g *gen) sessionTime(a *account, day int64) int64 {
	r := g.r
	var h float64
	if r.chance(0.65) {
		h = a.peakHour + 1.3*r.norm()
	} else {
		h = float64(r.pick(kindHabits[a.kind].hours)) + r.float()
	}
	for h < 0 {
		h += 24
	}
	for h >= 24 {
		h -= 24
	}
	if a.kind == kDayTrader && g.isTrading(day) && r.chance(0.7) {
		h = 8.5 + r.float()*6.4
	}
	return dayStart(day) + int64(h*float64(msHour))
}

// planDay queues the day's routine sessions, surprises and phone orders.
func (g *gen) planDay(now int64, day int64) {
	r := g.r
	trading := g.isTrading(day)
	for _, a := range g.accts {
		var n int
		if (a.trip != nil && a.trip.to > now) || a.role == roleBeneficiary {
			lambda := a.rate
			if !trading {
				lambda *= kindHabits[a.kind].weekend
			}
			if a.trip != nil && a.trip.to > now {
				lambda *= 0.6
			}
			if a.role == roleBeneficiary {
				lambda *= 0.5
			}
			n = r.poisson(lambda)
		} else if trading {
			n = r.poissonExp(a.expRate)
		} else {
			n = r.poissonExp(a.expWeekend)
		}
		if n > 8 {
			n = 8
		}
		for i := 0; i < n; i++ {
			t := g.sessionTime(a, day)
			if t < now {
				continue
			}
			a := a
			g.at(t, func(t int64) { g.routine(t, a, nil) })
		}
		if trading && a.phone && r.chance(0.04) {
			t := dayStart(day) + 9*msHour + 20*msMinute + r.int64n(5*msHour)
			if t >= now {
				a := a
				g.at(t, func(t int64) { g.phoneOrder(t, a) })
			}
		}
	}
	g.planSurprises(now, day)
	if len(g.aggAccts) > 0 {
		g.planAggregators(now, day)
	}
}

// pickNetwork chooses the address a session of a on dev starts from.
func (g *gen) pickNetwork(t int64, a *account, dev *device, vpnAllowed bool) (addr, bool) {
	r := g.r
	mobile := dev.br.info().mobile
	if dev == a.api {
		return a.apiAddr, false
	}
	if tr := a.trip; tr != nil && t >= tr.from && t < tr.to {
		if mobile && r.chance(0.4) {
			return g.poolAddr(a.carrier), true // roaming on the home carrier
		}
		return g.nets.draw(r, tr.rng), mobile
	}
	if vpnAllowed && a.vpn {
		g.sVPN.Opportunities++
		if r.chance(g.sc.Surprises.VPNLogins) {
			g.sVPN.Count++
			return g.nets.draw(r, a.vpnRange), false
		}
	}
	if a.office != nil && !mobile && g.isTrading(jstDay(t)) {
		if o := timeOfDay(t); o >= 8*msHour+30*msMinute && o < 19*msHour && r.chance(0.7) {
			g.count("corporate_egress.login")
			return *a.office, false // the office PC, through the employer's cloud proxy
		}
	}
	if mobile {
		if r.chance(0.62) {
			return g.poolAddr(a.carrier), true
		}
		return a.home, true
	}
	if r.chance(0.04) {
		return g.poolAddr(a.carrier), false // tethering
	}
	return a.home, false
}

// newSession prepares a customer's session on dev (not yet logged in).
func (g *gen) newSession(t int64, a *account, dev *device) *session {
	ip, mobile := g.pickNetwork(t, a, dev, true)
	return &session{a: a, id: g.r.id('s', 24), dev: dev, devID: dev.id, ip: ip, ua: g.userAgent(dev, jstDay(t)),
		tls: dev.br.info().ja4, lang: acceptLanguage(a.lang, dev.br), channel: dev.br.channel(), mobile: mobile}
}

// chooseDevice picks the device for a customer's session.
func (g *gen) chooseDevice(a *account, t int64) *device {
	r := g.r
	if len(a.devices) == 1 {
		return a.devices[0]
	}
	appShare := 0.55
	switch a.kind {
	case kDayTrader:
		if a.api != nil && g.inSession(t) && r.chance(0.7) {
			return a.api
		}
		if g.inSession(t) {
			appShare = 0.25
		}
	case kElderly:
		appShare = 0.2
	case kSpeculator:
		appShare = 0.7
	}
	if a.app != nil && r.chance(appShare) {
		return a.app
	}
	if a.web == nil {
		return a.devices[0]
	}
	if len(a.devices) > 2 && r.chance(0.3) {
		for _, d := range a.devices {
			if d != a.web && !d.br.info().app {
				return d // a second browser, e.g. the phone's
			}
		}
	}
	return a.web
}

func (g *gen) loginMethod(a *account, dev *device) string {
	r := g.r
	if dev == a.api {
		return "password" // the program logs in with the customer's API credentials
	}
	if dev.br.info().app {
		if r.chance(0.35) {
			return "session_refresh"
		}
		return "app_biometric"
	}
	switch a.mfa {
	case "passkey":
		if r.chance(0.85) {
			return "passkey"
		}
		return "password_otp"
	case "none":
		return "password"
	}
	return "password_otp"
}

// routine runs one ordinary session of a customer; extra steps (a surprise) run inside it.
func (g *gen) routine(t int64, a *account, extra []act) {
	g.loginSession(t, a, g.chooseDevice(a, t), extra, true)
}

// loginSession logs a in on dev and plays the session: optional typo, login, the extra steps or the
// routine trading, and sometimes a logout.
func (g *gen) loginSession(t int64, a *account, dev *device, extra []act, trade bool) *session {
	r := g.r
	if !dev.br.info().app && dev != a.api {
		g.sCookies.Opportunities++
		if dev.id != "" && r.chance(g.sc.Surprises.ClearedCookies) {
			dev.id = "" // cookies cleared or a private window: the firm sees a browser it does not know
			g.sCookies.Count++
		}
		// Safari drops a site's storage after seven days without a visit.
		if b := dev.br; (b == brSafariMac || b == brSafariIOS) && dev.id != "" && dev.used > 0 && t-dev.used > 7*msDay {
			dev.id = ""
			g.count("device_cookie_expired")
		}
	}
	dev.used = t
	s := g.newSession(t, a, dev)
	acts := make([]act, 0, 8)
	if !dev.br.info().app && dev != a.api && a.mfa != "passkey" && r.chance(0.025) {
		acts = append(acts, act{0, func(t int64) { g.emitLogin(t, s, false, "bad_password", "password") }})
		acts = append(acts, act{sec(r, 5, 40), func(t int64) { g.emitLogin(t, s, true, "", g.loginMethod(a, dev)) }})
	} else {
		acts = append(acts, act{0, func(t int64) { g.emitLogin(t, s, true, "", g.loginMethod(a, dev)) }})
	}
	acts = append(acts, extra...)
	if trade && len(extra) == 0 {
		acts = append(acts, g.tradingActs(t, s)...)
	}
	if r.chance(0.5) {
		acts = append(acts, act{sec(r, 20, 400), func(t int64) { g.emitLogout(t, s) }})
	}
	if len(acts) > 1 {
		sc, rate := g.sIPPhone, g.sc.Surprises.SessionIPChange
		if !s.mobile {
			sc, rate = g.sIPPC, g.sc.Surprises.SessionIPChangePC
		}
		sc.Opportunities++
		if r.chance(rate) {
			sc.Count++
			i := 1 + r.intn(len(acts)-1)
			fn := acts[i].fn
			acts[i].fn = func(t int64) {
				switch {
				case s.ip.ip != a.home.ip:
					s.ip = a.home // back home from the carrier or the VPN
				case !s.mobile && a.vpn:
					s.ip = g.nets.draw(g.r, a.vpnRange) // VPN switched on
				default:
					s.ip = g.poolAddr(a.carrier) // Wi-Fi to mobile, or tethering
				}
				fn(t)
			}
		}
	}
	g.run(t, acts)
	return s
}

// tradingActs plans the orders of a routine session.
func (g *gen) tradingActs(t int64, s *session) []act {
	r := g.r
	a := s.a
	h := &kindHabits[a.kind]
	if !r.chance(h.orderProb) {
		return nil
	}
	n := 1 + r.poisson(h.ordersMean-1)
	var acts []act
	for i := 0; i < n; i++ {
		gap := sec(r, 10, 200)
		if i == 0 {
			gap = sec(r, 20, 240)
		}
		if a.kind == kDayTrader {
			gap = sec(r, 30, 1500)
		}
		acts = append(acts, act{gap, func(t int64) { g.tradeOnce(t, s) }})
	}
	return acts
}

// orderPrice returns a limit price near the market (0 = market order).
func (g *gen) orderPrice(a *account, in *instrument, buy bool) float64 {
	r := g.r
	if in.fund {
		return 0
	}
	pMarket := 0.45
	switch a.kind {
	case kElderly:
		pMarket = 0.3
	case kDayTrader:
		pMarket = 0.6
	}
	if r.chance(pMarket) {
		return 0
	}
	k := float64(r.pick([]float64{0.35, 0.25, 0.2, 0.1, 0.1}))
	tick := tickSize(in.price)
	if in.price > 1000 {
		k *= math.Max(1, in.price*0.002/tick)
	}
	if buy {
		return in.round(in.price - k*tick)
	}
	return in.round(in.price + k*tick)
}

// buyValue places a buy of about value yen of in.
func (g *gen) buyValue(t int64, s *session, in *instrument, value float64, typ uint8) *order {
	a := s.a
	if in.fund {
		return g.placeOrder(t, s, a, in, true, int64(value/in.price), 0, typ, s.channel)
	}
	limit := g.orderPrice(a, in, true)
	ref := in.price
	qty := int64(value/ref/float64(in.lot)) * in.lot
	if qty <= 0 {
		qty = in.lot
	}
	o := g.placeOrder(t, s, a, in, true, qty, limit, typ, s.channel)
	g.maybeCancel(o)
	return o
}

// maybeCancel has the customer cancel some limit orders that wait.
func (g *gen) maybeCancel(o *order) {
	if o == nil || o.limit == 0 || !g.r.chance(0.12) {
		return
	}
	g.at(o.placed+sec(g.r, 60, 1800), func(t int64) { g.cancel(t, o) })
}

// sellPart sells a share of one of the account's holdings.
func (g *gen) sellPart(t int64, s *session, frac float64, filter func(*position) bool) *order {
	a := s.a
	var cands []*position
	for _, p := range a.pos {
		if g.vary && a.role == roleBeneficiary && p.in.ramp != nil {
			continue // a beneficiary keeps the target for the ramp
		}
		if p.avail > 0 && (filter == nil || filter(p)) {
			cands = append(cands, p)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	p := cands[g.r.intn(len(cands))]
	qty := int64(math.Ceil(float64(p.avail) * frac))
	if !p.in.fund {
		qty = (qty + p.in.lot - 1) / p.in.lot * p.in.lot
	}
	if qty > p.avail {
		qty = p.avail
	}
	o := g.placeOrder(t, s, a, p.in, false, qty, g.orderPrice(a, p.in, false), p.typ, s.channel)
	g.maybeCancel(o)
	return o
}

// tradeOnce places one order typical of the customer.
func (g *gen) tradeOnce(t int64, s *session) {
	r := g.r
	a := s.a
	budget := func(lo, hi float64) float64 { return math.Max(a.cash*r.uniform(lo, hi), 50_000) }
	prime := func() *instrument { return g.primes[r.intn(len(g.primes))] }
	small := func() *instrument { return g.smalls[r.intn(len(g.smalls))] }
	fund := func() *instrument { return g.funds[r.intn(len(g.funds))] }
	held := func() *instrument {
		for _, p := range a.pos {
			if p.qty > 0 && !p.in.fund && r.chance(0.5) {
				return p.in
			}
		}
		return nil
	}
	// On a ramp day real customers sell what they held into the rise, and some chase it.
	for _, in := range g.ramping {
		if t < in.ramp.startT || !g.inSession(t) {
			continue
		}
		if p := a.position(in, acCash); p != nil && p.avail > 0 && r.chance(0.6) {
			if g.placeOrder(t, s, a, in, false, p.avail, g.orderPrice(a, in, false), acCash, s.channel) != nil {
				g.count("legit.sell_into_ramp")
			}
			return
		}
		if (a.kind == kSpeculator || a.kind == kDayTrader || a.smallCaps) && r.chance(0.006) {
			if g.buyValue(t, s, in, math.Min(budget(0.1, 0.4), 1.5e6), acCash) != nil {
				g.count("legit.chase_ramp")
			}
			return
		}
	}
	sellProb := 0.4
	if len(a.pos) == 0 {
		sellProb = 0
	}
	switch a.kind {
	case kDormant:
		if r.chance(0.6) {
			g.buyValue(t, s, fund(), r.uniform(10_000, 100_000), acNISA)
		} else {
			g.sellPart(t, s, r.uniform(0.2, 1), nil)
		}
	case kDayTrader:
		in := prime()
		if a.smallCaps && r.chance(0.3) {
			in = small()
		}
		typ := acCash
		value := budget(0.2, 0.8)
		if a.margin && r.chance(0.8) {
			typ = acMargin
			value = math.Min(a.marginRoom()*r.uniform(0.1, 0.4), 2e7)
		}
		if r.chance(sellProb) {
			g.sellPart(t, s, 1, func(p *position) bool { return !p.in.fund })
			return
		}
		o := g.buyValue(t, s, in, value, typ)
		if o != nil && r.chance(0.8) {
			// Close the position later the same day.
			g.at(t+sec(r, 60, 3600), func(t int64) {
				if p := a.position(in, o.typ); p != nil && p.avail > 0 {
					g.placeOrder(t, s, a, in, false, p.avail, g.orderPrice(a, in, false), o.typ, s.channel)
				}
			})
		}
	default:
		if r.chance(sellProb) {
			g.sellPart(t, s, []float64{1, 0.5, 0.3}[r.intn(3)], nil)
			return
		}
		switch {
		case a.kind == kSpeculator || (a.smallCaps && r.chance(0.35)):
			in := small()
			if r.chance(0.5) && len(g.cheapSmalls) > 0 {
				in = g.cheapSmalls[r.intn(len(g.cheapSmalls))]
			}
			if h := held(); h != nil && h.small && r.chance(0.3) {
				in = h
			}
			typ := acCash
			if a.margin && a.marginUsed && r.chance(0.3) {
				typ = acMargin
			}
			g.buyValue(t, s, in, budget(0.1, 0.5), typ)
		case r.chance(0.12) && a.kind != kSwing:
			g.buyValue(t, s, fund(), r.uniform(30_000, 500_000), []uint8{acNISA, acCash}[r.intn(2)])
		default:
			in := prime()
			if h := held(); h != nil && r.chance(0.4) {
				in = h
			}
			typ := acCash
			if a.margin && a.marginUsed && r.chance(0.25) {
				typ = acMargin
			}
			g.buyValue(t, s, in, budget(0.05, 0.35), typ)
		}
	}
}

// phoneSession is the context of an order taken by the call centre: no address, device or session.
func phoneSession(a *account) *session {
	return &session{a: a, channel: "phone"}
}

// phoneOrder is an elderly customer's order by telephone.
func (g *gen) phoneOrder(t int64, a *account) {
	r := g.r
	if r.chance(0.5) && len(a.pos) > 0 {
		var cands []*position
		for _, p := range a.pos {
			if p.avail > 0 {
				cands = append(cands, p)
			}
		}
		if len(cands) > 0 {
			p := cands[r.intn(len(cands))]
			g.placeOrderPhone(t, a, p.in, false, p.avail)
			return
		}
	}
	in := g.primes[r.intn(len(g.primes))]
	qty := int64(math.Max(a.cash*r.uniform(0.05, 0.3), 100_000) / in.price / 100 * 100)
	g.placeOrderPhone(t, a, in, true, qty)
}

func (g *gen) placeOrderPhone(t int64, a *account, in *instrument, buy bool, qty int64) {
	o := g.placeOrder(t, nil, a, in, buy, qty, 0, acCash, "phone")
	if o != nil {
		g.count("order.phone")
	}
}
