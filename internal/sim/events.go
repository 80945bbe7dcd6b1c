package sim

import (
	"math"
	"strconv"
)

// session is a logged-in (or hijacked) session and the client context its requests carry.
type session struct {
	a       *account
	id      string
	dev     *device // the client's device (nil for an attack tool that keeps no cookie)
	devID   string  // the device id the requests carry ("" = none)
	ip      addr
	ua      string
	tls     string
	lang    string
	channel string // web | app
	tk      *Takeover
	attack  bool // an attacker's session outside a takeover (failed stuffing attempts)
	mobile  bool // on a phone: the address may change during the session
}

func (g *gen) legit(a *account, s *session) bool {
	return (s == nil || (s.tk == nil && !s.attack)) && a.role == roleCustomer
}

func (g *gen) emitInstrument(t int64, in *instrument) {
	g.open(t, evInstrument, "")
	g.str("symbol", in.symbol)
	g.text("name", in.name)
	g.str("market", in.market)
	g.int("lot", in.lot)
	if in.shares > 0 {
		g.num("shares_outstanding", in.shares)
	}
	g.num("prev_close", in.prevClose)
	if !in.fund {
		g.num("avg_daily_volume", math.Round(in.adv))
	}
	g.close()
}

func (g *gen) emitQuote(t int64, in *instrument, vol int64) {
	g.open(t, evQuote, "")
	g.str("symbol", in.symbol)
	g.num("price", in.price)
	g.int("volume", vol)
	g.close()
}

func (g *gen) emitSnapshot(t int64, a *account) {
	g.open(t, evSnapshot, a.id)
	g.num("cash", math.Round(a.cash))
	g.raw(`,"holdings":[`)
	for i, p := range a.pos {
		if i > 0 {
			g.raw(",")
		}
		g.arena = append(g.arena, `{"symbol":`...)
		g.arena = appendStr(g.arena, p.in.symbol)
		g.arena = append(g.arena, `,"quantity":`...)
		g.arena = appendNum(g.arena, float64(p.qty))
		g.arena = append(g.arena, `,"cost":`...)
		g.arena = appendNum(g.arena, p.cost)
		g.arena = append(g.arena, '}')
	}
	g.raw("]")
	g.boolean("margin", a.margin)
	g.str("opened", dateString(a.opened))
	g.str("mfa", a.mfa)
	g.boolean("notifications", a.notif)
	g.close()
}

func (g *gen) clientFields(s *session) {
	g.ip("ip", s.ip.ip)
	g.optStr("user_agent", s.ua)
	g.optStr("device", s.devID)
	g.optStr("tls", s.tls)
}

// emitLogin writes a login attempt of session s (its id is used only on success).
func (g *gen) emitLogin(t int64, s *session, ok bool, failure, method string) uint64 {
	return g.emitLoginAs(t, s.a.id, s, ok, failure, method)
}

// emitLoginAs writes a login attempt typed as login id (which may not be an account).
func (g *gen) emitLoginAs(t int64, login string, s *session, ok bool, failure, method string) uint64 {
	n := g.open(t, evLogin, login)
	if ok {
		g.str("result", "success")
	} else {
		g.str("result", "failure")
		g.str("failure", failure)
	}
	g.str("method", method)
	if ok {
		g.str("session", s.id)
	}
	g.ip("ip", s.ip.ip)
	g.optStr("user_agent", s.ua)
	g.optStr("device", s.devID)
	g.str("country", s.ip.country())
	g.str("channel", s.channel)
	g.optStr("accept_language", s.lang)
	g.optStr("tls", s.tls)
	g.close()
	if s.a != nil {
		if ok {
			g.hot[cLoginSuccess]++
		} else {
			g.hot[loginFailureCounter(failure)]++
		}
		if g.legit(s.a, s) {
			if ok {
				g.truth.Legitimate.Logins++
			} else {
				g.truth.Legitimate.FailedLogins++
			}
		}
		if s.tk != nil {
			res := "success"
			if !ok {
				res = "failure"
			}
			e := AttackerEvent{Type: "login", Result: res}
			if ok {
				e.Session = s.id
			}
			g.attackerEvent(t, n, s, e)
		}
	} else {
		g.hot[loginFailureCounter(failure)]++
	}
	// A browser the firm has not seen gets a device id now; later requests carry it.
	if ok && s.dev != nil && s.dev.id == "" {
		s.dev.id = g.r.id('d', 16)
		s.devID = s.dev.id
	}
	return n
}

func (g *gen) emitLogout(t int64, s *session) {
	n := g.open(t, evLogout, s.a.id)
	g.str("session", s.id)
	g.close()
	if s.tk != nil {
		g.attackerEvent(t, n, s, AttackerEvent{Type: "logout", Session: s.id})
	}
}

