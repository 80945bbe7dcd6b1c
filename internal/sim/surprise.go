package sim

import (
	"math"
)

// surpriseDef is a legitimate behaviour that looks like a takeover, drawn per account and day.
type surpriseDef struct {
	name     string
	rate     float64 // per account-month
	eligible func(a *account, t int64) bool
	run      func(t int64, a *account)
	anyone   bool // every customer is eligible
}

// surpriseEntry returns the counter of a surprise.
func (g *gen) surpriseEntry(name string) *SurpriseCount {
	s := g.surp[name]
	if s == nil {
		s = &SurpriseCount{}
		g.surp[name] = s
	}
	return s
}

func (g *gen) surpriseOpportunity(name string, n int64) {
	s := g.surp[name]
	if s == nil {
		s = &SurpriseCount{}
		g.surp[name] = s
	}
	s.Opportunities += n
}

func (g *gen) surpriseCount(name string) {
	s := g.surp[name]
	if s == nil {
		s = &SurpriseCount{}
		g.surp[name] = s
	}
	s.Count++
	g.count("surprise." + name)
}

func (g *gen) surpriseDefs() []surpriseDef {
	sp := g.sc.Surprises
	customer := func(a *account, t int64) bool { return a.role == roleCustomer }
	defs := []surpriseDef{
		{"travel_abroad", sp.TravelAbroad, func(a *account, t int64) bool {
			return a.role == roleCustomer && (a.trip == nil || a.trip.to <= t)
		}, g.travel, false},
		{"new_device", sp.NewDevice, customer, g.newDeviceSurprise, true},
		{"liquidation_withdrawal", sp.Liquidation, func(a *account, t int64) bool {
			return a.role == roleCustomer && len(a.pos) > 0
		}, g.liquidate, false},
		{"first_margin", sp.FirstMargin, func(a *account, t int64) bool {
			return a.role == roleCustomer && a.margin && !a.marginUsed && a.cash >= 300_000
		}, g.firstMargin, false},
		{"small_cap_speculation", sp.SmallCap, func(a *account, t int64) bool {
			return a.role == roleCustomer && !a.smallCaps && a.cash >= 150_000
		}, g.smallCapBuy, false},
		{"forgotten_password", sp.ForgottenPassword, customer, g.forgottenPassword, true},
		{"email_change", sp.EmailChange, customer, func(t int64, a *account) { g.profileSurprise(t, a, "email", "") }, true},
		{"notifications_off", sp.NotificationsOff, func(a *account, t int64) bool { return a.role == roleCustomer && a.notif },
			func(t int64, a *account) { a.notif = false; g.profileSurprise(t, a, "notifications", "off") }, false},
		{"bank_account_change", sp.BankChange, customer, g.bankChange, true},
		{"passkey_enrolment", sp.PasskeyEnrolment, func(a *account, t int64) bool { return a.role == roleCustomer && a.mfa != "passkey" },
			func(t int64, a *account) { a.mfa = "passkey"; g.profileSurprise(t, a, "mfa", "passkey") }, false},
		{"withdrawal", sp.Withdrawal, func(a *account, t int64) bool { return a.role == roleCustomer && a.cash >= 30_000 },
			func(t int64, a *account) {
				amt := math.Round(a.cash*g.r.uniform(0.1, 0.6)/1000) * 1000
				dest := a.banks[len(a.banks)-1]
				g.forced(t, a, g.chooseDevice(a, t), func(s *sref) []act {
					return []act{{sec(g.r, 30, 300), func(t int64) { g.withdraw(t, s.s, amt, dest) }}}
				})
			}, false},
	}
	// Surprises that only varied runs or scenarios that set them have: their absence leaves the others'
	// draws as they were.
	if sp.PortfolioSwitch > 0 {
		defs = append(defs, surpriseDef{"portfolio_switch", sp.PortfolioSwitch, func(a *account, t int64) bool {
			return a.role == roleCustomer && len(a.pos) > 0
		}, g.portfolioSwitch, false})
	}
	if sp.DomesticTravel > 0 {
		defs = append(defs, surpriseDef{"domestic_travel", sp.DomesticTravel, func(a *account, t int64) bool {
			return a.role == roleCustomer && (a.trip == nil || a.trip.to <= t)
		}, g.domesticTravel, false})
	}
	return defs
}

