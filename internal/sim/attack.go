package sim

import (
	"math"
	"strconv"
)

// crew is the attacker group behind a campaign or a wave, with its habits.
type crew struct {
	style string
	addrs []addr // careless: a few hosting or foreign addresses shared by all victims
	mule  string // careless: one withdrawal destination for all victims

	// Varied runs: careful crews rent one residential proxy per victim, copy the victim's client and
	// often run another TLS stack.
	varied   bool
	mobile   float64 // share of the proxies on mobile carriers
	uaCopy   float64 // share that send the victim's exact User-Agent
	mismatch float64 // share whose TLS stack does not match the User-Agent
	thiefTLS float64 // share of session thieves on another TLS stack than the victim's
	used     map[uint32]bool
}

// newCrew sets up the infrastructure of a crew.
func (g *gen) newCrew(style string) *crew {
	r := g.ra
	c := &crew{style: style, mule: "bk-" + r.hex(10)}
	if style == StyleCareless {
		n := r.between(1, 3)
		for i := 0; i < n; i++ {
			if r.chance(0.7) {
				cc := []string{"US", "SG", "HK", "NL", "DE", "FR", ""}[r.intn(7)]
				k := kindHosting
				if r.chance(0.3) {
					k = kindVPN
				}
				c.addrs = append(c.addrs, g.nets.drawKind(r, k, cc))
			} else {
				cc := []string{"CN", "CN", "VN", "HK", "TW"}[r.intn(5)]
				c.addrs = append(c.addrs, g.nets.drawKind(r, kindForeignISP, cc))
			}
		}
	}
	return c
}

// residential draws a Japanese home or mobile address of the kind residential proxies sell.
func (g *gen) residential(near *account) addr {
	r := g.ra
	if near != nil && r.chance(0.3) {
		return g.nets.draw(r, int(near.home.rng)) // same ISP range as the victim's home
	}
	if r.chance(0.7) {
		return g.nets.drawKind(r, kindJPFixed, "JP")
	}
	return g.nets.drawKind(r, kindJPMobile, "JP")
}

// address returns the address an attacker of the crew uses against victim.
func (c *crew) address(g *gen, victim *account, i int) addr {
	if c.style == StyleCareless {
		return c.addrs[i%len(c.addrs)]
	}
	if c.varied {
		return g.distinctResidential(c, victim, c.mobile)
	}
	return g.residential(victim)
}

// attackerSession opens the attacker's browser session on a victim: careless crews use their own Chrome with
// a foreign language; careful ones the victim's own browser family in Japanese.
func (g *gen) attackerSession(c *crew, v *account, day int64, ip addr, tk *Takeover) *session {
	r := g.ra
	s := &session{a: v, id: r.id('s', 24), ip: ip, channel: "web", tk: tk}
	var br browser
	lang := "ja"
	if c.style == StyleCareless {
		br = []browser{brChromeWin, brChromeWin, brChromeMac, brEdgeWin}[r.intn(4)]
		lang = []string{"en", "zh", "zh", "ja"}[r.intn(4)]
	} else {
		if d := v.browserDevice(); d != nil {
			br = d.br
		} else if v.deviceFor(true).br == brAppIOS {
			br = brSafariIOS
		} else {
			br = brChromeAndroid
		}
		lang = v.lang
	}
	s.dev = &device{br: br, model: r.intn(100)}
	s.ua = userAgent(br, day, 0, s.dev.model)
	s.tls = br.info().ja4
	s.lang = acceptLanguage(lang, br)
	if c.varied && c.style == StyleCareful && tk.vd != nil {
		g.varyAttackerClient(s, v, day, tk.vd, c.uaCopy, c.mismatch)
	}
	return s
}

// relogin is a later session of the same attacker (same browser, which now has its device id).
func (g *gen) relogin(prev *session, ip addr) *session {
	s := *prev
	s.id = g.ra.id('s', 24)
	s.ip = ip
	if prev.dev != nil {
		s.devID = prev.dev.id
	}
	return &s
}

// planAttacks plans every campaign, wave and standalone takeover; it runs before the snapshots so that
// beneficiaries' accounts are set up.
func (g *gen) planAttacks() {
	used := map[*account]bool{}
	for i := range g.sc.Campaigns {
		c := &g.sc.Campaigns[i]
		if c.Day > len(g.tradingDays) {
			g.count("campaign.beyond_data")
			continue
		}
		g.planCampaign(c, used)
	}
	for i := range g.sc.StuffingWaves {
		w := &g.sc.StuffingWaves[i]
		if w.Day > len(g.tradingDays) {
			g.count("wave.beyond_data")
			continue
		}
		day := g.tradingDays[w.Day-1]
		start := dayStart(day) + int64(w.Start)
		g.planWave(w.ID, "", w.Style, start, int64(w.Hours*float64(msHour)), w.Attempts, w.Sources, w.UnknownShare,
			w.Successes, used, nil)
	}
	g.planStandalone(used)
	for _, a := range g.accts {
		if a.role == roleBeneficiary {
			g.truth.Beneficiaries = append(g.truth.Beneficiaries, a.id)
		}
	}
}

// pickVictim finds an unused customer account that suits the way in.
func (g *gen) pickVictim(kind string, used map[*account]bool) *account {
	r := g.ra
	ok := func(a *account) bool {
		if used[a] || a.role != roleCustomer || a.stockValue() < 300_000 {
			return false
		}
		switch kind {
		case KindPhishingRelay:
			return a.mfa != "passkey"
		case KindCredentialStuffing:
			return a.mfa == "none"
		case KindStolenSession:
			return a.browserDevice() != nil
		}
		return true
	}
	for tries := 0; tries < 2000; tries++ {
		a := g.accts[r.intn(len(g.accts))]
		if ok(a) {
			used[a] = true
			return a
		}
	}
	for _, a := range g.accts {
		if ok(a) {
			used[a] = true
			return a
		}
	}
	return nil
}

