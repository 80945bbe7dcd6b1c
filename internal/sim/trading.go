package sim

import (
	"math"
	"strconv"
)

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// order is an order of an account and its progress.
type order struct {
	id       string
	a        *account
	s        *session // nil for a phone order
	in       *instrument
	buy      bool
	qty      int64
	limit    float64 // 0 = market order
	typ      uint8
	filled   int64
	reserved float64 // cash held for a cash buy
	pos      *position
	placed   int64
	channel  string
	done     bool
	cmp      *Campaign // the campaign whose target a victim buys
	benef    *Campaign // the campaign whose target a beneficiary trades
}

func (o *order) side() string {
	if o.buy {
		return "buy"
	}
	return "sell"
}

// commission is the firm's fee for an execution worth v yen.
func (g *gen) commission(o *order, v float64) float64 {
	if g.sc.Market.Commission == "zero" && o.channel != "phone" {
		return 0
	}
	if o.typ == acNISA {
		return 0
	}
	var f float64
	switch {
	case v <= 50_000:
		f = 55
	case v <= 100_000:
		f = 99
	case v <= 200_000:
		f = 115
	case v <= 500_000:
		f = 275
	case v <= 1_000_000:
		f = 535
	case v <= 1_500_000:
		f = 640
	case v <= 30_000_000:
		f = 1013
	default:
		f = 1070
	}
	if o.in.fund {
		f = 0 // no-load funds
	}
	if o.channel == "phone" {
		f = math.Max(2200, f*3)
	}
	return f
}

// marginRoom is how much more the account may buy on margin.
func (a *account) marginRoom() float64 {
	if !a.margin {
		return 0
	}
	collateral := math.Max(a.cash, 0)
	for _, p := range a.pos {
		if p.typ != acMargin {
			collateral += 0.8 * float64(p.qty) * p.in.price
		}
	}
	return math.Max(0, 3.0*collateral-a.credit)
}

// placeOrder validates and writes an order and routes it. It returns nil (and writes nothing) when the
// account cannot place it.
func (g *gen) placeOrder(t int64, s *session, a *account, in *instrument, buy bool, qty int64, limit float64, typ uint8, channel string) *order {
	if qty <= 0 || in == nil {
		return nil
	}
	if !in.fund {
		qty = qty / in.lot * in.lot
		if qty <= 0 {
			return nil
		}
		if limit > 0 {
			limit = in.round(limit)
		}
	} else {
		limit = 0 // fund orders execute at the NAV
	}
	o := &order{a: a, s: s, in: in, buy: buy, qty: qty, limit: limit, typ: typ, placed: t, channel: channel,
		cmp: g.nextCmp, benef: g.nextBenef}
	if buy {
		ref := limit
		if ref == 0 {
			ref = in.price * 1.02
		}
		switch typ {
		case acMargin:
			room := a.marginRoom()
			if float64(qty)*ref > room {
				o.qty = int64(room/ref/float64(in.lot)) * in.lot
			}
		default:
			avail := a.cash - 2200
			if float64(o.qty)*ref > avail {
				if in.fund {
					o.qty = int64(avail / ref)
				} else {
					o.qty = int64(avail/ref/float64(in.lot)) * in.lot
				}
			}
			if o.qty > 0 {
				o.reserved = float64(o.qty) * ref
				a.cash -= o.reserved
			}
		}
		if o.qty <= 0 {
			return nil
		}
	} else {
		p := a.position(in, typ)
		if p == nil {
			// A sell of a holding in another account type (the customer sells what is there).
			for _, q := range a.pos {
				if q.in == in && q.avail > 0 {
					p = q
					break
				}
			}
		}
		if p == nil || p.avail <= 0 {
			return nil
		}
		o.typ = p.typ
		if o.qty > p.avail {
			o.qty = p.avail
			if !in.fund {
				o.qty = o.qty / in.lot * in.lot
				if o.qty == 0 {
					o.qty = p.avail // odd lot from a split: sell it whole
				}
			}
		}
		p.avail -= o.qty
		o.pos = p
	}
	g.orderSeq++
	b := make([]byte, 0, 12)
	b = append(b, 'o')
	o.id = unsafeString(strconv.AppendUint(b, g.orderSeq, 10))
	g.emitOrder(t, o)
	switch {
	case in.fund:
		in.navQ = append(in.navQ, o)
	case g.inSession(t):
		g.execute(t+int64(30+g.r.intn(400)), o)
	case o.limit == 0:
		in.queue = append(in.queue, o)
	default:
		in.rest(o)
	}
	return o
}

// execute fills an order now when the price allows, else leaves a limit order resting.
func (g *gen) execute(t int64, o *order) {
	if o.done {
		return
	}
	in := o.in
	if in.fund {
		g.fill(t, o, o.qty-o.filled, in.price)
		return
	}
	if o.limit > 0 {
		if (o.buy && in.price > o.limit) || (!o.buy && in.price < o.limit) {
			in.rest(o)
			return
		}
	}
	left := o.qty - o.filled
	parts := 1
	if lots := left / in.lot; lots >= 30 && g.r.chance(0.5) {
		parts = g.r.between(2, 4)
	}
	for i := 0; i < parts && left > 0; i++ {
		q := left
		if i < parts-1 {
			q = (left / int64(parts-i)) / in.lot * in.lot
			if q <= 0 {
				continue
			}
		}
		price := in.price
		if o.limit == 0 && g.r.chance(0.3) {
			d := tickSize(price)
			if !o.buy {
				d = -d
			}
			price = in.round(in.clamp(price + d))
		}
		if o.limit > 0 {
			if o.buy {
				price = math.Min(price, o.limit)
			} else {
				price = math.Max(price, o.limit)
			}
		}
		g.fill(t, o, q, price)
		left -= q
		t += int64(50 + g.r.intn(2500))
	}
}

