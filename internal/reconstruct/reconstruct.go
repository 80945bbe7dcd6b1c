package reconstruct

import (
	"sort"
	"time"
)

// Reconstruct resolves an incident against the events: its orders with their executions, the attacker's
// accesses, the account's holdings just before, and its fraud report. An account without events, an
// order id not in the events, an order of another account, or a named session not seen on the account
// is an error for this incident.
func (b *Book) Reconstruct(inc *Claim) (*Reconstruction, *ClaimError) {
	a := b.accounts[inc.Account]
	if a == nil || !a.seen {
		return nil, NewClaimError(inc, "account %q: no events of this account in the event log", inc.Account)
	}
	rec := &Reconstruction{Incident: *inc}
	in := map[string]bool{}
	for _, id := range inc.Orders {
		o := b.orders[id]
		if o == nil || (o.EventID == "" && len(o.Fills) == 0) {
			return nil, NewClaimError(inc, "order %q: not in the event log", id)
		}
		if o.Account != inc.Account {
			return nil, NewClaimError(inc, "order %q: belongs to account %q, not %q", id, o.Account, inc.Account)
		}
		rec.Orders = append(rec.Orders, o)
		in[id] = true
	}
	sort.SliceStable(rec.Orders, func(i, j int) bool { return rec.Orders[i].Time.Before(rec.Orders[j].Time) })
	var times []time.Time
	for _, o := range rec.Orders {
		times = append(times, o.Time)
		for _, f := range o.Fills {
			times = append(times, f.Time)
		}
	}
	accesses, ierr := attackerAccesses(a, inc, rec.Orders, times)
	if ierr != nil {
		return nil, ierr
	}
	rec.Accesses = accesses
	if len(times) == 0 {
		for _, acc := range rec.Accesses {
			times = append(times, acc.Time)
		}
	}
	for i, t := range times {
		if i == 0 || t.Before(rec.Start) {
			rec.Start = t
		}
		if i == 0 || t.After(rec.End) {
			rec.End = t
		}
	}
	for i := range a.reports {
		r := &a.reports[i]
		if !r.Time.Before(rec.Start) && (rec.FraudReport.IsZero() || r.Time.Before(rec.FraudReport)) {
			rec.FraudReport = r.Time
			rec.Report = r
		}
	}
	rec.HeldBefore = b.heldBefore(a, in, rec.Start)
	return rec, nil
}

func (r eventRef) access(session, kind, match string) Access {
	return Access{Session: session, EventID: r.id, Time: r.time, Kind: kind, Match: match, Type: r.typ, Method: r.method, IP: r.ip, Device: r.device}
}

// AccessWindow is how far before the incident's first and after its last unauthorized event (or
// access of its own sessions) another session of the account is looked at for the attacker's access.
const AccessWindow = 72 * time.Hour

