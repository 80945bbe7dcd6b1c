package sim

import (
	"math"
	"sort"
)

// Variation (Options.Vary or the scenario key vary: true) turns a scenario into a distribution: the
// attack and market parameters below are drawn per run, per campaign and per victim from wide ranges
// (doc.go lists them), from their own stream of the seed, and written to the truth as Truth.Draws.

// Draws are the parameters a varied run drew.
type Draws struct {
	// SurpriseMultiplier scales every legitimate surprise's rate (shares are capped at 1).
	SurpriseMultiplier float64 `json:"surprise_multiplier"`
	// Surprises are the rates and shares used, by the scenario key's name.
	Surprises map[string]float64 `json:"surprises"`
	// RepumpShare is the chance that a campaign pumps again, weaker, on the next trading day.
	RepumpShare float64           `json:"repump_share"`
	Campaigns   []*CampaignDraws  `json:"campaigns"`
	Standalone  *StandaloneDraws  `json:"standalone,omitempty"`
	Offices     int               `json:"offices"`     // companies whose staff log in through a cloud egress
	Aggregators []AggregatorDraws `json:"aggregators"` // household-finance services
}

// CampaignDraws are one campaign's drawn parameters.
type CampaignDraws struct {
	ID string `json:"id"`
	// Timing is how the victims' takeovers spread over the ramp day: burst (within about an hour of the
	// ramp start), spread (over 1.5-5 hours) or stealthy (over 08:00-14:45).
	Timing     string    `json:"timing"`
	HijackFrom string    `json:"hijack_from"` // window of the day's takeovers (JST, HH:MM)
	HijackTo   string    `json:"hijack_to"`
	Victims    int       `json:"victims"`
	Kinds      AttackMix `json:"kinds"`
	// Night is the share of victims hit the evening before, their sells and margin buys queued for the open.
	Night float64 `json:"night"`
	// Careful is the share of victims taken by careful attackers.
	Careful float64 `json:"careful"`
	// MobileShare is the share of careful attackers' addresses on mobile carriers (the rest fixed lines).
	MobileShare float64 `json:"mobile_share"`
	// UACopy is the share of careful relay attackers that send the victim's exact User-Agent (the rest
	// the same family at another version or model).
	UACopy float64 `json:"ua_copy"`
	// TLSMismatch is the share of careful relay attackers whose TLS stack differs from the one the
	// User-Agent implies.
	TLSMismatch float64 `json:"tls_mismatch"`
	// ThiefTLSChange is the share of session thieves whose TLS stack differs from the victim's.
	ThiefTLSChange float64 `json:"thief_tls_change"`
	RampStart      string  `json:"ramp_start"`
	RampMinutes    int     `json:"ramp_minutes"` // trading minutes from the ramp start to the peak
	// RampShape is 0 for a steep ramp (volume and rise concentrated near the peak) to 1 for a flat one.
	RampShape float64 `json:"ramp_shape"`
	// Burstiness is the share of the rest of the market's ramp volume that comes in bursts.
	Burstiness     float64 `json:"burstiness"`
	Bursts         int     `json:"bursts"`
	VolumeMultiple float64 `json:"volume_multiple"`
	PriceRise      float64 `json:"price_rise"`
	Repump         bool    `json:"repump"`
	RepumpDay      string  `json:"repump_day,omitempty"`
	RepumpStart    string  `json:"repump_start,omitempty"`
	RepumpMinutes  int     `json:"repump_minutes,omitempty"`
	// RepumpVolume is the second day's extra volume as a share of the ramp day's; RepumpRise its rise.
	RepumpVolume float64 `json:"repump_volume,omitempty"`
	RepumpRise   float64 `json:"repump_rise,omitempty"`

	Beneficiaries       int    `json:"beneficiaries"`
	BeneficiaryLeadDays [2]int `json:"beneficiary_lead_days"`
	// BeneficiaryOpenedDays is how long before the data the beneficiaries' accounts were opened.
	BeneficiaryOpenedDays [2]int `json:"beneficiary_opened_days"`
	// BeneficiaryLinkage is the chance that a beneficiary's session uses the address or the device that
	// the campaign's beneficiaries share.
	BeneficiaryLinkage float64 `json:"beneficiary_linkage"`

	// Takeovers are the per-victim draws, in the order the victims were planned.
	Takeovers []*VictimDraws `json:"takeovers"`

	window    [2]int64 // hijack window, ms after midnight of the ramp day
	repumpMin int      // trading minute of the second day's pump
	link      linkage  // the beneficiaries' shared address and device
}