func (g *gen) pickKind(m AttackMix) string {
	return []string{KindPhishingRelay, KindStolenSession, KindCredentialStuffing}[g.ra.pick([]float64{m.PhishingRelay, m.StolenSession, m.CredentialStuffing})]
}

// pickTarget chooses the campaign's symbol: a thin standard/growth stock priced 80-400 yen.
func (g *gen) pickTarget(c *CampaignParams) *instrument {
	if c.Symbol != "" {
		if in := g.bySymbol[c.Symbol]; in != nil && !in.fund {
			return in
		}
	}
	r := g.ra
	var cands []*instrument
	for _, in := range g.cheapSmalls {
		if in.ramp == nil && in.adv < 400_000 {
			cands = append(cands, in)
		}
	}
	if len(cands) == 0 {
		for _, in := range g.smalls {
			if in.ramp == nil {
				cands = append(cands, in)
			}
		}
	}
	if len(cands) == 0 {
		return g.smalls[r.intn(len(g.smalls))]
	}
	return cands[r.intn(len(cands))]
}

// adjustMinute moves t out of the lunch break and before the close.
func adjustMinute(t int64) int64 {
	o := timeOfDay(t)
	switch {
	case o >= amClose && o < pmOpen:
		return t + (pmOpen - o) + (o - amClose)
	case o >= pmClose-15*msMinute:
		return t - (o - (pmClose - 20*msMinute))
	}
	return t
}

func (g *gen) planCampaign(c *CampaignParams, used map[*account]bool) {
	r := g.ra
	day := g.tradingDays[c.Day-1]
	in := g.pickTarget(c)
	R := dayStart(day) + int64(c.RampStart)
	cmp := &Campaign{ID: c.ID, Symbol: in.symbol, RampDay: dateString(day), RampStart: formatTime(R), in: in, dayNum: day}
	cmp.VolumeMultiple = math.Round(r.uniform(c.VolumeMultiple.Min, c.VolumeMultiple.Max))
	cmp.PriceRise = math.Round(r.uniform(c.PriceRise.Min, c.PriceRise.Max)*1000) / 1000
	g.truth.Campaigns = append(g.truth.Campaigns, cmp)

	// The market ramp.
	rp := &ramp{day: day, startMin: tradingMinute(R), rise: math.Log(1 + cmp.PriceRise), closeKeep: r.uniform(0.35, 0.7),
		mult: cmp.VolumeMultiple, cmp: cmp, startT: R}
	rp.peakMin = rp.startMin + int(r.uniform(c.PeakMinutes.Min, c.PeakMinutes.Max))
	if rp.peakMin > sessMins-10 {
		rp.peakMin = sessMins - 10
	}
	if rp.peakMin <= rp.startMin {
		rp.peakMin = rp.startMin + 5
	}
	n := sessMins - rp.startMin
	rp.weights = make([]float64, n)
	peak := float64(rp.peakMin - rp.startMin)
	width := math.Max(peak*0.6, 15)
	sum := 0.0
	for k := range rp.weights {
		x := (float64(k) - peak) / width
		w := math.Exp(-x*x/2) + 0.12
		if float64(k) < peak {
			w *= 0.4 + 0.6*float64(k)/peak
		}
		rp.weights[k] = w
		sum += w
	}
	for k := range rp.weights {
		rp.weights[k] /= sum
	}
	lead := r.between(int(c.BeneficiaryLeadDays.Min), int(c.BeneficiaryLeadDays.Max))
	for k := lead; k >= 1; k-- {
		rp.leadDays = append(rp.leadDays, g.tradingDay(c.Day-k))
	}
	for k, m := range []float64{0.12, 0.035, 0.012, 0.006} {
		rp.afterDays = append(rp.afterDays, g.tradingDay(c.Day+1+k))
		rp.afterMult = append(rp.afterMult, math.Max(1, cmp.VolumeMultiple*m))
		rp.afterDrift = append(rp.afterDrift, -[]float64{0.09, 0.06, 0.04, 0.02}[k])
	}
	in.ramp = rp
	cd := g.cv[c.ID]
	if cd != nil {
		g.varyRamp(rp, cd, c.Day)
	}

	cr := map[string]*crew{StyleCareless: g.newCrew(StyleCareless), StyleCareful: g.newCrew(StyleCareful)}
	if cd != nil {
		for _, k := range cr {
			k.varied, k.mobile, k.uaCopy, k.mismatch, k.thiefTLS = true, cd.MobileShare, cd.UACopy, cd.TLSMismatch, cd.ThiefTLSChange
		}
	}

	// Beneficiaries: the criminals' own accounts, bought in quietly before the ramp.
	for i := 0; i < c.Beneficiaries; i++ {
		b := g.pickBeneficiary(used)
		if b == nil {
			break
		}
		style := StyleCareless
		if r.chance(c.Careful) {
			style = StyleCareful
		}
		cmp.Beneficiaries = append(cmp.Beneficiaries, b.id)
		if cd != nil {
			b.opened = g.firstDay - int64(r.between(cd.BeneficiaryOpenedDays[0], cd.BeneficiaryOpenedDays[1]))
			g.planBeneficiaryVaried(b, cmp, cd, rp, R)
			continue
		}
		g.planBeneficiary(b, cmp, cr[style], rp, R)
	}

	// Victims.
	var stuffed []*account
	var stuffedTk []*Takeover
	for i := 0; i < c.Victims; i++ {
		kind := g.pickKind(c.Kinds)
		v := g.pickVictim(kind, used)
		if v == nil && kind != KindPhishingRelay {
			kind = KindPhishingRelay
			v = g.pickVictim(kind, used)
		}
		if v == nil {
			g.count("campaign.victim_unavailable")
			continue
		}
		style := StyleCareless
		if r.chance(c.Careful) {
			style = StyleCareful
		}
		tk := &Takeover{Account: v.id, Kind: kind, Style: style, Campaign: c.ID}
		v.taken = tk
		g.truth.Takeovers = append(g.truth.Takeovers, tk)
		cmp.Victims = append(cmp.Victims, v.id)
		g.count("takeover." + kind)
		if kind != KindCredentialStuffing {
			g.count("takeover.style." + style) // a wave's takeovers take the wave's style
		}

		// When the hijacked buys start.
		var buy int64
		spread := c.BuySpreadMinutes
		if style == StyleCareless {
			hi := spread.Min + 0.3*(spread.Max-spread.Min)
			buy = R + int64(r.uniform(spread.Min, hi)*float64(msMinute)) + sec(r, 0, 240)
		} else {
			buy = R + int64(r.uniform(spread.Min, spread.Max)*float64(msMinute)) + sec(r, 0, 60)
		}
		buy = adjustMinute(buy)
		if cd != nil {
			// Varied: the victims are entered over the drawn window; the buys follow within minutes
			// (before 09:00 they wait for the open).
			h := g.hijackTime(cd, day)
			gap := r.uniform(6, 35)
			if style == StyleCareless {
				gap = r.uniform(2, 15)
			}
			buy = adjustMinute(h + int64(gap*float64(msMinute)))
			tk.vd = &VictimDraws{Account: v.id, Kind: kind, Style: style, hijackMs: h}
			cd.Takeovers = append(cd.Takeovers, tk.vd)
			if kind == KindStolenSession {
				tk.Night = r.chance(c.Night)
			}
		}
		switch kind {
		case KindCredentialStuffing:
			tk.Night = true
			stuffed = append(stuffed, v)
			stuffedTk = append(stuffedTk, tk)
			tk.Style = "" // the wave decides
			if tk.vd != nil {
				tk.vd.Style, tk.vd.Night = "", true
			}
			g.pendingBuy[tk] = buy
		case KindStolenSession:
			g.planStolen(v, tk, cr[style], cmp, c, buy, i)
		default:
			tk.Night = r.chance(c.Night)
			g.planRelay(v, tk, cr[style], cmp, c, buy, i)
		}
	}
	if len(stuffed) > 0 {
		style := StyleCareless
		if r.chance(c.Careful) {
			style = StyleCareful
		}
		start := dayStart(day) + int64(r.uniform(0.5, 3)*float64(msHour))
		hours := int64(r.uniform(2, 4) * float64(msHour))
		attempts := max(800, 400*len(stuffed))
		sources := 5
		if style == StyleCareful {
			sources = 120
		}
		g.planWave("cs-"+c.ID, c.ID, style, start, hours, attempts, sources, 0.4, len(stuffed), used,
			&waveCampaign{victims: stuffed, tks: stuffedTk, cmp: cmp, params: c, crew: cr[style]})
	}
}

