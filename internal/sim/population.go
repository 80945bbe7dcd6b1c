package sim

import (
	"math"
	"strconv"
)

// custKind is a kind of customer with its own rhythm.
type custKind uint8

const (
	kDormant    custKind = iota // fund/NISA holders who rarely log in
	kLongTerm                   // long-term investors in large caps
	kSwing                      // swing traders
	kDayTrader                  // day traders on margin
	kElderly                    // elderly customers, partly on the phone
	kSpeculator                 // speculators who do buy small caps
	numKinds
)

var kindNames = [numKinds]string{"dormant", "long_term", "swing", "day_trader", "elderly", "speculator"}

// Per-kind habits.
var kindHabits = [numKinds]struct {
	loginsPerDay float64 // on a trading day (weekends: weekendFactor of it)
	weekend      float64
	orderProb    float64 // chance that a session places orders
	ordersMean   float64 // orders in such a session
	desktop, app float64 // chance of having a PC browser, the phone app
	mobileWeb    float64
	margin       float64 // chance that margin trading is enabled
	marginUsed   float64 // chance that an enabled margin account has used it before
	smallCaps    float64 // chance of trading small caps habitually
	hours        []float64
}{
	kDormant:    {0.03, 0.5, 0.12, 1, 0.6, 0.4, 0.1, 0.02, 0.3, 0.02, hoursEvening},
	kLongTerm:   {0.30, 0.4, 0.16, 1.3, 0.7, 0.5, 0.1, 0.12, 0.6, 0.08, hoursWorker},
	kSwing:      {0.80, 0.3, 0.24, 1.5, 0.7, 0.6, 0.15, 0.35, 0.7, 0.4, hoursSwing},
	kDayTrader:  {2.50, 0.15, 0.85, 4, 1.0, 0.7, 0.05, 0.9, 0.9, 0.6, hoursSession},
	kElderly:    {0.35, 0.4, 0.2, 1.2, 0.95, 0.2, 0.05, 0.05, 0.5, 0.03, hoursDaytime},
	kSpeculator: {1.00, 0.3, 0.35, 1.8, 0.5, 0.8, 0.2, 0.45, 0.6, 1.0, hoursNight},
}

// Years since the account was opened, by kind.
var accountAge = [numKinds][2]float64{kDormant: {2, 20}, kLongTerm: {1, 25}, kSwing: {0.5, 15}, kDayTrader: {0.5, 12},
	kElderly: {5, 30}, kSpeculator: {0.2, 10}}

// Login hour weights (JST, 0..23).
var (
	hoursEvening = []float64{1, 0.5, 0.2, 0.1, 0.1, 0.2, 0.5, 1, 1.5, 2, 2, 2, 2.5, 2, 2, 2, 2, 2, 2.5, 3.5, 4.5, 5, 4.5, 2.5}
	hoursWorker  = []float64{0.8, 0.3, 0.1, 0.05, 0.05, 0.2, 1.5, 4, 3.5, 1.5, 1, 1.2, 4, 2.5, 1, 1, 1, 1.5, 2, 3, 4, 4.5, 4, 2}
	hoursSwing   = []float64{1, 0.5, 0.2, 0.1, 0.1, 0.2, 0.8, 2.5, 4.5, 4, 2.5, 2, 3.5, 3, 2.5, 3, 2.5, 2, 2, 2.5, 3, 3.5, 3, 1.8}
	hoursSession = []float64{0.3, 0.1, 0.05, 0.05, 0.05, 0.1, 0.5, 2, 6, 8, 6, 4, 4, 5, 5, 3, 1.5, 1, 1, 1.2, 1.5, 1.5, 1, 0.6}
	hoursDaytime = []float64{0.1, 0.05, 0.02, 0.02, 0.05, 0.3, 1.2, 2.5, 4, 5, 4.5, 3.5, 2.5, 3, 3, 2.5, 2, 1.5, 1.2, 1.2, 1.2, 0.8, 0.4, 0.2}
	hoursNight   = []float64{2.5, 1.5, 0.8, 0.3, 0.1, 0.2, 0.6, 1.5, 3.5, 3.5, 2, 1.5, 3, 2.5, 2, 2.5, 2, 2, 2.5, 3, 3.5, 4, 4, 3.5}
)

