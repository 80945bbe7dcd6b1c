package campaign

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Kinds of watchlist entries.
const (
	KindSymbol      = "symbol"      // an instrument under campaign
	KindIP          = "ip"          // an address
	KindPrefix      = "prefix"      // an address block, e.g. 203.0.113.0/24
	KindDevice      = "device"      // a device id
	KindDestination = "destination" // a withdrawal bank account
	KindAccount     = "account"     // an account sharing infrastructure with a confirmed takeover
)

// Sources of watchlist entries.
const (
	SourceCampaign    = "campaign"     // a campaign alert
	SourceFraudReport = "fraud_report" // a customer's fraud report
	SourceCluster     = "cluster"      // a shared-infrastructure cluster
	SourceAnalyst     = "analyst"      // added through the API
)

// Entry is one item on the watchlist.
type Entry struct {
	Kind   string    `json:"kind"`
	Value  string    `json:"value"`
	Reason string    `json:"reason"`
	Source string    `json:"source"`
	Ref    string    `json:"ref,omitempty"` // the alert or event that put it there
	By     string    `json:"by,omitempty"`  // the analyst, for analyst entries
	Added  time.Time `json:"added"`
	// Expires is when the entry stops counting; a pinned entry never expires.
	Expires time.Time `json:"expires"`
	Pinned  bool      `json:"pinned"`
}

// SeenAll is the seen bound of a lookup that sees every finding: an event in time order.
const SeenAll = ^uint32(0)

// active reports whether the entry counts at unix time t for a lookup that sees detection's findings up
// to seen. An event placed late, before its account's later events, passes its own time as seen, so
// that it does not see what those events found; an analyst's entry counts for every lookup (its times
// are the clock's, not the events').
func (e *Entry) active(t, seen uint32) bool {
	if seen != SeenAll && e.Source != SourceAnalyst && uint32(max(0, e.Added.Unix())) > seen {
		return false
	}
	return e.Pinned || uint32(max(0, e.Expires.Unix())) > t
}

// ErrBadEntry is returned for an entry that cannot be watched.
var ErrBadEntry = errors.New("campaign: bad watchlist entry")

// ErrNoEntry is returned when no entry has the kind and value.
var ErrNoEntry = errors.New("campaign: no such watchlist entry")

type wkey struct {
	kind  string
	value string
}

// Watchlist holds symbols and infrastructure that per-account decisions read at once. It is safe for
// concurrent use; lookups on an empty list cost one atomic load.
type Watchlist struct {
	mu      sync.RWMutex
	n       atomic.Int32
	m       map[wkey]*Entry
	ips     map[netip.Addr]*Entry
	prefix  map[netip.Prefix]*Entry
	removed map[wkey]uint32 // automatic re-adding suppressed until this time after an analyst removed it
}

func newWatchlist() *Watchlist {
	return &Watchlist{m: map[wkey]*Entry{}, ips: map[netip.Addr]*Entry{}, prefix: map[netip.Prefix]*Entry{},
		removed: map[wkey]uint32{}}
}

// Normalize checks an entry's kind and value and returns the value in canonical form.
func Normalize(kind, value string) (string, error) {
	if value == "" {
		return "", fmt.Errorf("%w: value is empty", ErrBadEntry)
	}
	if len(value) > 256 {
		return "", fmt.Errorf("%w: value longer than 256 bytes", ErrBadEntry)
	}
	switch kind {
	case KindSymbol, KindDevice, KindDestination, KindAccount:
		return value, nil
	case KindIP:
		a, err := netip.ParseAddr(value)
		if err != nil {
			return "", fmt.Errorf("%w: value %q is not an IP address", ErrBadEntry, value)
		}
		return a.Unmap().String(), nil
	case KindPrefix:
		p, err := netip.ParsePrefix(value)
		if err != nil {
			return "", fmt.Errorf("%w: value %q is not an address prefix such as 203.0.113.0/24", ErrBadEntry, value)
		}
		p = p.Masked()
		if want := prefixBits(p.Addr()); p.Bits() != want {
			return "", fmt.Errorf("%w: prefix %q: decisions match /%d blocks only", ErrBadEntry, value, want)
		}
		return p.String(), nil
	}
	return "", fmt.Errorf("%w: kind %q, want one of symbol, ip, prefix, device, destination, account", ErrBadEntry, kind)
}

func prefixBits(a netip.Addr) int {
	if a.Is4() {
		return 24
	}
	return 48
}

// BlockOf returns the /24 (IPv6 /48) block of an address, the unit of prefix entries.
func BlockOf(a netip.Addr) netip.Prefix {
	p, _ := a.Prefix(prefixBits(a))
	return p
}

