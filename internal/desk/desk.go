// Package desk is the analyst's desk: the place that changes live detection state. It adds, removes
// and pins watchlist entries of the campaign layer and lifts the lock a fraud report put on an account
// once the customer is re-verified, and releases or cancels held orders and withdrawals. Every action goes through the
// audit trail (internal/audit): written first, applied once stored, and replayed at start over the
// state rebuilt from the events.
package desk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/brokerguard/brokerguard/internal/audit"
	"github.com/brokerguard/brokerguard/internal/campaign"
	"github.com/brokerguard/brokerguard/internal/fault"
	"github.com/brokerguard/brokerguard/internal/profile"
	"github.com/brokerguard/brokerguard/internal/store"
)

// Audit actions.
const (
	ActionWatchAdd    = "watchlist.add"
	ActionWatchRemove = "watchlist.remove"
	ActionWatchPin    = "watchlist.pin"
	ActionUnlock      = "account.unlock"
)

// Desk applies analyst actions to live state. It is safe for concurrent use.
type Desk struct {
	layer    *campaign.Layer
	accounts *profile.Accounts
	locks    Locks
	trail    *audit.Trail
	store    Decisions
	// mu guards held: the resolutions of held items by event id, from the trail.
	mu   sync.Mutex
	held map[string]Resolution
	// defaultTTL is how long an analyst's entry lasts when neither an expiry nor a pin is given.
	defaultTTL time.Duration
}

// Options configure a Desk; a Desk is complete once built.
type Options struct {
	// Layer and Accounts are the engine's campaign layer (nil when it is off) and profiles.
	Layer    *campaign.Layer
	Accounts *profile.Accounts
	// Locks, when set, lifts fraud-report locks where the engine keeps accounts' histories, so that
	// events arriving late are decided with the lock as it stood at their time; without it an unlock
	// changes the profile directly.
	Locks Locks
	// Trail writes each action before it applies; its data clock is the time actions act at (watchlist
	// entries are added and expire in it). Required.
	Trail *audit.Trail
	// Decisions, when set, is the store the held orders and withdrawals are read from; without it
	// Held, Release and Cancel answer a conflict.
	Decisions Decisions
}

// New returns a desk.
func New(o Options) *Desk {
	if o.Trail == nil {
		panic("desk: Options.Trail is required")
	}
	return &Desk{layer: o.Layer, accounts: o.Accounts, locks: o.Locks, trail: o.Trail, store: o.Decisions, held: map[string]Resolution{}, defaultTTL: 7 * 24 * time.Hour}
}

// Watch is an analyst's request to add an entry.
type Watch struct {
	Kind    string    `json:"kind"`
	Value   string    `json:"value"`
	Expires time.Time `json:"expires,omitzero"`
	Pinned  bool      `json:"pinned,omitempty"`
}