// pickBeneficiary makes an account one of the criminals' own, often recently opened.
func (g *gen) pickBeneficiary(used map[*account]bool) *account {
	r := g.ra
	for tries := 0; tries < 2000; tries++ {
		a := g.accts[r.intn(len(g.accts))]
		if used[a] || a.role != roleCustomer || a.household >= 0 {
			continue
		}
		if a.kind != kSwing && a.kind != kSpeculator && a.kind != kDayTrader {
			continue
		}
		used[a] = true
		a.role = roleBeneficiary
		if r.chance(0.6) {
			a.opened = g.firstDay - int64(r.between(10, 150))
		}
		a.cash = math.Round(r.uniform(5e6, 3e7))
		return a
	}
	return nil
}

// planBeneficiary scripts a beneficiary: quiet buys on the lead days (or a position at the start when
// those days precede the data), then sells into the ramp.
func (g *gen) planBeneficiary(b *account, cmp *Campaign, c *crew, rp *ramp, R int64) {
	r := g.ra
	in := cmp.in
	budget := b.cash * r.uniform(0.6, 0.85)
	var inData []int64
	for _, d := range rp.leadDays {
		if d >= g.firstDay && d != g.firstDay {
			inData = append(inData, d)
		}
	}
	share := 1.0
	if len(rp.leadDays) > 0 {
		share = float64(len(inData)) / float64(len(rp.leadDays))
	}
	if before := budget * (1 - share); before > 0 {
		qty := int64(before/in.price/100) * 100
		if qty > 0 {
			b.pos = append(b.pos, g.newPosition(position{in: in, qty: qty, avail: qty, cost: in.price, typ: acCash}))
			b.cash -= before
			cmp.BeneficiaryBuyShares += qty
		}
	}
	ip := func() addr {
		if c.style == StyleCareless && len(c.addrs) > 0 && r.chance(0.5) {
			return c.addrs[r.intn(len(c.addrs))]
		}
		if c.style == StyleCareless && r.chance(0.5) {
			return g.nets.drawKind(r, kindVPN, "JP")
		}
		return b.home
	}
	dev := b.devices[0]
	perDay := 0.0
	if len(inData) > 0 {
		perDay = budget * share / float64(len(inData))
	}
	for _, d := range inData {
		t := dayStart(d) + amOpen + sec(r, 600, 4.5*3600)
		t = adjustMinute(t)
		value := perDay
		g.at(t, func(t int64) {
			s := g.beneficiarySession(t, b, dev, ip())
			k := r.between(1, 3)
			for j := 0; j < k; j++ {
				j := j
				g.at(t+sec(r, 30, 600)*int64(j+1), func(t int64) {
					qty := int64(value/float64(k)/in.price/100) * 100
					g.nextBenef = cmp
					g.placeOrder(t, s, b, in, true, qty, in.round(in.price-float64(r.intn(3))*tickSize(in.price)), acCash, s.channel)
					g.nextBenef = nil
				})
			}
		})
	}
	// Selling into the ramp.
	first := adjustMinute(R + int64(r.uniform(15, math.Max(20, float64(rp.peakMin-rp.startMin)*0.9))*float64(msMinute)))
	steps := r.between(2, 5)
	g.at(first-sec(r, 60, 300), func(t int64) {
		s := g.beneficiarySession(t, b, dev, ip())
		tt := first
		for j := 0; j < steps; j++ {
			last := j == steps-1
			left := steps - j
			g.at(tt, func(t int64) {
				p := b.position(in, acCash)
				if p == nil || p.avail <= 0 {
					return
				}
				qty := p.avail
				limit := 0.0
				if !last {
					qty = (p.avail / int64(left)) / 100 * 100
					limit = in.round(in.price * r.uniform(1.0, 1.03))
				}
				g.nextBenef = cmp
				g.placeOrder(t, s, b, in, false, qty, limit, acCash, s.channel)
				g.nextBenef = nil
			})
			tt = adjustMinute(tt + sec(r, 180, 1500))
		}
	})
	g.count("beneficiary")
}