// VictimDraws are one takeover's drawn parameters.
type VictimDraws struct {
	Account string `json:"account"`
	Kind    string `json:"kind"`
	Style   string `json:"style"`
	Night   bool   `json:"night"`
	// Hijack is when the attacker was planned to start (the evening before for night takeovers).
	Hijack string `json:"hijack"`
	// Address is the kind of network the attacker came from (jp_fixed, jp_mobile, hosting, ...).
	Address     string `json:"address,omitempty"`
	UACopied    bool   `json:"ua_copied,omitempty"`
	TLSMismatch bool   `json:"tls_mismatch,omitempty"`

	hijackMs int64
}

// StandaloneDraws are the drawn parameters of the takeovers outside campaigns.
type StandaloneDraws struct {
	Careful     float64        `json:"careful"`
	UACopy      float64        `json:"ua_copy"`
	TLSMismatch float64        `json:"tls_mismatch"`
	Takeovers   []*VictimDraws `json:"takeovers"`
}

// AggregatorDraws is a household-finance service that logs in nightly with its customers' passwords.
type AggregatorDraws struct {
	Name      string   `json:"name"`
	Addresses []string `json:"addresses"`
	TLS       string   `json:"tls"`

	addrs []addr
	ua    string
}

// linkage is what a campaign's beneficiaries share now and then.
type linkage struct {
	ip  addr
	dev *device
}

// surpriseField is one legitimate surprise parameter of a scenario.
type surpriseField struct {
	name  string
	p     *float64
	share bool // a share (capped at 1) rather than a rate per account-month
}

func surpriseFields(sp *SurpriseParams) []surpriseField {
	return []surpriseField{
		{"travel_abroad", &sp.TravelAbroad, false}, {"new_device", &sp.NewDevice, false},
		{"cleared_cookies", &sp.ClearedCookies, true}, {"vpn_users", &sp.VPNUsers, true},
		{"shared_household", &sp.SharedHousehold, true}, {"shared_device", &sp.SharedDevice, true},
		{"liquidation_withdrawal", &sp.Liquidation, false}, {"first_margin", &sp.FirstMargin, false},
		{"small_cap_speculation", &sp.SmallCap, false}, {"forgotten_password", &sp.ForgottenPassword, false},
		{"email_change", &sp.EmailChange, false}, {"notifications_off", &sp.NotificationsOff, false},
		{"bank_account_change", &sp.BankChange, false}, {"passkey_enrolment", &sp.PasskeyEnrolment, false},
		{"withdrawal", &sp.Withdrawal, false}, {"session_ip_change", &sp.SessionIPChange, true},
		{"session_ip_change_pc", &sp.SessionIPChangePC, true}, {"api_traders", &sp.APITraders, true},
		{"corporate_egress", &sp.CorporateEgress, true}, {"aggregators", &sp.Aggregators, true},
		{"portfolio_switch", &sp.PortfolioSwitch, false}, {"domestic_travel", &sp.DomesticTravel, false},
	}
}

// Base ranges of the surprises that scenarios leave at 0, before the multiplier.
var newSurpriseBase = map[string]Range{
	"corporate_egress": {0.01, 0.03}, "aggregators": {0.005, 0.02},
	"portfolio_switch": {0.005, 0.015}, "domestic_travel": {0.01, 0.03},
}