// Account types of positions and orders.
const (
	acCash uint8 = iota
	acMargin
	acNISA
)

var acctTypeNames = [...]string{"cash", "margin", "nisa"}

// position is a holding of one instrument in one account type.
type position struct {
	in    *instrument
	qty   int64 // shares held
	avail int64 // shares not reserved by open sell orders
	cost  float64
	typ   uint8
}

// device is a client the firm can recognise: a browser profile with its cookie or an app install.
type device struct {
	id    string // the firm's device id; "" until the firm has issued one
	br    browser
	lag   int // versions behind the newest
	model int
	ua    string
	uaDay int64
	used  int64 // last login from this device
}

// uaKey identifies a User-Agent string; devices of the same software share one string.
type uaKey struct {
	br         browser
	day        int64
	lag, model int
}

// userAgent returns the device's User-Agent on day.
func (g *gen) userAgent(d *device, day int64) string {
	if d.ua != "" && d.uaDay == day {
		return d.ua
	}
	k := uaKey{d.br, day, d.lag, d.model % 56}
	ua, ok := g.uas[k]
	if !ok {
		ua = userAgent(d.br, day, d.lag, d.model%56)
		g.uas[k] = ua
	}
	d.ua, d.uaDay = ua, day
	return ua
}

// Roles of an account.
const (
	roleCustomer uint8 = iota
	roleBeneficiary
)

// account is one customer account and its owner's habits.
type account struct {
	idx        int
	id         string
	kind       custKind
	role       uint8
	opened     int64 // day number
	mfa        string
	notif      bool
	margin     bool
	marginUsed bool
	smallCaps  bool // trades small caps habitually
	lang       string
	cash       float64
	credit     float64 // margin borrowed
	pos        []*position
	devices    []*device
	app, web   *device // the first app and browser device (see indexDevices)
	home       addr
	carrier    int // mobile range index
	household  int // -1 when none
	bank       string
	banks      []string
	peakHour   float64
	rate       float64 // logins per trading day
	expRate    float64 // exp(-rate), exp(-rate on a weekend): for drawing the day's sessions
	expWeekend float64
	vpn        bool
	vpnRange   int
	api        *device // a trading program on a cloud server (day traders)
	apiAddr    addr
	phone      bool // places some orders by phone
	trip       *trip
	taken      *Takeover // the takeover of this account, if any
	office     *addr     // the cloud egress of the customer's employer (varied runs), nil when none
	agg        int8      // household-finance service that logs in nightly (1-based; 0 = none)
}

type trip struct {
	from, to int64 // ms
	country  string
	rng      int // foreign ISP range
}

func (a *account) stockValue() float64 {
	v := 0.0
	for _, p := range a.pos {
		v += float64(p.qty) * p.in.price
	}
	return v
}

func (a *account) position(in *instrument, typ uint8) *position {
	for _, p := range a.pos {
		if p.in == in && p.typ == typ {
			return p
		}
	}
	return nil
}

// newPosition allocates a position from a block, keeping positions close together in memory.
func (g *gen) newPosition(p position) *position {
	if len(g.posSlab) == 0 {
		g.posSlab = make([]position, 4096)
	}
	q := &g.posSlab[0]
	g.posSlab = g.posSlab[1:]
	*q = p
	return q
}

// dropPosition removes a position that is sold out (orders keep their own pointer to it).
func (a *account) dropPosition(p *position) {
	for i, q := range a.pos {
		if q == p {
			a.pos = append(a.pos[:i], a.pos[i+1:]...)
			return
		}
	}
}