// attackerAccesses finds the attacker's accesses of an incident (see Reconstruction.Accesses for the
// rule), by time. times are the times of the unauthorized orders and their executions.
func attackerAccesses(a *accountBook, inc *Claim, orders []*Order, times []time.Time) ([]Access, *ClaimError) {
	// The incident's own sessions: those of its orders, then those it names.
	type seed struct {
		id, match string
		ips       map[string]bool // addresses of the unauthorized orders placed in it
	}
	var seeds []*seed
	byID := map[string]*seed{}
	orderIPs := map[string]bool{} // the addresses of the unauthorized orders: the attacker's
	for _, o := range orders {
		if o.Session == "" {
			continue
		}
		sd := byID[o.Session]
		if sd == nil {
			sd = &seed{id: o.Session, match: MatchOrder, ips: map[string]bool{}}
			byID[o.Session] = sd
			seeds = append(seeds, sd)
		}
		if o.IP != "" {
			sd.ips[o.IP] = true
			orderIPs[o.IP] = true
		}
	}
	for _, id := range inc.Sessions {
		if byID[id] == nil {
			sd := &seed{id: id, match: MatchNamed, ips: map[string]bool{}}
			byID[id] = sd
			seeds = append(seeds, sd)
		}
	}
	firstFrom := func(s *sessionBook, ips map[string]bool) (eventRef, bool) {
		var r eventRef
		for ip := range ips {
			if u, ok := s.byIP[ip]; ok && (r.id == "" || u.time.Before(r.time) || (u.time.Equal(r.time) && u.id < r.id)) {
				r = u
			}
		}
		return r, r.id != ""
	}
	var out []Access
	devices := map[string]bool{} // devices of the attacker's logins
	for _, sd := range seeds {
		s := a.sessions[sd.id]
		if s == nil {
			return nil, NewClaimError(inc, "session %q: no event of account %q in this session", sd.id, inc.Account)
		}
		ref := sd.ips // where the attacker's requests in this session came from
		if len(ref) == 0 {
			ref = orderIPs
		}
		u, fromAttacker := firstFrom(s, ref)
		switch {
		case s.login.id != "" && ref[s.login.ip]:
			// Logged in from where the unauthorized orders came from: the attacker's login, whose
			// device is the attacker's too.
			out = append(out, s.login.access(sd.id, AccessLogin, sd.match))
			if s.login.device != "" {
				devices[s.login.device] = true
			}
		case s.login.id != "" && fromAttacker:
			// Logged in elsewhere, used from the attacker's address: a stolen session.
			out = append(out, u.access(sd.id, AccessFirstUse, sd.match))
		case s.login.id != "":
			// A session the incident names, with nothing to tell whose login it was: its login.
			out = append(out, s.login.access(sd.id, AccessLogin, sd.match))
		case fromAttacker:
			out = append(out, u.access(sd.id, AccessFirstUse, sd.match))
		default:
			out = append(out, s.first.access(sd.id, AccessFirstUse, sd.match))
		}
	}
	if len(out) > 0 {
		// The incident window, and the account's other sessions active in it.
		times = append([]time.Time(nil), times...)
		for _, acc := range out {
			times = append(times, acc.Time)
		}
		from, to := times[0], times[0]
		for _, t := range times {
			if t.Before(from) {
				from = t
			}
			if t.After(to) {
				to = t
			}
		}
		from, to = from.Add(-AccessWindow), to.Add(AccessWindow)
		in := func(r eventRef) bool { return r.id != "" && !r.time.Before(from) && !r.time.After(to) }
		ids := make([]string, 0, len(a.sessions))
		for id := range a.sessions {
			if byID[id] == nil {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		for _, id := range ids {
			s := a.sessions[id]
			l := s.login
			if in(l) && orderIPs[l.ip] {
				out = append(out, l.access(id, AccessLogin, MatchAddress))
				continue
			}
			if in(l) && devices[l.device] {
				out = append(out, l.access(id, AccessLogin, MatchDevice))
				continue
			}
			// A request from the attacker's access: the first such request.
			var r eventRef
			match := ""
			consider := func(u eventRef, m string) {
				if in(u) && (r.id == "" || u.time.Before(r.time) || (u.time.Equal(r.time) && u.id < r.id)) {
					r, match = u, m
				}
			}
			for ip, u := range s.byIP {
				if orderIPs[ip] {
					consider(u, MatchAddress)
				}
			}
			for dev, u := range s.byDevice {
				if devices[dev] {
					consider(u, MatchDevice)
				}
			}
			switch {
			case r.id == "":
			case l.id != "" && l.ip != "" && l.ip == r.ip:
				// Logged in from where the attacker's request came from: the attacker's login.
				out = append(out, l.access(id, AccessLogin, match))
			default:
				out = append(out, r.access(id, AccessFirstUse, match))
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].EventID < out[j].EventID
	})
	return out, nil
}

// heldBefore returns the shares of each symbol the account held just before start: its opening
// snapshot plus the executions of its other orders from the snapshot until start.
func (b *Book) heldBefore(a *accountBook, unauthorized map[string]bool, start time.Time) map[string]int64 {
	held := map[string]int64{}
	var from time.Time
	if a.snapshot != nil {
		for s, q := range a.snapshot.holdings {
			held[s] = q
		}
		from = a.snapshot.time
	}
	for _, o := range a.orders {
		if unauthorized[o.ID] {
			continue
		}
		for _, f := range o.Fills {
			if f.Time.Before(from) || !f.Time.Before(start) {
				continue
			}
			if f.Side == "buy" {
				held[f.Symbol] += f.Quantity
			} else {
				held[f.Symbol] -= f.Quantity
			}
		}
	}
	return held
}

// Reconstruction is an incident resolved against the events: what the tally and the valuation work on.
// A server can build one from its store as well as from a Book.
type Reconstruction struct {
	Incident Claim
	// Orders are the unauthorized orders with their executions, by time.
	Orders []*Order
	// Accesses are the attacker's accesses, by time: one per attacker session, either the attacker's
	// successful login that opened it (AccessLogin) or, for a session the attacker did not log into,
	// its first use from the attacker's access (AccessFirstUse). The rule:
	//
	//   - The incident's own sessions are those of its unauthorized orders and those it names. The
	//     attacker's addresses are those the unauthorized orders came from. A session's login is the
	//     attacker's when it came from an address that the session's unauthorized orders came from
	//     (for a named session without orders: any order's address); the devices of those logins are
	//     the attacker's devices. A session logged into elsewhere and used from the attacker's address
	//     is a stolen session: it counts from its first request from that address, never from the
	//     customer's login (whose device, carried by the stolen cookie, is not the attacker's). A
	//     session without a login in the log counts from its first request from the attacker's
	//     address, else its first event; a named session with nothing to tell counts from its login.
	//   - Every other session of the account active in the incident window (AccessWindow before the
	//     first unauthorized event or own-session access, to AccessWindow after the last) is the
	//     attacker's when its successful login came from an attacker address or device (a login), or
	//     when one of its requests did (a login when the login came from that request's address, else
	//     a first use at that request).
	//
	// Failed logins are not accesses. A session that several incidents share counts once in the tally.
	Accesses []Access
	// HeldBefore is the shares of each symbol held just before Start (opening snapshot plus the
	// customer's own executions).
	HeldBefore map[string]int64
	// FraudReport is the time of the account's first fraud_report at or after Start (zero: none),
	// and Report that event.
	FraudReport time.Time
	Report      *ReportRef
	// Start and End are the first and last unauthorized event (order or execution; accesses when
	// there are no orders).
	Start, End time.Time
}

// Fills returns the executions of the unauthorized orders, by time, each with its order.
func (r *Reconstruction) Fills() []OrderFill {
	var out []OrderFill
	for _, o := range r.Orders {
		for i := range o.Fills {
			out = append(out, OrderFill{Order: o, Fill: &o.Fills[i]})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Fill.Time.Before(out[j].Fill.Time) })
	return out
}

// OrderFill is an execution with its order.
type OrderFill struct {
	Order *Order
	Fill  *Fill
}