func (g *gen) emitProfile(t int64, s *session, field, value string) {
	n := g.open(t, evProfile, s.a.id)
	g.optStr("session", s.id)
	g.clientFields(s)
	g.str("field", field)
	g.optStr("value", value)
	g.close()
	g.count("profile_change." + field)
	if g.legit(s.a, s) {
		g.truth.Legitimate.ProfileChanges++
	}
	if s.tk != nil {
		g.attackerEvent(t, n, s, AttackerEvent{Type: "profile_change", Session: s.id, Field: field, Value: value})
	}
}

func (g *gen) emitWithdrawal(t int64, s *session, amount float64, dest string) {
	n := g.open(t, evWithdrawal, s.a.id)
	g.str("session", s.id)
	g.clientFields(s)
	g.num("amount", amount)
	g.str("destination", dest)
	g.close()
	g.hot[cWithdrawal]++
	if g.legit(s.a, s) {
		g.truth.Legitimate.Withdrawals++
	}
	if s.tk != nil {
		g.attackerEvent(t, n, s, AttackerEvent{Type: "withdrawal", Session: s.id, Yen: amount, Destination: dest})
	}
}

func (g *gen) emitOrder(t int64, o *order) {
	n := g.open(t, evOrder, o.a.id)
	g.str("order_id", o.id)
	s := o.s
	if s != nil {
		g.str("session", s.id)
		g.clientFields(s)
	}
	g.str("symbol", o.in.symbol)
	g.str("side", o.side())
	g.int("quantity", o.qty)
	if o.limit > 0 {
		g.num("price", o.limit)
	}
	g.str("account_type", acctTypeNames[o.typ])
	g.str("channel", o.channel)
	g.close()
	if o.buy {
		g.hot[cOrderBuy]++
	} else {
		g.hot[cOrderSell]++
	}
	ref := o.limit
	if ref == 0 {
		ref = o.in.price
	}
	if s == nil || s.tk == nil {
		if o.a.role == roleCustomer {
			g.truth.Legitimate.Orders++
			g.truth.Legitimate.OrderYen += float64(o.qty) * ref
		}
		return
	}
	g.attackerEvent(t, n, s, AttackerEvent{Type: "order", Session: s.id, OrderID: o.id, Symbol: o.in.symbol,
		Side: o.side(), Quantity: o.qty, AccountType: acctTypeNames[o.typ], Yen: math.Round(float64(o.qty) * ref)})
}

func (g *gen) emitCancel(t int64, o *order) {
	n := g.open(t, evCancel, o.a.id)
	g.str("order_id", o.id)
	if o.s != nil {
		g.str("session", o.s.id)
	}
	g.close()
	g.hot[cCancel]++
	if o.s != nil && o.s.tk != nil {
		g.attackerEvent(t, n, o.s, AttackerEvent{Type: "cancel", Session: o.s.id, OrderID: o.id})
	}
}

func (g *gen) emitExecution(t int64, o *order, qty int64, price, fee float64) {
	g.execSeq++
	n := g.open(t, evExecution, o.a.id)
	g.str("order_id", o.id)
	g.arena = append(g.arena, `,"exec_id":"x`...)
	g.arena = strconv.AppendUint(g.arena, g.execSeq, 10)
	g.arena = append(g.arena, '"')
	g.str("symbol", o.in.symbol)
	g.str("side", o.side())
	g.int("quantity", qty)
	g.num("price", price)
	g.num("fee", fee)
	g.close()
	if o.s != nil && o.s.tk != nil {
		g.attackerEvent(t, n, o.s, AttackerEvent{Type: "execution", OrderID: o.id, Symbol: o.in.symbol, Side: o.side(),
			Quantity: qty, Yen: math.Round(float64(qty) * price)})
	}
}

func (g *gen) emitFraudReport(t int64, a *account, channel, note string) uint64 {
	n := g.open(t, evFraud, a.id)
	g.str("channel", channel)
	if note != "" {
		g.text("note", note)
	}
	g.close()
	g.count("fraud_report")
	return n
}

// attackerEvent records an event of a takeover in the truth.
func (g *gen) attackerEvent(t int64, n uint64, s *session, e AttackerEvent) {
	tk := s.tk
	if t < g.now {
		t = g.now
	}
	e.ID = eventID(n)
	e.Time = formatTime(t)
	tk.Events = append(tk.Events, e)
	tk.ms = append(tk.ms, t)
	tk.seq = append(tk.seq, n)
	if e.Type != "execution" {
		tk.noteSession(e.Session)
		tk.noteAddr(s.ip.ip)
	}
}
