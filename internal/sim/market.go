package sim

import (
	"math"
	"strconv"
)

// instrument is one listed stock or fund and its market state.
type instrument struct {
	idx       int
	symbol    string
	name      string
	market    string // prime | standard | growth | fund
	lot       int64
	shares    float64 // shares outstanding
	fund      bool
	small     bool    // standard/growth small cap
	sigma     float64 // daily volatility of log price
	price     float64 // last price
	prevClose float64
	open      float64 // today's opening price
	adv       float64 // 20-day average daily volume
	vols      [20]float64
	volPos    int
	dayVol    float64 // today's volume so far
	prevVol   float64 // the previous trading day's volume
	minVol    int64   // volume of the current minute (background and this firm's fills)
	tradeSize float64 // typical background trade in shares
	dayFactor float64 // today's activity level
	quoteOff  int64   // ms after the minute at which this symbol's quote is stamped

	queue   []*order // market orders waiting for the next opening
	resting []*order // limit orders waiting for the price
	bestBid float64  // highest resting buy limit (0 = none)
	bestAsk float64  // lowest resting sell limit (0 = none)
	navQ    []*order // fund orders waiting for the day's NAV

	ramp     *ramp // set on the target of a campaign
	watchers int   // campaigns that picked the symbol (a symbol is targeted once)
}

// ramp is the pump of a campaign's target: volume and price rise from the ramp start to a peak, fade
// in the afternoon and over the following days.
type ramp struct {
	day        int64   // day number of the ramp day
	startMin   int     // trading minute (0..299) of the ramp start
	peakMin    int     // trading minute of the peak
	rise       float64 // log rise from the ramp start to the peak
	closeKeep  float64 // share of the rise kept at the close
	mult       float64 // ramp day volume over the previous day's
	weights    []float64
	leadDays   []int64 // days of quiet accumulation before the ramp (volume 1.5-2.5x)
	afterDays  []int64 // days after the ramp
	afterMult  []float64
	afterDrift []float64
	cmp        *Campaign
	startT     int64     // the ramp start
	up         []float64 // varied runs: each minute's log rise before the peak (nil: an even rise)
	second     *ramp     // varied runs: a weaker pump on the next trading day
}

// tickSize is the TSE tick for a price (standard table).
func tickSize(p float64) float64 {
	switch {
	case p <= 3000:
		return 1
	case p <= 5000:
		return 5
	case p <= 30000:
		return 10
	case p <= 50000:
		return 50
	default:
		return 100
	}
}

// priceLimit is the TSE daily price limit for a base price.
func priceLimit(p float64) float64 {
	steps := []struct{ below, limit float64 }{
		{100, 30}, {200, 50}, {500, 80}, {700, 100}, {1000, 150}, {1500, 300}, {2000, 400}, {3000, 500},
		{5000, 700}, {7000, 1000}, {10000, 1500}, {15000, 3000}, {20000, 4000}, {30000, 5000}, {50000, 7000},
		{70000, 10000}, {100000, 15000},
	}
	for _, s := range steps {
		if p < s.below {
			return s.limit
		}
	}
	return 30000
}

func (in *instrument) round(p float64) float64 {
	if in.fund {
		return math.Round(p*10000) / 10000
	}
	t := tickSize(p)
	v := math.Round(p/t) * t
	if v < 1 {
		v = 1
	}
	return v
}

// clamp keeps p within today's price limits.
func (in *instrument) clamp(p float64) float64 {
	if in.fund {
		return p
	}
	lim := priceLimit(in.prevClose)
	if p > in.prevClose+lim {
		p = in.prevClose + lim
	}
	if p < in.prevClose-lim {
		p = in.prevClose - lim
	}
	if p < 1 {
		p = 1
	}
	return p
}

// impact moves the price after this firm's fill of qty shares (positive buys), square-root law.
func (in *instrument) impact(qty int64) {
	if in.fund || in.adv <= 0 {
		return
	}
	q := math.Abs(float64(qty))
	d := in.sigma * 0.5 * math.Sqrt(q/in.adv)
	if d > 0.05 {
		d = 0.05
	}
	if qty < 0 {
		d = -d
	}
	in.price = in.round(in.clamp(in.price * math.Exp(d)))
}