func (a *account) holds(in *instrument) bool {
	for _, p := range a.pos {
		if p.in == in && p.qty > 0 {
			return true
		}
	}
	return false
}

// deviceFor returns the customer's first device on the channel (app or browser), or any device.
func (a *account) deviceFor(app bool) *device {
	if app && a.app != nil {
		return a.app
	}
	if !app && a.web != nil {
		return a.web
	}
	return a.devices[0]
}

func (a *account) hasApp() bool { return a.app != nil }

// browserDevice returns the account's first browser (not app) device, or nil.
func (a *account) browserDevice() *device { return a.web }

// indexDevices notes the first app and browser device; call it after changing a.devices.
func (a *account) indexDevices() {
	a.app, a.web = nil, nil
	for _, d := range a.devices {
		if d.br.info().app {
			if a.app == nil {
				a.app = d
			}
		} else if a.web == nil {
			a.web = d
		}
	}
}

// appendAccountID appends the login id of account i: "A" and eight digits, unique per index.
func appendAccountID(b []byte, i int) []byte {
	const m = 90_000_000
	n := 10_000_000 + (uint64(i)*48_271_373+7_777_777)%m // 48271373 is coprime with m
	return strconv.AppendUint(append(b, 'A'), n, 10)
}

func (g *gen) newDevice(r *rng, br browser) *device {
	if len(g.devSlab) == 0 {
		g.devSlab = make([]device, 4096)
	}
	d := &g.devSlab[0]
	g.devSlab = g.devSlab[1:]
	*d = device{br: br, model: r.intn(100)}
	if r.chance(0.2) {
		d.lag = r.between(1, 3)
	}
	d.id = r.id('d', 16)
	return d
}

func pickDesktop(r *rng, elderly bool) browser {
	if elderly {
		return []browser{brEdgeWin, brChromeWin, brSafariMac, brFirefoxWin}[r.pick([]float64{0.45, 0.4, 0.1, 0.05})]
	}
	return []browser{brChromeWin, brEdgeWin, brFirefoxWin, brChromeMac, brSafariMac}[r.pick([]float64{0.45, 0.2, 0.05, 0.12, 0.18})]
}

func pickPhone(r *rng, app bool) browser {
	ios := r.chance(0.62)
	switch {
	case app && ios:
		return brAppIOS
	case app:
		return brAppAndroid
	case ios:
		return brSafariIOS
	}
	return brChromeAndroid
}