// planSurprises draws the day's surprises: each eligible account has rate/30 chance of each.
func (g *gen) planSurprises(now int64, day int64) {
	r := g.r
	n := len(g.accts)
	defs := g.surpriseDefs()
	// Count the eligible accounts of every surprise in one pass.
	elig := make([]int64, len(defs))
	customers := int64(0)
	for _, a := range g.accts {
		if a.role != roleCustomer {
			continue
		}
		customers++
		for j := range defs {
			if !defs[j].anyone && defs[j].eligible(a, now) {
				elig[j]++
			}
		}
	}
	for j, d := range defs {
		if d.anyone {
			elig[j] = customers
		}
	}
	for j, d := range defs {
		p := d.rate / 30
		g.surpriseOpportunity(d.name, elig[j])
		g.surp[d.name].Unit = "account_day"
		g.surp[d.name].Rate = d.rate
		if p <= 0 {
			continue
		}
		for i := r.geometric(p); i < n; i += 1 + r.geometric(p) {
			a := g.accts[i]
			if !d.eligible(a, now) {
				continue
			}
			t := g.sessionTime(a, day)
			if t < now {
				t = now + r.int64n(dayStart(day+1)-now)
			}
			g.surpriseCount(d.name)
			run := d.run
			g.at(t, func(t int64) { run(t, a) })
		}
	}
}

// sref lets the steps of a session refer to the session before it exists.
type sref struct{ s *session }

// forced logs the customer in for a surprise and runs the steps that build returns inside the session.
func (g *gen) forced(t int64, a *account, dev *device, build func(s *sref) []act) *session {
	ref := &sref{}
	ref.s = g.loginSession(t, a, dev, build(ref), false)
	return ref.s
}

// travel: a trip abroad; the first login from abroad happens today.
func (g *gen) travel(t int64, a *account) {
	r := g.r
	countries := []string{"KR", "TW", "US", "TH", "SG", "HK", "VN", "PH", "FR", "DE", "GB", "AU", "CN"}
	weights := []float64{18, 14, 14, 8, 6, 6, 6, 4, 5, 4, 5, 5, 5}
	cc := countries[r.pick(weights)]
	days := int64(r.between(3, 14))
	a.trip = &trip{from: t - msHour, to: t + days*msDay, country: cc, rng: g.nets.rangeOf(r, kindForeignISP, cc)}
	dev := a.devices[0]
	if a.hasApp() && r.chance(0.6) {
		dev = a.deviceFor(true)
	}
	g.forced(t, a, dev, g.tradingActsMaybe)
}

// tradingActsMaybe gives a surprise session the customer's ordinary trading half the time.
func (g *gen) tradingActsMaybe(s *sref) []act {
	if !g.r.chance(0.5) {
		return []act{{sec(g.r, 20, 200), func(int64) {}}}
	}
	return []act{{sec(g.r, 20, 200), func(t int64) { g.tradeOnce(t, s.s) }}}
}

// newDeviceSurprise: a new phone (app reinstalled: a new install id) or a new PC (a browser the firm
// has never seen); some switch platform or browser.
func (g *gen) newDeviceSurprise(t int64, a *account) {
	r := g.r
	var nd *device
	if a.hasApp() && r.chance(0.6) {
		old := a.deviceFor(true)
		br := old.br
		if r.chance(0.2) {
			br = pickPhone(r, true)
		}
		nd = g.newDevice(r, br)
		nd.lag = 0
		g.replaceDevice(a, old, nd)
		g.count("new_device.phone")
	} else {
		old := a.browserDevice()
		br := pickDesktop(r, a.kind == kElderly)
		if old != nil && r.chance(0.7) {
			br = old.br
		}
		nd = g.newDevice(r, br)
		nd.lag = 0
		nd.id = "" // not issued until the first login
		if old != nil {
			g.replaceDevice(a, old, nd)
		} else {
			a.devices = append(a.devices, nd)
			a.indexDevices()
		}
		g.count("new_device.pc")
	}
	g.forced(t, a, nd, g.tradingActsMaybe)
}

