package detect

import (
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/profile"
)

// Events arriving late, where the source cannot sort them (the HTTP API): each account keeps the events
// of the last Options.Lateness in a profile.History, with the profile as it stood before them. An event
// that happened before some of those is decided on the profile rebuilt from the base and the events
// before it only, as the contract asks ("computed from that event and the events before it"); then the
// events after it are applied again, each as it was decided, so that the account's state is what time
// order would have made it. Decisions already given stand: they were acted on.
//
// Cross-account state (who else used an address or device, the market, the campaign layer) is as of
// the late event's arrival: it is shared, and rewinding it for one account would rewrite the others.

// journaled is one event of an account's History: the event, and what its decision taught the profile.
type journaled struct {
	ev event.Event
	ls lesson
}

// keep returns what applying ev again reads of it. The rest (ids, the client's strings, the raw bytes,
// which share one buffer with the whole request) would only hold memory for the lateness.
func keep(ev *event.Event) event.Event {
	k := *ev
	k.ID, k.Account, k.Name, k.Market, k.Failure, k.Note = "", "", "", "", "", ""
	k.IP, k.UserAgent, k.Country, k.AcceptLanguage, k.TLS = "", "", "", "", ""
	k.OrderID, k.ExecID, k.Raw = "", "", nil
	return k
}

// processInOrder is processAccount for an engine with a lateness: it keeps the account's History and
// places a late event at its time.
func (e *Engine) processInOrder(ev *event.Event, p *profile.Profile, t uint32, rq *request, out *Outcome) {
	at := ev.Time.UnixNano()
	j := &journaled{ev: keep(ev)}
	h := p.History
	if h == nil || at >= h.Newest() {
		if h == nil {
			h = &profile.History{Base: p.Clone()}
		} else if n := h.After(at - e.lateness); n == len(h.Entries) {
			// No event may arrive before any of them any more: start again from here.
			h.Floor = max(h.Floor, h.Newest())
			clear(h.Entries)
			h.Entries = h.Entries[:0]
			h.Base = p.Clone()
		} else if n > 0 {
			h.Fold(n, e.reapply)
		}
		if n := len(h.Entries) - profile.MaxHistory + 1; n > 0 {
			h.Fold(n, e.reapply)
		}
		e.processAccount(ev, p, t, rq, out, &j.ls)
		h.Entries = append(h.Entries, profile.Entry{At: at, Data: j})
		p.History = h
		return
	}
	if !h.Placeable(at) {
		// Events after it were folded since Process checked (a request of the same account in between),
		// and the cross-account state has seen it already: apply it on the account's state as it stands,
		// and keep no history before it.
		e.processAccount(ev, p, t, rq, out, nil)
		h.Floor = max(h.Floor, h.Newest(), at)
		clear(h.Entries)
		h.Entries = h.Entries[:0]
		h.Base = p.Clone()
		return
	}
	// Late: rebuild the profile as it stood at ev's time, decide, and apply what came after again.
	i := h.After(at)
	cur := h.Base.Clone()
	for _, en := range h.Entries[:i] {
		e.reapply(&cur, en)
	}
	e.processAccount(ev, &cur, t, rq, out, &j.ls)
	for _, en := range h.Entries[i:] {
		e.reapply(&cur, en)
	}
	h.Insert(i, profile.Entry{At: at, Data: j})
	if n := len(h.Entries) - profile.MaxHistory; n > 0 {
		h.Fold(n, e.reapply)
	}
	cur.History = h
	*p = cur
	out.Late = true
}

// placeable reports whether the account's history can still put ev at its place (it cannot when
// events after it have been folded into the history's base), and whether ev is late: before events of
// its account already applied.
func (e *Engine) placeable(ev *event.Event) (ok, late bool) {
	ok = true
	at := ev.Time.UnixNano()
	e.accounts.Peek(ev.Account, func(p *profile.Profile) {
		if p != nil && p.History != nil {
			ok, late = p.History.Placeable(at), at < p.History.Newest()
		}
	})
	return ok, late
}

// reapply applies a journaled event, or an analyst's unlock, to p again, as it was decided.
func (e *Engine) reapply(p *profile.Profile, en profile.Entry) {
	switch j := en.Data.(type) {
	case *journaled:
		t := profile.Unix(j.ev.Time)
		if !e.observe(&j.ev, p, t) {
			e.learn(&j.ev, p, t, &j.ls)
		}
	case lift:
		p.Lift(j.lock)
	}
}

// lift is an analyst's unlock in an account's history: it takes effect after the events applied
// before it, and an event arriving late from before it is decided with the lock.
type lift struct{ lock uint32 }

// Lift lifts the lock a fraud report at lock put on account (unless a later report locked it again),
// with effect after the account's events up to after (unix nanoseconds; see Profile.AppliedUpTo). It
// implements casework.Locks. When events after that have been applied already (the audit trail
// replayed over a rebuilt state), the account's state is rebuilt with the unlock at its place.
func (e *Engine) Lift(account string, lock uint32, after int64) {
	e.accounts.With(account, func(p *profile.Profile) {
		h := p.History
		if h == nil || len(h.Entries) == 0 || after >= h.Newest() || !h.Placeable(after) {
			if h != nil && len(h.Entries) > 0 {
				// After the events applied so far; an event later than them had not happened.
				h.Entries = append(h.Entries, profile.Entry{At: h.Newest(), Data: lift{lock}})
			}
			p.Lift(lock)
			return
		}
		h.Insert(h.After(after), profile.Entry{At: after, Data: lift{lock}})
		cur := h.Base.Clone()
		for _, en := range h.Entries {
			e.reapply(&cur, en)
		}
		cur.History = h
		*p = cur
	})
}

// ForgetAccountHistory drops one account's kept events: its next event is applied on its state as it
// stands, whatever its time.
func (e *Engine) ForgetAccountHistory(account string) {
	e.accounts.Peek(account, func(p *profile.Profile) {
		if p != nil {
			p.History = nil
		}
	})
}

// ForgetHistory drops the kept events of accounts whose newest event is more than the lateness before
// latest, the latest event time accepted: no event that late is accepted any more. It returns how many
// accounts' histories were dropped and how many are kept. Call it now and then (the HTTP API's service
// does, every few seconds).
func (e *Engine) ForgetHistory(latest time.Time) (dropped, kept int) {
	if e.lateness <= 0 {
		return 0, 0
	}
	return e.accounts.DropHistory(latest.UnixNano() - e.lateness)
}