// beneficiarySession logs a beneficiary in.
func (g *gen) beneficiarySession(t int64, b *account, dev *device, ip addr) *session {
	s := &session{a: b, id: g.ra.id('s', 24), dev: dev, devID: dev.id, ip: ip, ua: g.userAgent(dev, jstDay(t)),
		tls: dev.br.info().ja4, lang: acceptLanguage(b.lang, dev.br), channel: dev.br.channel()}
	g.emitLogin(t, s, true, "", g.loginMethod(b, dev))
	return s
}

// insideSteps are the attacker's moves after getting in: notices off, email change, sells of every
// holding (funds and NISA included).
func (g *gen) insideSteps(s *session, notif, email float64, careless bool) []act {
	r := g.ra
	v := s.a
	gap := func() int64 {
		if careless {
			return sec(r, 3, 40)
		}
		return sec(r, 20, 150)
	}
	var acts []act
	if v.notif && r.chance(notif) {
		acts = append(acts, act{gap(), func(t int64) {
			g.emitProfile(t, s, "notifications", "off")
			v.notif = false
			g.count("attack.notifications_off")
		}})
	}
	if r.chance(email) {
		acts = append(acts, act{gap(), func(t int64) {
			g.emitProfile(t, s, "email", "")
			g.count("attack.email_change")
		}})
	}
	for _, p := range v.pos {
		p := p
		acts = append(acts, act{gap(), func(t int64) {
			if p.avail > 0 && p.typ != acMargin {
				if g.placeOrder(t, s, v, p.in, false, p.avail, 0, p.typ, "web") != nil {
					g.count("attack.liquidation_order")
				}
			}
		}})
	}
	return acts
}

// buySteps are the hijacked buys of the target: proceeds and, where enabled, margin, in steps.
func (g *gen) buySteps(s *session, cmp *Campaign, careless bool) []act {
	return g.buyStepsFor(s, cmp, careless, false)
}

// buyStepsFor are the hijacked buys; queued ones are placed outside trading hours as market orders on
// margin where the account has it, to execute at the open.
func (g *gen) buyStepsFor(s *session, cmp *Campaign, careless, queued bool) []act {
	r := g.ra
	v := s.a
	in := cmp.in
	n := r.between(3, 6)
	useMargin := v.margin && (queued || r.chance(0.75))
	var budget float64
	var acts []act
	weights := make([]float64, n)
	sum := 0.0
	for i := range weights {
		weights[i] = 1 + 0.6*float64(i)
		sum += weights[i]
	}
	for i := 0; i < n; i++ {
		i := i
		gap := sec(r, 40, 300)
		if careless {
			gap = sec(r, 4, 60)
		}
		if i == 0 {
			gap = 0
		}
		acts = append(acts, act{gap, func(t int64) {
			if i == 0 {
				budget = math.Max(v.cash, 0)
				if useMargin {
					budget += v.marginRoom() * r.uniform(0.5, 0.9)
				}
			}
			value := budget * weights[i] / sum
			price := in.price * 1.03
			qty := int64(value/price/100) * 100
			if qty <= 0 {
				return
			}
			typ := acCash
			if float64(qty)*price > v.cash-5000 {
				if useMargin {
					typ = acMargin
				} else {
					qty = int64(math.Max(v.cash-5000, 0)/price/100) * 100
				}
			}
			limit := 0.0
			if r.chance(0.3) && !queued {
				limit = math.Ceil(in.price * r.uniform(1.01, 1.05))
			}
			g.nextCmp = cmp
			o := g.placeOrder(t, s, v, in, true, qty, limit, typ, "web")
			g.nextCmp = nil
			if o != nil {
				g.count("attack.target_buy")
				if typ == acMargin {
					g.count("attack.target_buy_margin")
				}
			}
		}})
	}
	return acts
}

// withdrawalSteps register a new bank account and ask to withdraw to it.
func (g *gen) withdrawalSteps(s *session, c *crew) []act {
	r := g.ra
	dest := c.mule
	if c.style == StyleCareful {
		dest = "bk-" + r.hex(10)
	}
	return []act{
		{sec(r, 10, 90), func(t int64) { g.emitProfile(t, s, "bank_account", "added") }},
		{sec(r, 20, 120), func(t int64) {
			amt := math.Max(s.a.cash, 0)
			if amt < 100_000 {
				amt = s.a.stockValue() * 0.9
			}
			amt = math.Floor(math.Min(amt, 3e7)/1000) * 1000
			if amt < 1000 {
				amt = 100_000
			}
			g.withdraw(t, s, amt, dest)
			g.count("attack.withdrawal_attempt")
		}},
	}
}

