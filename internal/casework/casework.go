// Package casework carries out analysts' actions on brokerguard's live state: adding, removing and
// pinning watchlist entries, unlocking an account after the customer was re-verified, and working an
// incident from the fraud report to the supervisor's approval (the unauthorized orders, executions
// excluded, the assessment under the firm's compensation policy, the approval). Every action is
// written to the store's audit trail first (who, when, what, why) and only then applied, so that
// nothing changes without a record; at start the trail is replayed over the state rebuilt from the
// events.
package casework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/brokerguard/brokerguard/internal/campaign"
	"github.com/brokerguard/brokerguard/internal/compensation"
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
	// ActionKeyAdd and ActionKeyRevoke are recorded by brokerguard key (the command line), not by the
	// desk; the desk leaves them alone when it restores the trail.
	ActionKeyAdd    = "key.add"
	ActionKeyRevoke = "key.revoke"
)

// Desk applies analyst actions. It is safe for concurrent use.
type Desk struct {
	layer    *campaign.Layer
	accounts *profile.Accounts
	locks    Locks
	store    store.Store
	// wall is when an action is taken; data is the data's own time (the latest event time seen), at
	// which actions act: watchlist entries are added and expire in it, incidents are opened in it.
	wall, data func() time.Time
	// defaultTTL is how long an analyst's entry lasts when neither an expiry nor a pin is given.
	defaultTTL time.Duration
	// policy is the firm's compensation policy (nil: restore).
	policy *compensation.Policy

	incOnce sync.Once
	inc     *incidents
}

// Options configure a Desk.
type Options struct {
	// Layer and Accounts are the engine's campaign layer (nil when it is off) and profiles.
	Layer    *campaign.Layer
	Accounts *profile.Accounts
	// Store keeps the audit trail and is read for incidents' events and decisions.
	Store store.Store
	// Locks, when set, lifts fraud-report locks where the engine keeps accounts' histories, so that
	// events arriving late are decided with the lock as it stood at their time; without it an unlock
	// changes the profile directly.
	Locks Locks
	// Policy is the firm's compensation policy (nil: restore).
	Policy *compensation.Policy
	// Wall tells when an action is taken (the audit record's time). Required.
	Wall func() time.Time
	// Data tells the data's time: the time of the latest event the store has seen. Watchlist entries,
	// incidents and unlocks act at it, and each audit record keeps it beside the wall-clock time.
	// Nil: the wall clock.
	Data func() time.Time
}

// New returns a desk.
func New(o Options) *Desk {
	if o.Wall == nil {
		panic("casework: Options.Wall is required")
	}
	if o.Data == nil {
		o.Data = o.Wall
	}
	return &Desk{layer: o.Layer, accounts: o.Accounts, store: o.Store, locks: o.Locks, policy: o.Policy,
		wall: o.Wall, data: o.Data, defaultTTL: 7 * 24 * time.Hour}
}

// at is the data time an audit record acts at; records written before it was kept act at their
// wall-clock time.
func at(r *store.AuditRecord) time.Time {
	if r.DataTime.IsZero() {
		return r.Time
	}
	return r.DataTime
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

func needReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return fault.Errorf(fault.ErrInvalid, "reason: required (it goes into the audit trail)")
	}
	if len(reason) > 2000 {
		return fault.Errorf(fault.ErrInvalid, "reason: longer than 2000 bytes")
	}
	return nil
}

// record writes an audit record, then applies it.
func (d *Desk) record(ctx context.Context, actor, action, target, reason string, data any, apply func(r *store.AuditRecord) error) (*store.AuditRecord, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	r := &store.AuditRecord{Time: d.wall().UTC(), DataTime: d.data().UTC(), Actor: actor, Action: action, Target: target, Reason: reason, Data: b}
	if err := d.store.AppendAudit(ctx, r); err != nil {
		return nil, err
	}
	return r, apply(r)
}

// AddWatch puts an analyst's entry on the watchlist.
func (d *Desk) AddWatch(ctx context.Context, actor string, w Watch, reason string) (campaign.Entry, error) {
	wl, err := d.watchlist()
	if err != nil {
		return campaign.Entry{}, err
	}
	if err := needReason(reason); err != nil {
		return campaign.Entry{}, err
	}
	v, err := campaign.Normalize(w.Kind, w.Value)
	if err != nil {
		return campaign.Entry{}, fault.Errorf(fault.ErrInvalid, "%v", err)
	}
	w.Value = v
	now := d.data()
	if !w.Pinned && !w.Expires.IsZero() && !w.Expires.After(now) {
		return campaign.Entry{}, fault.Errorf(fault.ErrInvalid, "expires: %s is not after the data's time %s (the latest event seen)", w.Expires.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	var out campaign.Entry
	_, err = d.record(ctx, actor, ActionWatchAdd, w.Kind+":"+w.Value, reason, w, func(r *store.AuditRecord) error {
		out, err = d.applyAdd(wl, r, w)
		return err
	})
	return out, err
}

func (d *Desk) applyAdd(wl *campaign.Watchlist, r *store.AuditRecord, w Watch) (campaign.Entry, error) {
	exp := w.Expires
	if exp.IsZero() {
		exp = at(r).Add(d.defaultTTL)
	}
	e := campaign.Entry{Kind: w.Kind, Value: w.Value, Reason: r.Reason, Source: campaign.SourceAnalyst, By: r.Actor,
		Ref: fmt.Sprintf("audit-%d", r.Seq), Added: at(r), Expires: exp, Pinned: w.Pinned}
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
	if err := needReason(reason); err != nil {
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
	_, err = d.record(ctx, actor, action, c.Kind+":"+c.Value, reason, c, func(r *store.AuditRecord) error {
		out, err = apply(wl, r, c)
		return err
	})
	return out, err
}

func (d *Desk) applyRemove(wl *campaign.Watchlist, r *store.AuditRecord, c Change) (campaign.Entry, error) {
	ttl := time.Duration(d.layer.Config().WatchTTL) * time.Second
	e, err := wl.Remove(c.Kind, c.Value, at(r).Add(ttl))
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
		exp = at(r).Add(d.defaultTTL)
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
	if err := needReason(reason); err != nil {
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
	_, err := d.record(ctx, actor, ActionUnlock, "account:"+account, reason, data, func(r *store.AuditRecord) error {
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
		if !locked || int64(cur) > at(r).Unix() {
			return nil
		}
		lock = uint64(cur)
	}
	d.applyUnlock(account, uint32(lock), after)
	return nil
}

// Restore replays the audit trail over state rebuilt from the events; it returns how many actions it
// applied. Entries that have expired since are applied and stay inactive.
func (d *Desk) Restore(ctx context.Context) (int, error) {
	n := 0
	var after int64
	for {
		recs, err := d.store.Audit(ctx, store.AuditQuery{After: after, Limit: 1000})
		if err != nil {
			return n, err
		}
		for i := range recs {
			r := &recs[i]
			after = r.Seq
			if err := d.replay(r); err != nil {
				return n, fmt.Errorf("audit record %d (%s %s): %w", r.Seq, r.Action, r.Target, err)
			}
			n++
		}
		if len(recs) < 1000 {
			return n, nil
		}
	}
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
	case ActionIncidentOpen, ActionIncidentOrders, ActionIncidentExecs, ActionIncidentAssess, ActionIncidentApprove:
		return d.replayIncident(r)
	case ActionUnlock:
		return d.replayUnlock(r)
	}
	return nil
}