// Put adds or replaces an entry. An automatic entry never shortens a longer or pinned one, and is not
// re-added for a while after an analyst removed it; it returns whether the list changed.
func (w *Watchlist) Put(e Entry) (bool, error) {
	v, err := Normalize(e.Kind, e.Value)
	if err != nil {
		return false, err
	}
	e.Value = v
	k := wkey{e.Kind, v}
	w.mu.Lock()
	defer w.mu.Unlock()
	old := w.m[k]
	if e.Source != SourceAnalyst {
		if until, ok := w.removed[k]; ok && uint32(max(0, e.Added.Unix())) < until {
			return false, nil
		}
		if old != nil && (old.Pinned || !old.Expires.Before(e.Expires)) {
			return false, nil
		}
		if old != nil && old.Expires.After(e.Added) { // still active when found again
			if old.Source == SourceAnalyst {
				// An analyst's entry found again by detection lasts longer, and stays the analyst's.
				ext := *old
				ext.Expires = e.Expires
				e = ext
			} else {
				e.Added = old.Added // watched since it was first found
			}
		}
	}
	ne := &e
	w.m[k] = ne
	switch e.Kind {
	case KindIP:
		w.ips[netip.MustParseAddr(v)] = ne
	case KindPrefix:
		w.prefix[netip.MustParsePrefix(v)] = ne
	}
	if old == nil {
		w.n.Add(1)
	}
	return true, nil
}

// Remove deletes an entry; automatic sources will not put it back before suppressUntil.
func (w *Watchlist) Remove(kind, value string, suppressUntil time.Time) (Entry, error) {
	v, err := Normalize(kind, value)
	if err != nil {
		return Entry{}, err
	}
	k := wkey{kind, v}
	w.mu.Lock()
	defer w.mu.Unlock()
	old := w.m[k]
	if old == nil {
		return Entry{}, ErrNoEntry
	}
	delete(w.m, k)
	switch kind {
	case KindIP:
		delete(w.ips, netip.MustParseAddr(v))
	case KindPrefix:
		delete(w.prefix, netip.MustParsePrefix(v))
	}
	w.removed[k] = uint32(max(0, suppressUntil.Unix()))
	w.n.Add(-1)
	return *old, nil
}

// Pin makes an entry permanent (pinned) or lets it expire again at expires.
func (w *Watchlist) Pin(kind, value string, pinned bool, expires time.Time) (Entry, error) {
	v, err := Normalize(kind, value)
	if err != nil {
		return Entry{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.m[wkey{kind, v}]
	if e == nil {
		return Entry{}, ErrNoEntry
	}
	e.Pinned = pinned
	if !pinned && !expires.IsZero() {
		e.Expires = expires
	}
	return *e, nil
}

// Get returns the entry with the kind and value.
func (w *Watchlist) Get(kind, value string) (Entry, bool) {
	v, err := Normalize(kind, value)
	if err != nil {
		return Entry{}, false
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	e := w.m[wkey{kind, v}]
	if e == nil {
		return Entry{}, false
	}
	return *e, true
}

// List returns the entries active at now (all of them when all is set), ordered by kind and value.
func (w *Watchlist) List(now time.Time, all bool) []Entry {
	t := uint32(max(0, now.Unix()))
	w.mu.RLock()
	out := make([]Entry, 0, len(w.m))
	for _, e := range w.m {
		if all || e.active(t, SeenAll) {
			out = append(out, *e)
		}
	}
	w.mu.RUnlock()
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Value, b.Value))
	})
	return out
}

// Len returns the number of entries, active or not.
func (w *Watchlist) Len() int { return int(w.n.Load()) }

// Symbol returns the entry for a symbol active at t, among findings up to seen (SeenAll: all).
func (w *Watchlist) Symbol(symbol string, t, seen uint32) (Entry, bool) {
	return w.lookup(wkey{KindSymbol, symbol}, t, seen)
}

// Account returns the entry for an account active at t, among findings up to seen (SeenAll: all).
func (w *Watchlist) Account(account string, t, seen uint32) (Entry, bool) {
	return w.lookup(wkey{KindAccount, account}, t, seen)
}

func (w *Watchlist) lookup(k wkey, t, seen uint32) (Entry, bool) {
	if w.n.Load() == 0 || k.value == "" {
		return Entry{}, false
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if e := w.m[k]; e != nil && e.active(t, seen) {
		return *e, true
	}
	return Entry{}, false
}

// Infrastructure returns the entry active at t, among findings up to seen (SeenAll: all), matching a
// request's address, its block, its device or its withdrawal destination, the most specific first.
func (w *Watchlist) Infrastructure(addr netip.Addr, device, destination string, t, seen uint32) (Entry, bool) {
	if w.n.Load() == 0 {
		return Entry{}, false
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if device != "" {
		if e := w.m[wkey{KindDevice, device}]; e != nil && e.active(t, seen) {
			return *e, true
		}
	}
	if destination != "" {
		if e := w.m[wkey{KindDestination, destination}]; e != nil && e.active(t, seen) {
			return *e, true
		}
	}
	if addr.IsValid() {
		if e := w.ips[addr]; e != nil && e.active(t, seen) {
			return *e, true
		}
		if len(w.prefix) > 0 {
			if e := w.prefix[BlockOf(addr)]; e != nil && e.active(t, seen) {
				return *e, true
			}
		}
	}
	return Entry{}, false
}