// fill writes one execution and books it.
func (g *gen) fill(t int64, o *order, qty int64, price float64) {
	if qty <= 0 || o.done {
		return
	}
	a, in := o.a, o.in
	v := float64(qty) * price
	fee := g.commission(o, v)
	g.emitExecution(t, o, qty, price, fee)
	o.filled += qty
	if o.buy {
		switch o.typ {
		case acMargin:
			a.credit += v
			a.cash -= fee
			a.marginUsed = true
		default:
			share := o.reserved * float64(qty) / float64(o.qty)
			a.cash += share - v - fee
		}
		p := a.position(in, o.typ)
		if p == nil {
			p = g.newPosition(position{in: in, typ: o.typ})
			a.pos = append(a.pos, p)
		}
		p.cost = (p.cost*float64(p.qty) + v) / float64(p.qty+qty)
		if in.fund {
			p.cost = math.Round(p.cost*10000) / 10000
		} else {
			p.cost = math.Round(p.cost*10) / 10
		}
		p.qty += qty
		p.avail += qty
	} else {
		p := o.pos
		p.qty -= qty
		if p.qty <= 0 && p.avail <= 0 {
			a.dropPosition(p)
		}
		if o.typ == acMargin {
			a.credit -= p.cost * float64(qty)
			a.cash += (price-p.cost)*float64(qty) - fee
		} else {
			a.cash += v - fee
		}
	}
	if !in.fund {
		in.minVol += qty
		if o.buy {
			in.impact(qty)
		} else {
			in.impact(-qty)
		}
	}
	if o.filled >= o.qty {
		o.done = true
	}
	if c := o.cmp; c != nil && o.buy {
		c.HijackedBuyShares += qty
		c.HijackedBuyYen += v
		if c.FirstHijackedBuy == "" || t < c.firstBuyMs {
			c.FirstHijackedBuy = eventID(g.evSeq)
			c.FirstHijackedBuyTime = formatTime(t)
			c.firstBuyMs = t
		}
	}
	if c := o.benef; c != nil {
		if o.buy {
			c.BeneficiaryBuyShares += qty
		} else {
			c.BeneficiarySellShares += qty
		}
	}
}

// rest puts a limit order on the instrument's book.
func (in *instrument) rest(o *order) {
	in.resting = append(in.resting, o)
	if o.buy && o.limit > in.bestBid {
		in.bestBid = o.limit
	}
	if !o.buy && (in.bestAsk == 0 || o.limit < in.bestAsk) {
		in.bestAsk = o.limit
	}
}

// checkResting fills resting limit orders that the new price reaches.
func (g *gen) checkResting(t int64, in *instrument) {
	if in.price > in.bestBid && (in.bestAsk == 0 || in.price < in.bestAsk) {
		return // nothing on the book is reached
	}
	in.bestBid, in.bestAsk = 0, 0
	keep := in.resting[:0]
	var fire []*order
	for _, o := range in.resting {
		if o.done {
			continue
		}
		if (o.buy && in.price <= o.limit) || (!o.buy && in.price >= o.limit) {
			fire = append(fire, o)
		} else {
			keep = append(keep, o)
			if o.buy && o.limit > in.bestBid {
				in.bestBid = o.limit
			}
			if !o.buy && (in.bestAsk == 0 || o.limit < in.bestAsk) {
				in.bestAsk = o.limit
			}
		}
	}
	in.resting = keep
	for i, o := range fire {
		g.fill(t+int64(i), o, o.qty-o.filled, o.limit)
	}
}

// release gives back what an unfilled remainder held.
func (g *gen) release(o *order) {
	left := o.qty - o.filled
	if left <= 0 {
		return
	}
	if o.buy {
		if o.typ != acMargin {
			o.a.cash += o.reserved * float64(left) / float64(o.qty)
		}
	} else if o.pos != nil {
		o.pos.avail += left
	}
	o.done = true
}

// expire ends a day order at the close without an event (the firm's day orders lapse).
func (g *gen) expire(o *order) {
	if o.done {
		return
	}
	g.release(o)
	g.hot[cOrderExpired]++
}

// cancel withdraws an open order on the customer's request.
func (g *gen) cancel(t int64, o *order) bool {
	if o.done || o.filled > 0 {
		return false
	}
	g.release(o)
	in := o.in
	for i, r := range in.resting {
		if r == o {
			in.resting = append(in.resting[:i], in.resting[i+1:]...)
			break
		}
	}
	for i, r := range in.queue {
		if r == o {
			in.queue = append(in.queue[:i], in.queue[i+1:]...)
			break
		}
	}
	g.emitCancel(t, o)
	return true
}