// buildPopulation creates the firm's customers, their devices, networks and opening positions.
func (g *gen) buildPopulation() {
	r := g.rp
	sc := g.sc
	k := sc.Customers.Kinds
	kw := []float64{k.Dormant, k.LongTerm, k.Swing, k.DayTrader, k.Elderly, k.Speculator}
	f := sc.Customers.MFA
	mw := []float64{f.None, f.EmailOTP, f.SMSOTP, f.TOTP, f.Passkey}
	mfas := []string{"none", "email_otp", "sms_otp", "totp", "passkey"}
	langs := []string{"en", "zh", "ko", "vi"}
	langW := []float64{0.45, 0.35, 0.1, 0.1}
	g.accts = make([]*account, sc.Accounts)
	slab := make([]account, sc.Accounts)
	ids := make([]byte, 0, 9*sc.Accounts) // every id is 9 bytes: they share one block
	for i := range g.accts {
		kind := custKind(r.pick(kw))
		h := &kindHabits[kind]
		a := &slab[i] // accounts lie side by side: the daily passes over them stay in cache
		start := len(ids)
		ids = appendAccountID(ids, i)
		*a = account{idx: i, id: unsafeString(ids[start:len(ids):len(ids)]), kind: kind, household: -1, lang: "ja"}
		a.mfa = mfas[r.pick(mw)]
		if kind == kElderly && a.mfa == "totp" {
			a.mfa = "sms_otp"
		}
		a.notif = !r.chance(sc.Customers.NotificationsOff)
		a.margin = r.chance(h.margin)
		a.marginUsed = a.margin && r.chance(h.marginUsed)
		a.smallCaps = r.chance(h.smallCaps)
		if r.chance(sc.Customers.ForeignLanguage) {
			a.lang = langs[r.pick(langW)]
		}
		years := accountAge[kind]
		age := r.uniform(years[0], years[1]) * 365
		if r.chance(0.08) {
			age = r.uniform(20, 200) // opened recently (new NISA, first investors)
		}
		a.opened = g.firstDay - int64(age)
		a.rate = math.Min(h.loginsPerDay*r.lognorm(-0.2, 0.6)*sc.Customers.Activity, 20)
		a.expRate, a.expWeekend = math.Exp(-a.rate), math.Exp(-a.rate*h.weekend)
		a.peakHour = float64(r.pick(h.hours)) + r.float()
		a.phone = kind == kElderly && r.chance(0.35)

		// Devices.
		if r.chance(h.desktop) {
			a.devices = append(a.devices, g.newDevice(r, pickDesktop(r, kind == kElderly)))
		}
		if r.chance(h.app) {
			a.devices = append(a.devices, g.newDevice(r, pickPhone(r, true)))
		}
		if r.chance(h.mobileWeb) || len(a.devices) == 0 {
			a.devices = append(a.devices, g.newDevice(r, pickPhone(r, false)))
		}

		// Networks.
		a.home = g.nets.drawKind(r, kindJPFixed, "JP")
		a.carrier = g.nets.rangeOf(r, kindJPMobile, "JP")
		if r.chance(sc.Surprises.VPNUsers) {
			a.vpn = true
			if r.chance(0.7) {
				a.vpnRange = g.nets.rangeOf(r, kindVPN, []string{"JP", "JP", "US", ""}[r.intn(4)])
			} else {
				a.vpnRange = g.nets.rangeOf(r, kindHosting, "JP")
			}
		}
		if kind == kDayTrader && r.chance(sc.Surprises.APITraders) {
			a.api = g.newDevice(r, []browser{brPythonTool, brGoTool}[r.intn(2)])
			a.apiAddr = g.nets.drawKind(r, kindHosting, "JP")
			if g.vary && r.chance(0.3) {
				a.apiAddr = g.nets.drawKind(r, kindHosting, "") // a VPS wherever it is cheap
			}
			g.apiTraders++
		}
		a.bank = "bk-" + r.hex(10)
		a.banks = []string{a.bank}

		a.indexDevices()
		for _, d := range a.devices {
			d.used = dayStart(g.firstDay) - int64(r.exp()/math.Max(a.rate, 0.02)*float64(msDay))
		}
		g.openingBook(r, a)
		g.accts[i] = a
		g.byID[a.id] = a
	}
	// Households: accounts sharing a home address, some also one PC.
	n := int(float64(len(g.accts)) * sc.Surprises.SharedHousehold)
	hh := 0
	for placed := 0; placed+1 < n; {
		size := 2
		if r.chance(0.2) && placed+3 <= n {
			size = 3
		}
		first := g.accts[r.intn(len(g.accts))]
		if first.household >= 0 {
			continue
		}
		members := []*account{first}
		for tries := 0; len(members) < size && tries < 20; tries++ {
			b := g.accts[r.intn(len(g.accts))]
			if b.household < 0 && b != first {
				dup := false
				for _, m := range members {
					dup = dup || m == b
				}
				if !dup {
					members = append(members, b)
				}
			}
		}
		if len(members) < 2 {
			continue
		}
		sharePC := r.chance(sc.Surprises.SharedDevice) && first.browserDevice() != nil
		for _, m := range members {
			m.household = hh
			m.home = first.home
			if sharePC && m != first {
				pc := first.browserDevice()
				replaced := false
				for j, d := range m.devices {
					if !d.br.info().app && !d.br.info().mobile {
						m.devices[j] = pc
						replaced = true
						break
					}
				}
				if !replaced {
					m.devices = append([]*device{pc}, m.devices...)
				}
				m.indexDevices()
			}
		}
		g.truth.Households++
		g.truth.HouseholdAccounts += len(members)
		if sharePC {
			g.truth.SharedDeviceHouseholds++
		}
		hh++
		placed += len(members)
	}
}