func (g *gen) replaceDevice(a *account, old, nd *device) {
	defer a.indexDevices()
	for i, d := range a.devices {
		if d == old {
			a.devices[i] = nd
			return
		}
	}
	a.devices = append(a.devices, nd)
}

// liquidate: the customer sells everything (funds and NISA included) and two to four days later
// withdraws the money to the long-used bank account.
func (g *gen) liquidate(t int64, a *account) {
	r := g.r
	g.forced(t, a, g.chooseDevice(a, t), func(s *sref) []act {
		var steps []act
		for _, p := range a.pos {
			p := p
			steps = append(steps, act{sec(r, 15, 120), func(t int64) {
				if p.avail > 0 {
					g.placeOrder(t, s.s, a, p.in, false, p.avail, 0, p.typ, s.s.channel)
				}
			}})
		}
		return steps
	})
	later := t + int64(r.between(2, 4))*msDay + sec(r, -3600, 3600)
	dest := a.bank
	g.at(later, func(t int64) {
		amt := math.Floor(math.Max(a.cash, 0)*r.uniform(0.9, 1)/1000) * 1000
		if amt <= 0 {
			return
		}
		g.count("liquidation_withdrawal.withdrawn")
		g.forced(t, a, g.chooseDevice(a, t), func(s *sref) []act {
			return []act{{sec(r, 30, 300), func(t int64) { g.withdraw(t, s.s, amt, dest) }}}
		})
	})
}

// firstMargin: a margin-enabled customer's first margin buy.
func (g *gen) firstMargin(t int64, a *account) {
	r := g.r
	in := g.primes[r.intn(len(g.primes))]
	if r.chance(0.3) {
		in = g.smalls[r.intn(len(g.smalls))]
	}
	a.marginUsed = true
	value := r.uniform(3e5, 2.5e6)
	g.forced(t, a, g.chooseDevice(a, t), func(s *sref) []act {
		return []act{{sec(r, 30, 300), func(t int64) {
			qty := int64(value/in.price/float64(in.lot)+1) * in.lot
			g.placeOrder(t, s.s, a, in, true, qty, 0, acMargin, s.s.channel)
		}}}
	})
}

// smallCapBuy: a customer who never trades small caps buys a thin, cheap one.
func (g *gen) smallCapBuy(t int64, a *account) {
	r := g.r
	in := g.smalls[r.intn(len(g.smalls))]
	if r.chance(0.6) && len(g.cheapSmalls) > 0 {
		in = g.cheapSmalls[r.intn(len(g.cheapSmalls))]
	}
	a.smallCaps = true
	value := math.Min(r.uniform(1e5, 8e5), a.cash*0.8)
	g.forced(t, a, g.chooseDevice(a, t), func(s *sref) []act {
		return []act{{sec(r, 30, 400), func(t int64) {
			qty := int64(value/in.price/float64(in.lot)+1) * in.lot
			g.placeOrder(t, s.s, a, in, true, qty, 0, acCash, s.s.channel)
		}}}
	})
}

// forgottenPassword: failed logins (the account locks after five), a reset, then a good login.
func (g *gen) forgottenPassword(t int64, a *account) {
	r := g.r
	dev := g.chooseDevice(a, t)
	s := g.newSession(t, a, dev)
	k := r.between(2, 7)
	tt := t
	for i := 0; i < k; i++ {
		failure := "bad_password"
		if i >= 5 {
			failure = "locked"
		}
		f := failure
		g.at(tt, func(t int64) { g.emitLogin(t, s, false, f, "password") })
		tt += sec(r, 8, 90)
	}
	tt += sec(r, 120, 1800)
	g.at(tt, func(t int64) {
		// The reset runs through the firm's identity check, outside any session.
		rs := *s
		rs.id = ""
		g.emitProfile(t, &rs, "password", "reset")
	})
	tt += sec(r, 60, 600)
	g.at(tt, func(t int64) { g.forced(t, a, dev, g.tradingActsMaybe) })
}

