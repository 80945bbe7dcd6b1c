package profile

import "slices"

// MaxHistory bounds the entries of one account's History. Past it the oldest entry is folded into the
// base, so that an account with a burst of activity costs bounded memory and bounded work when an
// event arrives late.
const MaxHistory = 256

// History is an account's recent past kept so that an event arriving late can be applied at its place
// in time: Base is the profile as it stood before the first entry, and Entries are the events applied
// since, in time order (ties in arrival order). The detect package owns what an entry holds.
//
// A History is kept only where events may arrive out of order (the HTTP API), and only for the
// lateness the firm allows; Accounts.DropHistory forgets those past it.
type History struct {
	Base    Profile
	Entries []Entry
	// Floor is the time of the newest entry folded into Base: an event before it can no longer be put
	// at its place.
	Floor int64
}

// Entry is one event of a History: its time in unix nanoseconds and what re-applies it.
type Entry struct {
	At   int64
	Data any
}

// Newest returns the time of the newest entry, or 0 when there is none.
func (h *History) Newest() int64 {
	if len(h.Entries) == 0 {
		return 0
	}
	return h.Entries[len(h.Entries)-1].At
}

// After returns the index of the first entry later than at: where an event at that time belongs.
func (h *History) After(at int64) int {
	i, _ := slices.BinarySearchFunc(h.Entries, at, func(e Entry, at int64) int {
		if e.At <= at {
			return -1
		}
		return 1
	})
	return i
}

// Insert puts e at index i.
func (h *History) Insert(i int, e Entry) { h.Entries = slices.Insert(h.Entries, i, e) }

// Placeable reports whether an event at at (unix nanoseconds) can still be put at its place.
func (h *History) Placeable(at int64) bool { return at >= h.Floor }

// Fold drops the n oldest entries after apply has applied each to Base, oldest first, and raises
// Floor to the newest of them.
func (h *History) Fold(n int, apply func(base *Profile, e Entry)) {
	if n <= 0 {
		return
	}
	h.Floor = max(h.Floor, h.Entries[n-1].At)
	for _, e := range h.Entries[:n] {
		apply(&h.Base, e)
	}
	clear(h.Entries[:n])
	h.Entries = slices.Delete(h.Entries, 0, n)
}

// Clone returns a deep copy of p without its History.
func (p *Profile) Clone() Profile {
	c := *p
	c.History = nil
	c.Holdings = slices.Clone(p.Holdings)
	for _, set := range []*SeenSet{&c.Symbols, &c.Devices, &c.ASNs, &c.Prefixes, &c.Countries, &c.UAFamilies, &c.TLS, &c.Destinations} {
		*set = slices.Clone(*set)
	}
	c.Sessions = slices.Clone(p.Sessions)
	c.Fails = slices.Clone(p.Fails)
	c.Sells = slices.Clone(p.Sells)
	return c
}

// DropHistory forgets the History of every account whose newest entry is before before (unix
// nanoseconds): no event that late is accepted any more. It returns how many it forgot and how many
// remain. It takes each shard's lock in turn, never two at once.
func (a *Accounts) DropHistory(before int64) (dropped, kept int) {
	for i := range a.shards {
		s := &a.shards[i]
		s.mu.Lock()
		for _, p := range s.m {
			if p.History == nil {
				continue
			}
			if p.History.Newest() < before {
				p.History = nil
				dropped++
			} else {
				kept++
			}
		}
		s.mu.Unlock()
	}
	return dropped, kept
}