// fraudReport schedules the victim's report, when it falls within the data.
func (g *gen) fraudReport(v *account, tk *Takeover, after int64, hours Range, share float64) {
	r := g.ra
	if !r.chance(share) {
		return
	}
	g.count("fraud_report.planned")
	t := after + int64(r.uniform(hours.Min, hours.Max)*float64(msHour))
	if t >= g.end {
		g.count("fraud_report.after_data")
		return
	}
	ch := []string{"phone", "web", "branch"}[r.pick([]float64{0.7, 0.25, 0.05})]
	g.at(t, func(t int64) {
		n := g.emitFraudReport(t, v, ch, "取引に心当たりがない")
		tk.FraudReport = eventID(n)
		tk.FraudReportTime = formatTime(t)
	})
}

func (g *gen) loginMethodFor(v *account) string {
	if v.mfa == "none" {
		return "password"
	}
	return "password_otp"
}

// planRelay scripts a real-time relay phishing takeover.
func (g *gen) planRelay(v *account, tk *Takeover, c *crew, cmp *Campaign, cp *CampaignParams, buy int64, i int) {
	r := g.ra
	careless := c.style == StyleCareless
	ip := c.address(g, v, i)
	var start int64
	if tk.Night {
		start = dayStart(cmp.dayNum) - int64(r.uniform(1.5, 6.5)*float64(msHour))
	} else {
		start = buy - int64(r.uniform(6, 35)*float64(msMinute))
		if tk.vd != nil {
			start = tk.vd.hijackMs
		}
	}
	if tk.vd != nil {
		tk.vd.Night, tk.vd.Hijack, tk.vd.Address = tk.Night, formatTime(max(start, g.now)), ip.kind().String()
	}
	g.at(start, func(t int64) {
		s := g.attackerSession(c, v, jstDay(t), ip, tk)
		var acts []act
		if r.chance(0.15) && v.mfa != "none" {
			acts = append(acts, act{0, func(t int64) { g.emitLogin(t, s, false, "mfa_failed", "password_otp") }})
			acts = append(acts, act{sec(r, 20, 70), func(t int64) { g.emitLogin(t, s, true, "", g.loginMethodFor(v)) }})
		} else {
			acts = append(acts, act{0, func(t int64) { g.emitLogin(t, s, true, "", g.loginMethodFor(v)) }})
		}
		acts = append(acts, g.insideSteps(s, cp.NotificationsOff, cp.EmailChange, careless)...)
		withdraw := r.chance(cp.WithdrawalAttempt)
		if tk.Night {
			dayBuy := true
			if tk.vd != nil {
				// Varied: the margin buys are queued with the sells for the open.
				acts = append(acts, g.buyStepsFor(s, cmp, careless, true)...)
				dayBuy = !v.margin || r.chance(0.5)
			}
			if withdraw && r.chance(0.5) {
				acts = append(acts, g.withdrawalSteps(s, c)...)
				withdraw = false
			}
			if r.chance(0.4) {
				acts = append(acts, act{sec(r, 10, 60), func(t int64) { g.emitLogout(t, s) }})
			}
			g.run(t, acts)
			if !dayBuy {
				return
			}
			ip2 := ip
			if !careless && r.chance(0.5) {
				ip2 = c.address(g, v, i)
			}
			lead := sec(r, 60, 480)
			g.at(buy-lead, func(t int64) {
				s2 := g.relogin(s, ip2)
				acts := []act{{0, func(t int64) { g.emitLogin(t, s2, true, "", g.loginMethodFor(v)) }}}
				acts = append(acts, act{lead, func(int64) {}})
				acts = append(acts, g.buySteps(s2, cmp, careless)...)
				if withdraw {
					acts = append(acts, g.withdrawalSteps(s2, c)...)
				}
				g.run(t, acts)
			})
		} else {
			acts = append(acts, act{0, func(int64) {}})
			g.run(t, acts)
			g.at(buy, func(t int64) {
				acts := g.buySteps(s, cmp, careless)
				if withdraw {
					acts = append(acts, g.withdrawalSteps(s, c)...)
				}
				if r.chance(0.3) {
					acts = append(acts, act{sec(r, 10, 60), func(t int64) { g.emitLogout(t, s) }})
				}
				g.run(t, acts)
			})
		}
	})
	g.fraudReport(v, tk, buy+30*msMinute, cp.FraudReportHours, cp.FraudReport)
}

