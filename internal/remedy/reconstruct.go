package remedy

import (
	"sort"
	"time"
)

// Reconstruct resolves an incident against the events: its orders with their executions, the attacker's
// accesses, the account's holdings just before, and its fraud report. An account without events, an
// order id not in the events, an order of another account, or a named session not seen on the account
// is an error for this incident.
func (b *Book) Reconstruct(inc *Incident) (*Reconstruction, *IncidentError) {
	a := b.accounts[inc.Account]
	if a == nil || !a.seen {
		return nil, incidentErr(inc, "account %q: no events of this account in the event log", inc.Account)
	}
	rec := &Reconstruction{Incident: *inc}
	in := map[string]bool{}
	for _, id := range inc.Orders {
		o := b.orders[id]
		if o == nil || (o.EventID == "" && len(o.Fills) == 0) {
			return nil, incidentErr(inc, "order %q: not in the event log", id)
		}
		if o.Account != inc.Account {
			return nil, incidentErr(inc, "order %q: belongs to account %q, not %q", id, o.Account, inc.Account)
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
	var sessions []string
	seen := map[string]bool{}
	for _, o := range rec.Orders {
		if o.Session != "" && !seen[o.Session] {
			seen[o.Session] = true
			sessions = append(sessions, o.Session)
		}
	}
	for _, s := range inc.Sessions {
		if !seen[s] {
			seen[s] = true
			sessions = append(sessions, s)
		}
	}
	for _, s := range sessions {
		if l, ok := a.logins[s]; ok {
			rec.Accesses = append(rec.Accesses, l.access(s, AccessLogin))
		} else if u, ok := a.firstUse[s]; ok {
			rec.Accesses = append(rec.Accesses, u.access(s, AccessFirstUse))
		} else {
			return nil, incidentErr(inc, "session %q: no event of account %q in this session", s, inc.Account)
		}
	}
	sort.SliceStable(rec.Accesses, func(i, j int) bool { return rec.Accesses[i].Time.Before(rec.Accesses[j].Time) })
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

func (r eventRef) access(session, kind string) Access {
	return Access{Session: session, EventID: r.id, Time: r.time, Kind: kind, Type: r.typ, Method: r.method, IP: r.ip, Device: r.device}
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
	Incident Incident
	// Orders are the unauthorized orders with their executions, by time.
	Orders []*Order
	// Accesses are the attacker's accesses: for each session of the unauthorized orders and each
	// session the incident names, the successful login that opened it when the log has one, else the
	// session's first event. (A session the attacker stole from a customer who logged in within the
	// log counts from the customer's login: the count is the same, the time is that of the login.)
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