// openingBook gives an account its cash and holdings at the start.
func (g *gen) openingBook(r *rng, a *account) {
	add := func(in *instrument, value float64, typ uint8) {
		if in == nil || a.position(in, typ) != nil || a.holds(in) {
			return
		}
		var qty int64
		if in.fund {
			qty = int64(value / in.price)
		} else {
			qty = int64(value/in.price/float64(in.lot)) * in.lot
		}
		if qty <= 0 {
			return
		}
		cost := in.price * r.lognorm(-0.05, 0.25)
		if !in.fund {
			cost = math.Round(cost*10) / 10
		} else {
			cost = math.Round(cost*10000) / 10000
		}
		a.pos = append(a.pos, g.newPosition(position{in: in, qty: qty, avail: qty, cost: cost, typ: typ}))
	}
	prime := func() *instrument { return g.primes[r.intn(len(g.primes))] }
	small := func() *instrument { return g.smalls[r.intn(len(g.smalls))] }
	fund := func() *instrument { return g.funds[r.intn(len(g.funds))] }
	nisaOr := func(p float64) uint8 {
		if r.chance(p) {
			return acNISA
		}
		return acCash
	}
	switch a.kind {
	case kDormant:
		a.cash = r.lognorm(math.Log(3e5), 1.0)
		for i, n := 0, r.between(1, 3); i < n; i++ {
			add(fund(), r.lognorm(math.Log(1.2e6), 0.9), nisaOr(0.8))
		}
		if r.chance(0.3) {
			add(prime(), r.lognorm(math.Log(6e5), 0.7), nisaOr(0.4))
		}
	case kLongTerm:
		a.cash = r.lognorm(math.Log(1e6), 1.0)
		for i, n := 0, r.between(2, 9); i < n; i++ {
			add(prime(), r.lognorm(math.Log(1.2e6), 0.9), nisaOr(0.3))
		}
		if r.chance(0.5) {
			add(fund(), r.lognorm(math.Log(1.5e6), 0.8), nisaOr(0.8))
		}
	case kSwing:
		a.cash = r.lognorm(math.Log(1.5e6), 0.9)
		for i, n := 0, r.between(1, 5); i < n; i++ {
			add(prime(), r.lognorm(math.Log(8e5), 0.8), nisaOr(0.15))
		}
		if a.smallCaps {
			add(small(), r.lognorm(math.Log(4e5), 0.8), acCash)
		}
	case kDayTrader:
		a.cash = r.lognorm(math.Log(5e6), 0.8)
		for i, n := 0, r.between(0, 3); i < n; i++ {
			add(prime(), r.lognorm(math.Log(1e6), 0.8), acCash)
		}
	case kElderly:
		a.cash = r.lognorm(math.Log(4e6), 1.0)
		for i, n := 0, r.between(3, 8); i < n; i++ {
			add(prime(), r.lognorm(math.Log(2e6), 0.9), nisaOr(0.1))
		}
		if r.chance(0.6) {
			add(fund(), r.lognorm(math.Log(2e6), 0.8), nisaOr(0.5))
		}
	case kSpeculator:
		a.cash = r.lognorm(math.Log(6e5), 1.0)
		for i, n := 0, r.between(1, 4); i < n; i++ {
			add(small(), r.lognorm(math.Log(3e5), 0.8), acCash)
		}
		if r.chance(0.5) {
			add(prime(), r.lognorm(math.Log(5e5), 0.8), acCash)
		}
	}
	a.cash = math.Round(a.cash)
}