// profileSurprise: a session with one profile change.
func (g *gen) profileSurprise(t int64, a *account, field, value string) {
	r := g.r
	g.forced(t, a, g.chooseDevice(a, t), func(s *sref) []act {
		return []act{{sec(r, 20, 300), func(t int64) { g.emitProfile(t, s.s, field, value) }}}
	})
}

// bankChange: a new withdrawal bank account, often used soon after.
func (g *gen) bankChange(t int64, a *account) {
	r := g.r
	dest := "bk-" + r.hex(10)
	g.forced(t, a, g.chooseDevice(a, t), func(s *sref) []act {
		steps := []act{{sec(r, 20, 300), func(t int64) {
			g.emitProfile(t, s.s, "bank_account", "added")
			a.banks = append(a.banks, dest)
		}}}
		if r.chance(0.5) && a.cash > 50_000 {
			amt := math.Round(a.cash*r.uniform(0.1, 0.7)/1000) * 1000
			steps = append(steps, act{sec(r, 60, 600), func(t int64) { g.withdraw(t, s.s, amt, dest) }})
			g.count("bank_account_change.withdrawn_same_session")
		}
		return steps
	})
}

// withdraw writes a withdrawal request and books it.
func (g *gen) withdraw(t int64, s *session, amount float64, dest string) {
	if amount <= 0 {
		return
	}
	g.emitWithdrawal(t, s, amount, dest)
	if s.tk == nil && amount <= s.a.cash {
		s.a.cash -= amount
	}
}

// domesticTravel: a trip in Japan; the PC or phone logs in over the hotel's Wi-Fi (another Japanese
// ISP, or a hosting network that runs the hotel's access).
func (g *gen) domesticTravel(t int64, a *account) {
	r := g.rx
	k := kindJPFixed
	if r.chance(0.3) {
		k = kindHosting
	}
	days := int64(r.between(1, 5))
	a.trip = &trip{from: t - msHour, to: t + days*msDay, country: "JP", rng: g.nets.rangeOf(r, k, "JP")}
	dev := a.devices[0]
	if a.hasApp() && r.chance(0.5) {
		dev = a.deviceFor(true)
	}
	g.forced(t, a, dev, g.tradingActsMaybe)
}

// portfolioSwitch: the customer sells most holdings (funds and NISA included) and, minutes later, buys
// one to three other instruments with the proceeds: a takeover's liquidation followed by buys.
func (g *gen) portfolioSwitch(t int64, a *account) {
	r := g.rx
	g.forced(t, a, g.chooseDevice(a, t), func(s *sref) []act {
		var steps []act
		for _, p := range a.pos {
			p := p
			if r.chance(0.2) {
				continue
			}
			steps = append(steps, act{sec(r, 15, 120), func(t int64) {
				if p.avail > 0 {
					g.placeOrder(t, s.s, a, p.in, false, p.avail, 0, p.typ, s.s.channel)
				}
			}})
		}
		for i, n := 0, r.between(1, 3); i < n; i++ {
			in := g.primes[r.intn(len(g.primes))]
			switch {
			case r.chance(0.35):
				in = g.funds[r.intn(len(g.funds))]
			case r.chance(0.15):
				in = g.smalls[r.intn(len(g.smalls))]
			}
			share := 1 / float64(n-i)
			steps = append(steps, act{sec(r, 60, 600), func(t int64) {
				if v := math.Max(a.cash-5000, 0) * share * 0.95; v > 20_000 {
					g.buyValue(t, s.s, in, v, acCash)
				}
			}})
		}
		return steps
	})
}