// Change names an entry to remove or (un)pin.
type Change struct {
	Kind    string    `json:"kind"`
	Value   string    `json:"value"`
	Pinned  bool      `json:"pinned,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
}

func (d *Desk) watchlist() (*campaign.Watchlist, error) {
	if d.layer == nil {
		return nil, fault.Errorf(fault.ErrConflict, "the campaign layer is off (campaign.enabled: false)")
	}
	return d.layer.Watchlist(), nil
}

// AddWatch puts an analyst's entry on the watchlist.
func (d *Desk) AddWatch(ctx context.Context, actor string, w Watch, reason string) (campaign.Entry, error) {
	wl, err := d.watchlist()
	if err != nil {
		return campaign.Entry{}, err
	}
	if err := audit.NeedReason(reason); err != nil {
		return campaign.Entry{}, err
	}
	v, err := campaign.Normalize(w.Kind, w.Value)
	if err != nil {
		return campaign.Entry{}, fault.Errorf(fault.ErrInvalid, "%v", err)
	}
	w.Value = v
	now := d.trail.Data()
	if !w.Pinned && !w.Expires.IsZero() && !w.Expires.After(now) {
		return campaign.Entry{}, fault.Errorf(fault.ErrInvalid, "expires: %s is not after the data's time %s (the latest event seen)", w.Expires.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	var out campaign.Entry
	_, err = d.trail.Record(ctx, actor, ActionWatchAdd, w.Kind+":"+w.Value, reason, w, func(r *store.AuditRecord) error {
		out, err = d.applyAdd(wl, r, w)
		return err
	})
	return out, err
}

func (d *Desk) applyAdd(wl *campaign.Watchlist, r *store.AuditRecord, w Watch) (campaign.Entry, error) {
	exp := w.Expires
	if exp.IsZero() {
		exp = audit.At(r).Add(d.defaultTTL)
	}
	e := campaign.Entry{Kind: w.Kind, Value: w.Value, Reason: r.Reason, Source: campaign.SourceAnalyst, By: r.Actor,
		Ref: fmt.Sprintf("audit-%d", r.Seq), Added: audit.At(r), Expires: exp, Pinned: w.Pinned}
	if _, err := wl.Put(e); err != nil {
		return campaign.Entry{}, err
	}
	got, _ := wl.Get(e.Kind, e.Value)
	return got, nil
}

// RemoveWatch takes an entry off the watchlist; automatic sources leave it off for the layer's watch
// period.
func (d *Desk) RemoveWatch(ctx context.Context, actor string, c Change, reason string) (campaign.Entry, error) {
	return d.changeWatch(ctx, actor, ActionWatchRemove, c, reason, d.applyRemove)
}

// changeWatch checks a change to an existing entry, records it, then applies it.
func (d *Desk) changeWatch(ctx context.Context, actor, action string, c Change, reason string,
	apply func(*campaign.Watchlist, *store.AuditRecord, Change) (campaign.Entry, error)) (campaign.Entry, error) {
	wl, err := d.watchlist()
	if err != nil {
		return campaign.Entry{}, err
	}
	if err := audit.NeedReason(reason); err != nil {
		return campaign.Entry{}, err
	}
	v, err := campaign.Normalize(c.Kind, c.Value)
	if err != nil {
		return campaign.Entry{}, fault.Errorf(fault.ErrInvalid, "%v", err)
	}
	c.Value = v
	if _, ok := wl.Get(c.Kind, c.Value); !ok {
		return campaign.Entry{}, fault.Errorf(fault.ErrNotFound, "no watchlist entry %s %s", c.Kind, c.Value)
	}
	var out campaign.Entry
	_, err = d.trail.Record(ctx, actor, action, c.Kind+":"+c.Value, reason, c, func(r *store.AuditRecord) error {
		out, err = apply(wl, r, c)
		return err
	})
	return out, err
}

func (d *Desk) applyRemove(wl *campaign.Watchlist, r *store.AuditRecord, c Change) (campaign.Entry, error) {
	ttl := time.Duration(d.layer.Config().WatchTTL) * time.Second
	e, err := wl.Remove(c.Kind, c.Value, audit.At(r).Add(ttl))
	if errors.Is(err, campaign.ErrNoEntry) {
		return e, fault.Errorf(fault.ErrNotFound, "no watchlist entry %s %s", c.Kind, c.Value)
	}
	return e, err
}

// PinWatch pins an entry (it never expires) or unpins it (it expires at c.Expires, or after the
// default period).
func (d *Desk) PinWatch(ctx context.Context, actor string, c Change, reason string) (campaign.Entry, error) {
	return d.changeWatch(ctx, actor, ActionWatchPin, c, reason, d.applyPin)
}

func (d *Desk) applyPin(wl *campaign.Watchlist, r *store.AuditRecord, c Change) (campaign.Entry, error) {
	exp := c.Expires
	if !c.Pinned && exp.IsZero() {
		exp = audit.At(r).Add(d.defaultTTL)
	}
	e, err := wl.Pin(c.Kind, c.Value, c.Pinned, exp)
	if errors.Is(err, campaign.ErrNoEntry) {
		return e, fault.Errorf(fault.ErrNotFound, "no watchlist entry %s %s", c.Kind, c.Value)
	}
	return e, err
}

// Locks lifts fraud-report locks where the engine keeps accounts' histories; *detect.Engine implements
// it. Lift lifts the lock of the report at lock (unless a later report locked the account again), with
// effect after the account's events up to after (unix nanoseconds).
type Locks interface {
	Lift(account string, lock uint32, after int64)
}

// Unlock lifts the lock a fraud report put on an account, once the customer is re-verified. The audit
// record names the lock it lifts and the events it comes after, so that replaying it after a restart
// neither lifts a later lock nor applies it before events it followed.
func (d *Desk) Unlock(ctx context.Context, actor, account, reason string) error {
	if err := audit.NeedReason(reason); err != nil {
		return err
	}
	var known, locked bool
	var lock uint32
	var after int64
	d.accounts.Peek(account, func(p *profile.Profile) {
		known = p != nil
		locked = known && p.Locked
		if locked {
			lock, after = p.LockedAt, p.AppliedUpTo()
		}
	})
	if !known {
		return fault.Errorf(fault.ErrNotFound, "account %q: no events seen", account)
	}
	if !locked {
		return fault.Errorf(fault.ErrConflict, "account %q is not locked", account)
	}
	data := map[string]string{"account": account, "lock": strconv.FormatUint(uint64(lock), 10), "after": strconv.FormatInt(after, 10)}
	_, err := d.trail.Record(ctx, actor, ActionUnlock, "account:"+account, reason, data, func(r *store.AuditRecord) error {
		d.applyUnlock(account, lock, after)
		return nil
	})
	return err
}

// applyUnlock lifts the lock of the report at lock, after the account's events up to after.
func (d *Desk) applyUnlock(account string, lock uint32, after int64) {
	if d.locks != nil {
		d.locks.Lift(account, lock, after)
		return
	}
	d.accounts.Peek(account, func(p *profile.Profile) {
		if p != nil {
			p.Lift(lock)
		}
	})
}

// replayUnlock applies an unlock from the audit trail. Records written before they named their lock
// lift the account's current lock if it is older than the record.
func (d *Desk) replayUnlock(r *store.AuditRecord) error {
	var m map[string]string
	if err := json.Unmarshal(r.Data, &m); err != nil {
		return err
	}
	account := m["account"]
	lock, err1 := strconv.ParseUint(m["lock"], 10, 32)
	after, err2 := strconv.ParseInt(m["after"], 10, 64)
	if err1 != nil || err2 != nil {
		var cur uint32
		var locked bool
		d.accounts.Peek(account, func(p *profile.Profile) {
			if p != nil {
				locked, cur, after = p.Locked, p.LockedAt, p.AppliedUpTo()
			}
		})
		if !locked || int64(cur) > audit.At(r).Unix() {
			return nil
		}
		lock = uint64(cur)
	}
	d.applyUnlock(account, uint32(lock), after)
	return nil
}

// Actions are the audit actions the desk records and replays.
func Actions() []string {
	return []string{ActionWatchAdd, ActionWatchRemove, ActionWatchPin, ActionUnlock, ActionHeldRelease, ActionHeldCancel}
}

// Restore replays the desk's actions from the audit trail over state rebuilt from the events; it
// returns how many it applied. Entries that have expired since are applied and stay inactive.
func (d *Desk) Restore(ctx context.Context) (int, error) {
	return d.trail.Replay(ctx, Actions(), d.replay)
}

func (d *Desk) replay(r *store.AuditRecord) error {
	switch r.Action {
	case ActionWatchAdd, ActionWatchRemove, ActionWatchPin:
		if d.layer == nil {
			return nil // the layer is off: nothing to restore
		}
		wl := d.layer.Watchlist()
		switch r.Action {
		case ActionWatchAdd:
			var w Watch
			if err := json.Unmarshal(r.Data, &w); err != nil {
				return err
			}
			_, err := d.applyAdd(wl, r, w)
			return err
		case ActionWatchRemove:
			var c Change
			if err := json.Unmarshal(r.Data, &c); err != nil {
				return err
			}
			_, err := d.applyRemove(wl, r, c)
			if errors.Is(err, fault.ErrNotFound) {
				return nil // an automatic entry that no longer exists after the rebuild
			}
			return err
		default:
			var c Change
			if err := json.Unmarshal(r.Data, &c); err != nil {
				return err
			}
			_, err := d.applyPin(wl, r, c)
			if errors.Is(err, fault.ErrNotFound) {
				return nil
			}
			return err
		}
	case ActionUnlock:
		return d.replayUnlock(r)
	case ActionHeldRelease, ActionHeldCancel:
		return d.replayHeld(r)
	}
	return nil
}