// Name parts for the fictitious listed companies.
var (
	namePrefixes = []string{"東海", "北斗", "関西", "九州", "中央", "日本", "大和", "三和", "新日本", "東洋", "北陸", "瀬戸内",
		"富士", "丸栄", "昭和", "平成", "明星", "常盤", "旭", "あおば", "みらい", "さくら", "湘南", "信州", "琉球", "白鷺", "光陽", "東邦"}
	nameSectors = []string{"製薬", "電機", "化学", "建設", "食品", "工業", "精機", "商事", "不動産", "情報システム", "ホールディングス",
		"産業", "物産", "電子", "通信", "運輸", "重工", "鉄鋼", "繊維", "バイオ", "ソフトウェア", "メディカル", "エナジー", "テクノロジー"}
	fundNames = []string{"全世界株式インデックス", "米国株式(S&P500)", "先進国株式インデックス", "日経225インデックス", "TOPIXインデックス",
		"バランス(8資産均等型)", "新興国株式インデックス", "米国NASDAQ100", "国内債券インデックス", "J-REITインデックス",
		"高配当日本株", "グローバルAI株式", "インド株式", "先進国債券", "ゴールド"}
	fundHouses = []string{"あおぞら", "みらい", "さくら", "東京", "ひかり", "つばさ"}
)