// planStolen scripts a stolen-session takeover: the victim logs in on the infected PC; the attacker
// uses that session id and device id from another network, without a login.
func (g *gen) planStolen(v *account, tk *Takeover, c *crew, cmp *Campaign, cp *CampaignParams, buy int64, i int) {
	r := g.ra
	careless := c.style == StyleCareless
	start := buy - int64(r.uniform(6, 30)*float64(msMinute))
	victimLogin := start - int64(r.uniform(10, 180)*float64(msMinute))
	if floor := dayStart(cmp.dayNum) + 6*msHour; victimLogin < floor {
		victimLogin = floor + sec(r, 0, 3600)
	}
	if victimLogin > start-5*msMinute {
		victimLogin = start - 5*msMinute
	}
	night := tk.vd != nil && tk.Night
	if tk.vd != nil {
		// Varied: the thief uses the session when the drawn window says, or the evening before.
		if night {
			victimLogin = dayStart(cmp.dayNum) - int64(r.uniform(2, 7)*float64(msHour))
			start = victimLogin + int64(r.uniform(10, 90)*float64(msMinute))
		} else {
			start = tk.vd.hijackMs
			victimLogin = max(start-int64(r.uniform(10, 180)*float64(msMinute)), dayStart(cmp.dayNum)+6*msHour)
			victimLogin = min(victimLogin, start-5*msMinute)
		}
	}
	ip := c.address(g, v, i)
	if tk.vd != nil {
		tk.vd.Night, tk.vd.Hijack, tk.vd.Address = night, formatTime(max(start, g.now)), ip.kind().String()
	}
	g.at(victimLogin, func(t int64) {
		pc := v.browserDevice()
		if pc.id == "" {
			pc.id = g.r.id('d', 16)
		}
		vs := g.newSession(t, v, pc)
		g.emitLogin(t, vs, true, "", g.loginMethod(v, pc))
		g.count("stolen_session.victim_login")
		g.at(start, func(t int64) {
			s := &session{a: v, id: vs.id, dev: pc, devID: pc.id, ip: ip, ua: vs.ua, tls: vs.tls, lang: vs.lang,
				channel: "web", tk: tk}
			if careless {
				if r.chance(0.6) {
					s.tls = []string{ja4Python, ja4Go}[r.intn(2)] // the victim's cookie and UA in a script
				} else {
					br := []browser{brChromeWin, brChromeMac}[r.intn(2)]
					s.ua = userAgent(br, jstDay(t), 0, r.intn(100))
					s.tls = br.info().ja4
				}
			} else if c.varied && r.chance(c.thiefTLS) {
				s.tls = otherTLS(r, s.tls) // the stolen cookie in another client
			}
			if tk.vd != nil {
				tk.vd.TLSMismatch = s.tls != vs.tls
			}
			acts := []act{{0, func(int64) {}}}
			acts = append(acts, g.insideSteps(s, cp.NotificationsOff*0.6, cp.EmailChange*0.5, careless)...)
			if night {
				acts = append(acts, g.buyStepsFor(s, cmp, careless, true)...)
				if r.chance(cp.WithdrawalAttempt) {
					acts = append(acts, g.withdrawalSteps(s, c)...)
				}
				g.run(t, acts)
				return
			}
			g.run(t, acts)
			g.at(buy, func(t int64) {
				acts := g.buySteps(s, cmp, careless)
				if r.chance(cp.WithdrawalAttempt) {
					acts = append(acts, g.withdrawalSteps(s, c)...)
				}
				g.run(t, acts)
			})
		})
	})
	g.fraudReport(v, tk, buy+30*msMinute, cp.FraudReportHours, cp.FraudReport)
}

// waveCampaign ties a wave's successes to a campaign.
type waveCampaign struct {
	victims []*account
	tks     []*Takeover
	cmp     *Campaign
	params  *CampaignParams
	crew    *crew
}

// unknownLogin makes a login id that is not an account: an id of the firm's format or a user name.
func (g *gen) unknownLogin() string {
	r := g.ra
	for {
		var id string
		if r.chance(0.5) {
			id = "A" + strconv.Itoa(10_000_000+r.intn(90_000_000))
		} else {
			names := []string{"tanaka", "suzuki", "sato", "takahashi", "watanabe", "ito", "yamamoto", "nakamura", "kobayashi", "kato"}
			id = names[r.intn(len(names))] + strconv.Itoa(1950+r.intn(60))
		}
		if g.byID[id] == nil {
			return id
		}
	}
}

// planWave scripts a credential-stuffing wave and the takeovers of its successes.
func (g *gen) planWave(id, campaign, style string, start, dur int64, attempts, sources int, unknown float64,
	successes int, used map[*account]bool, wc *waveCampaign) {
	r := g.ra
	w := &Wave{ID: id, Style: style, Campaign: campaign, Start: formatTime(start), End: formatTime(start + dur), Attempts: attempts}
	g.truth.StuffingWaves = append(g.truth.StuffingWaves, w)
	c := g.newCrew(style)
	if wc != nil {
		c = wc.crew
	}
	srcs := make([]addr, sources)
	for i := range srcs {
		if style == StyleCareless {
			if i < len(c.addrs) {
				srcs[i] = c.addrs[i]
			} else {
				srcs[i] = g.nets.drawKind(r, kindHosting, []string{"US", "SG", "HK", "NL", "DE", ""}[r.intn(6)])
			}
		} else {
			srcs[i] = g.residential(nil)
		}
		w.Sources = append(w.Sources, srcs[i].String())
	}
	// The tool's client: careless tools send browser UAs over a scripting TLS stack.
	uas := []browser{brChromeWin, brEdgeWin, brChromeMac, brFirefoxWin, brSafariMac}
	tried := map[string]bool{}
	fails := map[string]int{}
	victims := []*account{}
	var tks []*Takeover
	if wc != nil {
		victims, tks = wc.victims, wc.tks
	} else {
		for i := 0; i < successes; i++ {
			v := g.pickVictim(KindCredentialStuffing, used)
			if v == nil {
				break
			}
			tk := &Takeover{Account: v.id, Kind: KindCredentialStuffing, Wave: id, Night: !g.inSession(start)}
			v.taken = tk
			g.truth.Takeovers = append(g.truth.Takeovers, tk)
			g.count("takeover." + KindCredentialStuffing)
			victims = append(victims, v)
			tks = append(tks, tk)
		}
	}
	for _, tk := range tks {
		tk.Style = style
		tk.Wave = id
		g.count("takeover.style." + style)
	}
	// Which attempts succeed.
	successAt := map[int]int{}
	for i := range victims {
		for {
			k := r.intn(attempts)
			if _, taken := successAt[k]; !taken {
				successAt[k] = i
				break
			}
		}
	}
	for k := 0; k < attempts; k++ {
		t := start + int64(float64(dur)*float64(k)/float64(attempts)) + r.int64n(1500)
		src := srcs[r.intn(len(srcs))]
		if style == StyleCareless && r.chance(0.6) {
			src = srcs[0]
		}
		br := uas[r.intn(len(uas))]
		ua := userAgent(br, jstDay(t), r.intn(3), 0)
		tlsv := br.info().ja4
		if style == StyleCareless {
			tlsv = ja4Python
		}
		lang := acceptLanguage("ja", br)
		if vi, ok := successAt[k]; ok {
			v, tk := victims[vi], tks[vi]
			w.Successes = append(w.Successes, v.id)
			tried[v.id] = true
			if tk.vd != nil {
				tk.vd.Style, tk.vd.Hijack, tk.vd.Address = style, formatTime(max(t, g.now)), src.kind().String()
			}
			g.planStuffedTakeover(t, v, tk, c, src, ua, tlsv, lang, wc)
			continue
		}
		var a *account
		login := ""
		if r.chance(unknown) {
			login = g.unknownLogin()
		} else {
			a = g.accts[r.intn(len(g.accts))]
			login = a.id
		}
		tried[login] = true
		failure := "unknown_account"
		if a != nil {
			failure = "bad_password"
			if a.mfa != "none" && r.chance(0.004) {
				failure = "mfa_failed"
			}
			fails[login]++
			if fails[login] > 5 {
				failure = "locked"
			}
		}
		s := &session{a: a, ip: src, ua: ua, tls: tlsv, lang: lang, channel: "web", attack: true}
		g.at(t, func(t int64) { g.emitLoginAs(t, login, s, false, failure, "password") })
	}
	w.Accounts = len(tried)
	g.countN("wave.attempts", int64(attempts))
}