// drawVariation draws the run's parameters into the scenario copy and the truth. It runs before the
// market and the population are built.
func (g *gen) drawVariation() {
	r := g.rv
	d := &Draws{Surprises: map[string]float64{}}
	g.truth.Draws = d
	g.cv = map[string]*CampaignDraws{}

	d.SurpriseMultiplier = round3(r.uniform(1, 3))
	for _, f := range surpriseFields(&g.sc.Surprises) {
		v := *f.p
		if base, ok := newSurpriseBase[f.name]; ok && v == 0 {
			v = r.uniform(base.Min, base.Max)
		}
		v *= d.SurpriseMultiplier
		if f.share {
			v = math.Min(v, 1)
		}
		*f.p = round4(v)
		d.Surprises[f.name] = *f.p
	}
	d.RepumpShare = round3(r.uniform(0.3, 0.5))

	for i := range g.sc.Campaigns {
		c := &g.sc.Campaigns[i]
		cd := &CampaignDraws{ID: c.ID}
		d.Campaigns = append(d.Campaigns, cd)
		g.cv[c.ID] = cd
		cd.Timing = []string{"burst", "spread", "stealthy"}[r.pick([]float64{0.25, 0.45, 0.3})]

		// The ramp: start, length, shape, bursts.
		lo, hi := 45.0, 240.0
		if cd.Timing == "stealthy" {
			lo = 90
		}
		cd.RampMinutes = int(r.uniform(lo, hi))
		startMin := r.between(5, min(239, max(5, 290-cd.RampMinutes)))
		c.RampStart = Clock(clockOfMinute(startMin))
		cd.RampStart = c.RampStart.String()
		c.PeakMinutes = Range{float64(cd.RampMinutes), float64(cd.RampMinutes)}
		cd.RampShape = round3(r.uniform(0, 1))
		if cd.Timing == "stealthy" {
			cd.RampShape = round3(r.uniform(0.5, 1))
		}
		cd.Burstiness = round3(r.uniform(0, 0.9))
		cd.Bursts = r.between(3, 15)
		cd.VolumeMultiple = math.Round(r.uniform(50, 300))
		cd.PriceRise = round3(r.uniform(0.12, 0.40))
		c.VolumeMultiple = Range{cd.VolumeMultiple, cd.VolumeMultiple}
		c.PriceRise = Range{cd.PriceRise, cd.PriceRise}
		if r.chance(d.RepumpShare) {
			cd.Repump = true
			cd.RepumpMinutes = r.between(30, 150)
			cd.repumpMin = r.between(0, 200)
			cd.RepumpStart = Clock(clockOfMinute(cd.repumpMin)).String()
			cd.RepumpVolume = round3(r.uniform(0.15, 0.5))
			cd.RepumpRise = round3(cd.PriceRise * r.uniform(0.3, 0.6))
		}

		// When the victims are hit.
		R := int64(c.RampStart)
		switch cd.Timing {
		case "burst":
			cd.window = [2]int64{R - int64(r.uniform(0, 10)*float64(msMinute)), R + int64(r.uniform(15, 75)*float64(msMinute))}
		case "spread":
			from := max(R-int64(r.uniform(0, 120)*float64(msMinute)), 7*msHour)
			cd.window = [2]int64{from, min(from+int64(r.uniform(1.5, 5)*float64(msHour)), 14*msHour+45*msMinute)}
		default:
			cd.window = [2]int64{8 * msHour, 14*msHour + 45*msMinute}
		}
		cd.HijackFrom, cd.HijackTo = Clock(cd.window[0]).String(), Clock(cd.window[1]).String()
		n := c.Victims
		c.Victims = r.between(max(2, int(math.Round(0.5*float64(n)))), max(3, int(math.Round(1.5*float64(n)))))
		cd.Victims = c.Victims
		k := c.Kinds
		c.Kinds = AttackMix{PhishingRelay: round3(k.PhishingRelay * r.uniform(0.5, 1.5)),
			StolenSession:      round3(k.StolenSession * r.uniform(0.5, 1.5)),
			CredentialStuffing: round3(k.CredentialStuffing * r.uniform(0.5, 1.5))}
		if c.Kinds.PhishingRelay+c.Kinds.StolenSession+c.Kinds.CredentialStuffing <= 0 {
			c.Kinds.PhishingRelay = 1
		}
		cd.Kinds = c.Kinds
		c.Night = round3(r.uniform(0, 0.4))
		cd.Night = c.Night
		switch cd.Timing {
		case "burst":
			c.Careful = r.uniform(0.1, 0.7)
		case "spread":
			c.Careful = r.uniform(0.2, 0.9)
		default:
			c.Careful = r.uniform(0.6, 1)
		}
		c.Careful = round3(c.Careful)
		cd.Careful = c.Careful
		cd.MobileShare = round3(r.uniform(0.1, 0.6))
		cd.UACopy = round3(r.uniform(0.3, 1))
		cd.TLSMismatch = round3(r.uniform(0.3, 0.9))
		cd.ThiefTLSChange = round3(r.uniform(0.6, 0.95))

		// The beneficiaries.
		c.Beneficiaries = r.between(1, max(1, c.Beneficiaries)+2)
		cd.Beneficiaries = c.Beneficiaries
		lead := r.between(1, 5)
		cd.BeneficiaryLeadDays = [2]int{lead, min(30, lead+r.between(1, 8))}
		c.BeneficiaryLeadDays = Range{float64(cd.BeneficiaryLeadDays[0]), float64(cd.BeneficiaryLeadDays[1])}
		o := r.between(60, 200)
		cd.BeneficiaryOpenedDays = [2]int{o, o + r.between(10, 100)}
		cd.BeneficiaryLinkage = round3(r.uniform(0, 0.5))
	}
	sd := &StandaloneDraws{Careful: round3(r.uniform(0.1, 1)), UACopy: round3(r.uniform(0.3, 1)),
		TLSMismatch: round3(r.uniform(0.3, 0.9))}
	g.sc.Standalone.Careful = sd.Careful
	d.Standalone = sd
	for _, cd := range d.Campaigns {
		cd.Takeovers = []*VictimDraws{}
	}
	sd.Takeovers = []*VictimDraws{}
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
func round4(x float64) float64 { return math.Round(x*10000) / 10000 }

// clockOfMinute returns the start of trading minute m (0..299) as an offset from midnight.
func clockOfMinute(m int) int64 {
	if m < 150 {
		return amOpen + int64(m)*msMinute
	}
	return pmOpen + int64(m-150)*msMinute
}

// varyRamp shapes a varied ramp: volume around the peak, as steep or flat as drawn, part of it in
// bursts that follow the curve; the price rises with the volume up to the peak. It also sets up the
// next day's weaker pump when the campaign has one.
func (g *gen) varyRamp(rp *ramp, cd *CampaignDraws, rampDayIdx int) {
	r := g.rv
	rp.weights = rampWeights(r, sessMins-rp.startMin, rp.peakMin-rp.startMin, cd.RampShape, cd.Burstiness, cd.Bursts)
	rp.up = riseSteps(rp.weights, rp.peakMin-rp.startMin, rp.rise)
	if !cd.Repump {
		return
	}
	day := g.tradingDay(rampDayIdx + 1)
	cd.RepumpDay = dateString(day)
	s := cd.repumpMin
	peak := min(s+cd.RepumpMinutes, sessMins-10)
	if peak <= s {
		peak = s + 5
	}
	sec := &ramp{day: day, startMin: s, peakMin: peak, rise: math.Log(1 + cd.RepumpRise), closeKeep: r.uniform(0.2, 0.6),
		mult: cd.RepumpVolume, cmp: rp.cmp, startT: dayStart(day) + clockOfMinute(s)}
	sec.weights = rampWeights(r, sessMins-s, peak-s, cd.RampShape, cd.Burstiness, max(2, cd.Bursts/2))
	sec.up = riseSteps(sec.weights, peak-s, sec.rise)
	rp.second = sec
}

// rampWeights spreads a ramp's extra volume over n minutes with the peak at minute peak: a smooth curve
// (narrow when steep, wide and with a higher floor when flat) mixed with bursts drawn along it.
func rampWeights(r *rng, n, peak int, shape, burstiness float64, bursts int) []float64 {
	smooth := make([]float64, n)
	p := float64(peak)
	width := math.Max(p*(0.3+0.9*shape), 10)
	floor := 0.08 + 0.4*shape
	for k := range smooth {
		x := (float64(k) - p) / width
		w := math.Exp(-x*x/2) + floor
		if float64(k) < p {
			w *= 0.3 + 0.7*float64(k)/p
		}
		smooth[k] = w
	}
	normalise(smooth)
	burst := make([]float64, n)
	for b := 0; b < bursts; b++ {
		c := r.pick(smooth)
		amp := r.lognorm(0, 0.6)
		wid := r.between(1, 4)
		for k := c; k < min(n, c+wid); k++ {
			burst[k] += amp
		}
	}
	normalise(burst)
	out := make([]float64, n)
	for k := range out {
		out[k] = (1-burstiness)*smooth[k] + burstiness*burst[k]
	}
	normalise(out)
	return out
}

// riseSteps gives each minute before the peak its part of the log rise, in proportion to its volume.
func riseSteps(w []float64, peak int, rise float64) []float64 {
	peak = min(peak, len(w))
	up := make([]float64, peak)
	sum := 0.0
	for k := 0; k < peak; k++ {
		sum += w[k]
	}
	for k := range up {
		if sum > 0 {
			up[k] = rise * w[k] / sum
		} else {
			up[k] = rise / float64(peak)
		}
	}
	return up
}

func normalise(xs []float64) {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	if s <= 0 {
		return
	}
	for i := range xs {
		xs[i] /= s
	}
}

// hijackTime draws when a victim of a varied campaign is first entered on the ramp day.
func (g *gen) hijackTime(cd *CampaignDraws, day int64) int64 {
	return dayStart(day) + cd.window[0] + g.ra.int64n(max(cd.window[1]-cd.window[0], msMinute))
}

// distinctResidential draws a Japanese fixed-line or mobile address that the crew has not used yet:
// careful crews rent one residential proxy per victim.
func (g *gen) distinctResidential(c *crew, near *account, mobile float64) addr {
	r := g.ra
	if c.used == nil {
		c.used = map[uint32]bool{}
	}
	for {
		var a addr
		switch {
		case r.chance(mobile):
			a = g.nets.drawKind(r, kindJPMobile, "JP")
		case near != nil && r.chance(0.3):
			a = g.nets.draw(r, int(near.home.rng))
		default:
			a = g.nets.drawKind(r, kindJPFixed, "JP")
		}
		if !c.used[a.ip] && (near == nil || a.ip != near.home.ip) {
			c.used[a.ip] = true
			return a
		}
	}
}

// otherTLS returns a TLS fingerprint other than have: an anti-detect browser on Chromium, Firefox's
// stack, or a scripting library.
func otherTLS(r *rng, have string) string {
	opts := []string{ja4Chromium, ja4Firefox, ja4Go, ja4Python, ja4Apple}
	for {
		if t := opts[r.pick([]float64{0.4, 0.15, 0.2, 0.15, 0.1})]; t != have {
			return t
		}
	}
}

// varyAttackerClient sets a careful attacker's client in a varied run: the victim's client family in
// the User-Agent (often the exact string the phishing page saw), a TLS stack that often does not match
// it, and no device id.
func (g *gen) varyAttackerClient(s *session, v *account, day int64, vd *VictimDraws, uaCopy, mismatch float64) {
	r := g.ra
	src := v.browserDevice()
	if src == nil {
		src = v.deviceFor(true)
	}
	if r.chance(uaCopy) && !src.br.info().app {
		s.ua = g.userAgent(src, day)
		vd.UACopied = true
	}
	if r.chance(mismatch) {
		s.tls = otherTLS(r, s.tls)
		vd.TLSMismatch = true
	}
	s.dev = nil
	s.devID = ""
}

// beneficiaryLink returns the campaign's shared beneficiary address and device, making them once.
func (g *gen) beneficiaryLink(cd *CampaignDraws, b *account) linkage {
	if cd.link.dev == nil {
		cd.link.ip = g.nets.drawKind(g.ra, kindJPFixed, "JP")
		d := *b.devices[0]
		d.id = g.ra.id('d', 16)
		cd.link.dev = &d
	}
	return cd.link
}

// aggregatorNames are the household-finance services of a varied run.
var aggregatorNames = []string{"KakeiboLink", "MoneyBook", "ShisanNavi"}

// varyPopulation gives customers the legitimate habits that varied runs add: an office behind a cloud
// egress, a household-finance service that logs in every night. It uses its own stream.
func (g *gen) varyPopulation() {
	r := g.rx
	sp := g.sc.Surprises
	var custs []*account
	for _, a := range g.accts {
		if a.role == roleCustomer {
			custs = append(custs, a)
		}
	}
	if sp.CorporateEgress > 0 {
		n := int(float64(len(custs)) * sp.CorporateEgress)
		companies := make([]addr, max(3, n/8))
		for i := range companies {
			companies[i] = g.nets.drawKind(r, kindHosting, "JP")
		}
		if g.truth.Draws != nil {
			g.truth.Draws.Offices = len(companies)
		}
		for i := 0; i < n; i++ {
			a := custs[r.intn(len(custs))]
			if a.office == nil && a.web != nil {
				ip := companies[r.intn(len(companies))]
				a.office = &ip
				g.offices++
			}
		}
	}
	if sp.Aggregators > 0 {
		tls := []string{ja4Go, ja4Python, ja4OkHTTP}
		for i, name := range aggregatorNames {
			ag := AggregatorDraws{Name: name, TLS: tls[i]}
			for j, k := 0, r.between(2, 5); j < k; j++ {
				a := g.nets.drawKind(r, kindHosting, "JP")
				ag.addrs = append(ag.addrs, a)
				ag.Addresses = append(ag.Addresses, a.String())
			}
			ag.ua = name + "/" + itoa(uint64(2+i)) + ".4 (account aggregation)"
			g.aggs = append(g.aggs, ag)
		}
		if g.truth.Draws != nil {
			g.truth.Draws.Aggregators = g.aggs
		}
		n := int(float64(len(custs)) * sp.Aggregators)
		for i := 0; i < n; i++ {
			a := custs[r.intn(len(custs))]
			if a.agg == 0 {
				a.agg = int8(1 + r.pick([]float64{0.5, 0.3, 0.2}))
				g.aggAccts = append(g.aggAccts, a)
			}
		}
		sort.Slice(g.aggAccts, func(i, j int) bool { return g.aggAccts[i].idx < g.aggAccts[j].idx })
	}
}

// planAggregators queues the night's logins of household-finance services: a password login from the
// service's Japanese cloud addresses, a read, a logout.
func (g *gen) planAggregators(now, day int64) {
	r := g.rx
	for _, a := range g.aggAccts {
		if a.role != roleCustomer || !r.chance(0.85) {
			continue
		}
		ag := &g.aggs[a.agg-1]
		t := dayStart(day) + int64(r.uniform(1, 5)*float64(msHour))
		if t < now {
			continue
		}
		a := a
		ip := ag.addrs[r.intn(len(ag.addrs))]
		g.at(t, func(t int64) {
			s := &session{a: a, id: g.rx.id('s', 24), ip: ip, ua: ag.ua, tls: ag.TLS, channel: "api"}
			g.emitLogin(t, s, true, "", "password")
			g.count("aggregator.login")
			g.at(t+sec(g.rx, 3, 40), func(t int64) { g.emitLogout(t, s) })
		})
	}
}