// buildMarket creates the instrument universe with 20 days of volume history.
func (g *gen) buildMarket() {
	r := g.rm
	m := g.sc.Market
	used := map[string]bool{}
	names := map[string]bool{}
	code := func() string {
		for {
			c := strconv.Itoa(1300 + r.intn(8700))
			if !used[c] {
				used[c] = true
				return c
			}
		}
	}
	name := func() string {
		for {
			n := namePrefixes[r.intn(len(namePrefixes))] + nameSectors[r.intn(len(nameSectors))]
			if !names[n] {
				names[n] = true
				return n
			}
			n += strconv.Itoa(2 + r.intn(8))
			if !names[n] {
				names[n] = true
				return n
			}
		}
	}
	add := func(in *instrument) {
		in.idx = len(g.insts)
		in.prevClose = in.price
		in.open = in.price
		in.quoteOff = int64(len(g.insts)) % 900 // symbols' quotes follow each other within the second
		in.dayFactor = 1
		for i := range in.vols {
			in.vols[i] = in.adv * r.lognorm(-0.1, 0.45)
		}
		in.adv = mean(in.vols[:])
		in.prevVol = in.vols[len(in.vols)-1]
		g.insts = append(g.insts, in)
		g.bySymbol[in.symbol] = in
	}
	for i := 0; i < m.Prime; i++ {
		price := math.Round(r.lognorm(math.Log(2500), 0.8))
		price = math.Max(300, math.Min(price, 40000))
		shares := math.Round(r.lognorm(math.Log(4e8), 1.0)/1e5) * 1e5
		in := &instrument{symbol: code(), name: name(), market: "prime", lot: 100, shares: shares,
			sigma: r.uniform(0.012, 0.022), tradeSize: 100 * float64(r.between(2, 10))}
		in.price = in.round(price)
		in.adv = shares * r.uniform(0.001, 0.006)
		add(in)
	}
	small := func(market string) {
		cheap := r.chance(0.7)
		var price float64
		if cheap {
			price = r.uniform(80, 400)
		} else {
			price = r.lognorm(math.Log(900), 0.5)
		}
		cap := r.lognorm(math.Log(3e9), 0.6)
		if cheap && cap > 5e9 {
			cap = r.uniform(1e9, 5e9)
		}
		shares := math.Round(cap/price/1e4) * 1e4
		in := &instrument{symbol: code(), name: name(), market: market, lot: 100, shares: shares, small: true,
			sigma: r.uniform(0.022, 0.045), tradeSize: 100}
		in.price = in.round(price)
		in.adv = shares * r.lognorm(math.Log(0.0015), 0.7)
		if in.adv < 2000 {
			in.adv = 2000
		}
		add(in)
	}
	for i := 0; i < m.Standard; i++ {
		small("standard")
	}
	for i := 0; i < m.Growth; i++ {
		small("growth")
	}
	for i := 0; i < m.Funds; i++ {
		c := "0" + strconv.Itoa(3+r.intn(2)) + r.digits(5) + string("1ABC"[r.intn(4)])
		for used[c] {
			c = "0" + strconv.Itoa(3+r.intn(2)) + r.digits(5) + string("1ABC"[r.intn(4)])
		}
		used[c] = true
		n := fundHouses[r.intn(len(fundHouses))] + " " + fundNames[i%len(fundNames)]
		if names[n] {
			n += " " + strconv.Itoa(i)
		}
		names[n] = true
		in := &instrument{symbol: c, name: n, market: "fund", lot: 1, fund: true, sigma: r.uniform(0.004, 0.012)}
		in.price = in.round(r.uniform(0.9, 3.6)) // NAV per unit (基準価額 per 10,000 units / 10,000)
		add(in)
	}
	for _, in := range g.insts {
		switch {
		case in.fund:
			g.funds = append(g.funds, in)
		case in.small:
			g.smalls = append(g.smalls, in)
			if in.price >= 80 && in.price <= 400 {
				g.cheapSmalls = append(g.cheapSmalls, in)
			}
		default:
			g.primes = append(g.primes, in)
		}
	}
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// intraday is the U-shaped share of a day's volume per trading minute (mean 1).
var intraday = func() [sessMins]float64 {
	var u [sessMins]float64
	sum := 0.0
	for m := range u {
		x := 1.0
		switch {
		case m < 150: // morning: busy open
			x = 0.7 + 1.8*math.Exp(-float64(m)/12)
		default: // afternoon: busy close
			x = 0.65 + 0.3*math.Exp(-float64(m-150)/10) + 1.2*math.Exp(-float64(sessMins-1-m)/15)
		}
		u[m] = x
		sum += x
	}
	for m := range u {
		u[m] *= sessMins / sum
	}
	return u
}()

// minuteTime returns the end of trading minute m (0..299) of day: 9:01 .. 11:30, 12:31 .. 15:30.
func minuteTime(day int64, m int) int64 {
	if m < 150 {
		return dayStart(day) + amOpen + int64(m+1)*msMinute
	}
	return dayStart(day) + pmOpen + int64(m-150+1)*msMinute
}

// tradingMinute returns the trading minute that contains t (clamped to the session).
func tradingMinute(t int64) int {
	o := timeOfDay(t)
	switch {
	case o < amOpen:
		return 0
	case o < amClose:
		return int((o - amOpen) / msMinute)
	case o < pmOpen:
		return 150
	case o < pmClose:
		return 150 + int((o-pmOpen)/msMinute)
	}
	return sessMins - 1
}

// scheduleMarketDay queues the market's tasks for a trading day.
func (g *gen) scheduleMarketDay(day int64) {
	ds := dayStart(day)
	g.at(ds+8*msHour, func(t int64) { g.preOpen(t, day) })
	g.at(ds+amOpen, func(t int64) { g.openSession(t, true) })
	for m := 0; m < sessMins; m++ {
		m := m
		g.at(minuteTime(day, m), func(t int64) { g.minute(t, day, m) })
		if m == 149 {
			g.at(ds+pmOpen, func(t int64) { g.openSession(t, false) })
		}
	}
	g.at(ds+pmClose, func(t int64) { g.closeDay(t, day) })
}

// preOpen starts a trading day: instrument reference data with yesterday's close and volume average.
func (g *gen) preOpen(t int64, day int64) {
	r := g.rm
	g.ramping = g.ramping[:0]
	for _, in := range g.insts {
		if in.ramp != nil && in.ramp.day == day {
			g.ramping = append(g.ramping, in)
		}
		in.dayVol = 0
		in.dayFactor = r.lognorm(-0.04, 0.3)
		if rp := in.ramp; rp != nil {
			if rp.day == day {
				rp.cmp.PrevClose = in.prevClose
				rp.cmp.PrevDayVolume = in.prevVol
			}
			for _, d := range rp.leadDays {
				if d == day {
					in.dayFactor *= r.uniform(1.5, 2.5)
				}
			}
			for i, d := range rp.afterDays {
				if d == day {
					in.dayFactor *= rp.afterMult[i]
				}
			}
		}
		g.emitInstrument(t, in)
	}
}

// openSession runs an opening auction: a gap from the previous price, then the queued market orders.
func (g *gen) openSession(t int64, morning bool) {
	r := g.rm
	for _, in := range g.insts {
		if in.fund {
			continue
		}
		if morning {
			gap := in.sigma * 0.35 * r.norm()
			if rp := in.ramp; rp != nil {
				for i, d := range rp.afterDays {
					if d == jstDay(t) {
						gap += rp.afterDrift[i] * 0.5
					}
				}
			}
			in.price = in.round(in.clamp(in.prevClose * math.Exp(gap)))
			in.open = in.price
			if rp := in.ramp; rp != nil && rp.day == jstDay(t) {
				rp.cmp.Open, rp.cmp.High = in.price, in.price
			}
		}
		q := in.queue
		in.queue = nil
		for i, o := range q {
			g.execute(t+int64(10+i*3+r.intn(40)), o)
		}
	}
}

// minute closes one trading minute: background volume, the price step, the quote, resting orders.
func (g *gen) minute(t int64, day int64, m int) {
	r := g.rm
	for _, in := range g.insts {
		if in.fund {
			continue
		}
		exp := in.adv / sessMins * intraday[m] * in.dayFactor
		drift := 0.0
		noise := in.sigma / math.Sqrt(sessMins)
		rp := in.ramp
		if rp != nil && rp.day != day && rp.second != nil && rp.second.day == day {
			rp = rp.second
		}
		if rp != nil && rp.day == day && m >= rp.startMin {
			exp += rp.mult * in.prevVol * rp.weights[m-rp.startMin]
			k := m - rp.startMin
			peak := rp.peakMin - rp.startMin
			if k < peak {
				drift = rp.rise / float64(peak)
				if rp.up != nil {
					drift = rp.up[k]
				}
				noise *= 3
			} else if rem := sessMins - rp.peakMin; rem > 0 {
				drift = -rp.rise * (1 - rp.closeKeep) / float64(rem)
				noise *= 2
			}
		} else if rp != nil {
			for i, d := range rp.afterDays {
				if d == day {
					drift = rp.afterDrift[i] * 0.5 / sessMins
					noise *= 1.5
				}
			}
		}
		var vol int64
		if lots := exp / in.tradeSize; lots < 30 {
			vol = int64(r.poisson(lots)) * int64(in.tradeSize)
			if vol > 0 && in.tradeSize > 100 {
				vol = int64(math.Round(float64(vol)*r.uniform(0.5, 1.5)/100)) * 100
			}
		} else {
			vol = int64(math.Round(exp*r.lognorm(-0.1, 0.45)/100)) * 100
		}
		total := vol + in.minVol
		in.minVol = 0
		if total <= 0 {
			continue
		}
		act := math.Sqrt(math.Min(float64(vol)/math.Max(exp, 1), 4))
		step := drift + noise*act*r.norm()
		in.price = in.round(in.clamp(in.price * math.Exp(step)))
		in.dayVol += float64(total)
		if rp := in.ramp; rp != nil && rp.day == day && in.price > rp.cmp.High {
			rp.cmp.High = in.price
		}
		g.emitQuote(t+in.quoteOff, in, total)
		if len(in.resting) > 0 {
			g.checkResting(t+in.quoteOff+1, in)
		}
	}
}

// closeDay ends a trading day: limit orders expire, funds get their NAV, statistics roll.
func (g *gen) closeDay(t int64, day int64) {
	r := g.rm
	for _, in := range g.insts {
		if in.fund {
			in.price = in.round(in.price * math.Exp(in.sigma*r.norm()))
			g.emitQuote(t+in.quoteOff, in, 0)
			q := in.navQ
			in.navQ = nil
			keep := q[:0]
			for _, o := range q {
				if o.placed < dayStart(day)+fundCut {
					g.execute(t+in.quoteOff+1+int64(r.intn(500)), o)
				} else {
					keep = append(keep, o)
				}
			}
			in.navQ = keep
			in.prevClose = in.price
			continue
		}
		for _, o := range in.resting {
			g.expire(o)
		}
		in.resting = in.resting[:0]
		in.bestBid, in.bestAsk = 0, 0
		if rp := in.ramp; rp != nil && rp.day == day {
			rp.cmp.Close = in.price
			rp.cmp.RampDayVolume = in.dayVol
		}
		in.prevClose = in.price
		in.prevVol = in.dayVol
		in.vols[in.volPos] = in.dayVol
		in.volPos = (in.volPos + 1) % len(in.vols)
		in.adv = math.Max(mean(in.vols[:]), 100)
	}
}