// planStuffedTakeover scripts what the attacker does with an account that a wave opened.
func (g *gen) planStuffedTakeover(t int64, v *account, tk *Takeover, c *crew, src addr, ua, tlsv, lang string, wc *waveCampaign) {
	r := g.ra
	careless := c.style == StyleCareless
	g.at(t, func(t int64) {
		s := &session{a: v, id: r.id('s', 24), ip: src, ua: ua, tls: tlsv, lang: lang, channel: "web", tk: tk}
		s.dev = &device{br: brChromeWin}
		acts := []act{{0, func(t int64) { g.emitLogin(t, s, true, "", "password") }}}
		if wc == nil {
			acts = append(acts, act{sec(r, 60, 1800), func(int64) {}})
			acts = append(acts, g.insideSteps(s, 0.6, 0.4, careless)...)
			if r.chance(0.7) {
				acts = append(acts, g.withdrawalSteps(s, c)...)
			}
			g.run(t, acts)
			g.fraudReport(v, tk, t+2*msHour, Range{6, 96}, 0.6)
			return
		}
		cp := wc.params
		acts = append(acts, act{sec(r, 120, 1800), func(int64) {}})
		acts = append(acts, g.insideSteps(s, cp.NotificationsOff, cp.EmailChange, careless)...)
		g.run(t, acts)
		buy := g.pendingBuy[tk]
		withdraw := r.chance(cp.WithdrawalAttempt)
		ip2 := src
		if !careless {
			ip2 = c.address(g, v, 0)
		} else if len(c.addrs) > 0 {
			ip2 = c.addrs[r.intn(len(c.addrs))]
		}
		lead := sec(r, 60, 480)
		g.at(buy-lead, func(t int64) {
			s2 := g.relogin(s, ip2)
			s2.ua, s2.tls = ua, tlsv
			acts := []act{{0, func(t int64) { g.emitLogin(t, s2, true, "", "password") }}}
			acts = append(acts, act{lead, func(int64) {}})
			acts = append(acts, g.buySteps(s2, wc.cmp, careless)...)
			if withdraw {
				acts = append(acts, g.withdrawalSteps(s2, c)...)
			}
			g.run(t, acts)
		})
		g.fraudReport(v, tk, buy+30*msMinute, cp.FraudReportHours, cp.FraudReport)
	})
}

// planStandalone scripts takeovers outside campaigns: sell everything and try to withdraw.
func (g *gen) planStandalone(used map[*account]bool) {
	sp := g.sc.Standalone
	r := g.ra
	crews := map[string]*crew{StyleCareless: g.newCrew(StyleCareless), StyleCareful: g.newCrew(StyleCareful)}
	sd := (*StandaloneDraws)(nil)
	if g.truth.Draws != nil {
		sd = g.truth.Draws.Standalone
		for _, k := range crews {
			k.varied, k.mobile, k.uaCopy, k.mismatch, k.thiefTLS = true, 0.35, sd.UACopy, sd.TLSMismatch, 0.8
		}
	}
	for i := 0; i < sp.Count; i++ {
		kind := g.pickKind(sp.Kinds)
		if kind == KindCredentialStuffing {
			kind = KindPhishingRelay // stuffing successes come from the waves
		}
		v := g.pickVictim(kind, used)
		if v == nil {
			continue
		}
		style := StyleCareless
		if r.chance(sp.Careful) {
			style = StyleCareful
		}
		c := crews[style]
		careless := style == StyleCareless
		tk := &Takeover{Account: v.id, Kind: kind, Style: style}
		v.taken = tk
		g.truth.Takeovers = append(g.truth.Takeovers, tk)
		g.count("takeover." + kind)
		g.count("takeover.style." + style)
		if sd != nil {
			tk.vd = &VictimDraws{Account: v.id, Kind: kind, Style: style}
			sd.Takeovers = append(sd.Takeovers, tk.vd)
		}
		dayIdx := 1 + r.intn(len(g.tradingDays))
		if len(g.tradingDays) > 1 {
			dayIdx = 2 + r.intn(len(g.tradingDays)-1)
		}
		day := g.tradingDays[dayIdx-1]
		var start int64
		if kind == KindStolenSession || r.chance(0.5) {
			start = dayStart(day) + amOpen + sec(r, 300, 5*3600)
			start = adjustMinute(start)
		} else {
			start = dayStart(day) + int64(r.uniform(19, 23.5)*float64(msHour))
			tk.Night = true
		}
		ip := c.address(g, v, i)
		if tk.vd != nil {
			tk.vd.Night, tk.vd.Hijack, tk.vd.Address = tk.Night, formatTime(start), ip.kind().String()
		}
		if kind == KindStolenSession {
			victimLogin := start - int64(r.uniform(10, 120)*float64(msMinute))
			g.at(victimLogin, func(t int64) {
				pc := v.browserDevice()
				if pc.id == "" {
					pc.id = g.r.id('d', 16)
				}
				vs := g.newSession(t, v, pc)
				g.emitLogin(t, vs, true, "", g.loginMethod(v, pc))
				g.at(start, func(t int64) {
					s := &session{a: v, id: vs.id, dev: pc, devID: pc.id, ip: ip, ua: vs.ua, tls: vs.tls, lang: vs.lang, channel: "web", tk: tk}
					if careless && r.chance(0.6) {
						s.tls = ja4Python
					} else if !careless && c.varied && r.chance(c.thiefTLS) {
						s.tls = otherTLS(r, s.tls)
					}
					if tk.vd != nil {
						tk.vd.TLSMismatch = s.tls != vs.tls
					}
					acts := []act{{0, func(int64) {}}}
					acts = append(acts, g.insideSteps(s, 0.4, 0.2, careless)...)
					if r.chance(0.7) {
						acts = append(acts, g.withdrawalSteps(s, c)...)
					}
					g.run(t, acts)
				})
			})
		} else {
			g.at(start, func(t int64) {
				s := g.attackerSession(c, v, jstDay(t), ip, tk)
				acts := []act{{0, func(t int64) { g.emitLogin(t, s, true, "", g.loginMethodFor(v)) }}}
				acts = append(acts, g.insideSteps(s, 0.6, 0.4, careless)...)
				if r.chance(0.7) {
					acts = append(acts, g.withdrawalSteps(s, c)...)
				}
				g.run(t, acts)
			})
		}
		g.fraudReport(v, tk, start+2*msHour, Range{6, 96}, 0.6)
	}
}

// planBeneficiaryVaried scripts a beneficiary of a varied campaign: quiet buys on most of the lead days
// (or a position at the start when those days precede the data), then sells into the ramp in steps with
// rising limits, and what is left into the next day's pump. Its sessions come from its own home or
// phone, and only now and then from the address or the device the campaign's beneficiaries share.
func (g *gen) planBeneficiaryVaried(b *account, cmp *Campaign, cd *CampaignDraws, rp *ramp, R int64) {
	r := g.ra
	in := cmp.in
	budget := b.cash * r.uniform(0.6, 0.85)
	var inData, active []int64
	for _, d := range rp.leadDays {
		if d >= g.firstDay && d != g.firstDay {
			inData = append(inData, d)
			if r.chance(0.8) {
				active = append(active, d)
			}
		}
	}
	if len(inData) > 0 && len(active) == 0 {
		active = inData[len(inData)-1:]
	}
	share := 1.0
	if len(rp.leadDays) > 0 {
		share = float64(len(inData)) / float64(len(rp.leadDays))
	}
	if before := budget * (1 - share); before > 0 {
		if qty := int64(before/in.price/100) * 100; qty > 0 {
			b.pos = append(b.pos, g.newPosition(position{in: in, qty: qty, avail: qty, cost: in.price, typ: acCash}))
			b.cash -= before
			cmp.BeneficiaryBuyShares += qty
		}
	}
	login := func(t int64) *session {
		ip, dev := b.home, b.devices[0]
		if r.chance(0.3) {
			ip = g.poolAddr(b.carrier)
		}
		if r.chance(cd.BeneficiaryLinkage) {
			l := g.beneficiaryLink(cd, b)
			if r.chance(0.5) {
				ip = l.ip
			} else {
				dev = l.dev
			}
			g.count("beneficiary.linked_session")
		}
		return g.beneficiarySession(t, b, dev, ip)
	}
	perDay := 0.0
	if len(active) > 0 {
		perDay = budget * share / float64(len(active))
	}
	for _, d := range active {
		t := adjustMinute(dayStart(d) + amOpen + sec(r, 300, 5.5*3600))
		value := perDay
		g.at(t, func(t int64) {
			s := login(t)
			k := r.between(1, 3)
			for j := 0; j < k; j++ {
				g.at(t+sec(r, 30, 900)*int64(j+1), func(t int64) {
					qty := int64(value/float64(k)/in.price/100) * 100
					g.nextBenef = cmp
					g.placeOrder(t, s, b, in, true, qty, in.round(in.price-float64(r.intn(3))*tickSize(in.price)), acCash, s.channel)
					g.nextBenef = nil
				})
			}
		})
	}
	// Selling into the ramp: steps from early in the ramp to the peak, each limit above the last.
	steps := r.between(3, 8)
	span := float64(rp.peakMin-rp.startMin) * float64(msMinute)
	first := adjustMinute(R + int64(span*r.uniform(0.05, 0.25)))
	lastLimit := 0.0
	sell := func(s *session, t int64, left int) {
		p := b.position(in, acCash)
		if p == nil || p.avail <= 0 {
			return
		}
		qty := p.avail
		if left > 1 {
			qty = (p.avail / int64(left)) / 100 * 100
		}
		limit := in.round(math.Max(in.price*r.uniform(1.0, 1.025), lastLimit+tickSize(lastLimit+1)))
		lastLimit = limit
		g.nextBenef = cmp
		g.placeOrder(t, s, b, in, false, qty, limit, acCash, s.channel)
		g.nextBenef = nil
	}
	g.at(first-sec(r, 60, 300), func(t int64) {
		s := login(t)
		for j := 0; j < steps; j++ {
			left := steps - j
			frac := float64(j) / float64(max(steps-1, 1))
			tt := adjustMinute(first + int64((span*0.95-float64(first-R))*frac) + sec(r, 0, 120))
			g.at(max(tt, t+msSecond), func(t int64) { sell(s, t, left) })
		}
	})
	if sec2 := rp.second; sec2 != nil {
		at := adjustMinute(sec2.startT + int64(float64(sec2.peakMin-sec2.startMin)*float64(msMinute)*r.uniform(0.3, 0.9)))
		g.at(at-sec(r, 60, 300), func(t int64) {
			s := login(t)
			lastLimit = 0
			g.at(at, func(t int64) { sell(s, t, 1) })
		})
	}
	g.count("beneficiary")
}
