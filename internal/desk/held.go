package desk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/audit"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/fault"
	"github.com/brokerguard/brokerguard/internal/store"
)

// Audit actions on held items.
const (
	ActionHeldRelease = "held.release"
	ActionHeldCancel  = "held.cancel"
)

// States of a held item.
const (
	HeldWaiting   = "held"
	HeldReleased  = "released"
	HeldCancelled = "cancelled"
)

// Decisions is what the desk reads of the store to find held items: one event's decision, and an
// account's decisions by action.
type Decisions interface {
	Decision(ctx context.Context, eventID string) (store.StoredDecision, error)
	Decisions(ctx context.Context, q store.DecisionQuery) ([]store.StoredDecision, error)
}

// StepUp is the result of the customer's step-up authentication the firm's app reports with a release
// or a cancel: how the customer was checked, whether the check passed and when.
type StepUp struct {
	Method string    `json:"method"`
	Passed bool      `json:"passed"`
	At     time.Time `json:"at,omitzero"`
}

// Resolution is how a held item was resolved: released or cancelled, by whom, when and why.
type Resolution struct {
	State  string    `json:"state"`
	Actor  string    `json:"actor"`
	Time   time.Time `json:"time"`      // wall clock
	At     time.Time `json:"data_time"` // the data's time
	Reason string    `json:"reason"`
	StepUp *StepUp   `json:"step_up,omitempty"`
	Audit  int64     `json:"audit_seq"`
}

// HeldItem is an order or a withdrawal the engine decided to hold, with where it stands.
type HeldItem struct {
	EventID string         `json:"event_id"`
	Account string         `json:"account"`
	Type    string         `json:"type"`
	Score   int            `json:"score"`
	Reasons []event.Reason `json:"reasons"`
	Decided time.Time      `json:"decided"` // the event's time
	State   string         `json:"state"`   // held | released | cancelled
	// Resolution is set once the item is released or cancelled.
	Resolution *Resolution `json:"resolution,omitempty"`
}

// heldData is the audit data of a release or a cancel.
type heldData struct {
	EventID string  `json:"event_id"`
	Account string  `json:"account"`
	Type    string  `json:"type"`
	StepUp  *StepUp `json:"step_up,omitempty"`
}

func heldItem(d store.StoredDecision) HeldItem {
	return HeldItem{EventID: d.ID, Account: d.Account, Type: d.Type, Score: d.Score, Reasons: d.Reasons, Decided: d.Time, State: HeldWaiting}
}

func (d *Desk) decisions() (Decisions, error) {
	if d.store == nil {
		return nil, fault.Errorf(fault.ErrConflict, "held items need the decision store, which this desk was built without")
	}
	return d.store, nil
}

// Held returns an account's held orders and withdrawals, newest first, each with its state; at most
// limit (0: 100).
func (d *Desk) Held(ctx context.Context, account string, limit int) ([]HeldItem, error) {
	if strings.TrimSpace(account) == "" {
		return nil, fault.Errorf(fault.ErrInvalid, "account: required")
	}
	return d.HeldItems(ctx, store.DecisionQuery{Account: account, Limit: limit})
}

// HeldItems returns the held orders and withdrawals q selects (its Action is set to hold), newest
// first, each with its state.
func (d *Desk) HeldItems(ctx context.Context, q store.DecisionQuery) ([]HeldItem, error) {
	st, err := d.decisions()
	if err != nil {
		return nil, err
	}
	q.Action = event.ActionHold.String()
	ds, err := st.Decisions(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]HeldItem, 0, len(ds))
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, dec := range ds {
		if !holdable(dec.Type) {
			continue
		}
		it := heldItem(dec)
		if r, ok := d.held[dec.ID]; ok {
			rc := r
			it.State, it.Resolution = r.State, &rc
		}
		out = append(out, it)
	}
	return out, nil
}

func holdable(typ string) bool { return typ == "order" || typ == "withdrawal" }

// HeldItem returns one held item with its state.
func (d *Desk) HeldItem(ctx context.Context, eventID string) (HeldItem, error) {
	dec, err := d.heldDecision(ctx, eventID)
	if err != nil {
		return HeldItem{}, err
	}
	it := heldItem(dec)
	d.mu.Lock()
	defer d.mu.Unlock()
	if r, ok := d.held[eventID]; ok {
		rc := r
		it.State, it.Resolution = r.State, &rc
	}
	return it, nil
}

func (d *Desk) heldDecision(ctx context.Context, eventID string) (store.StoredDecision, error) {
	st, err := d.decisions()
	if err != nil {
		return store.StoredDecision{}, err
	}
	if strings.TrimSpace(eventID) == "" {
		return store.StoredDecision{}, fault.Errorf(fault.ErrInvalid, "event id: required")
	}
	dec, err := st.Decision(ctx, eventID)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, fault.ErrNotFound) {
		return dec, fault.Errorf(fault.ErrNotFound, "event %q: no decision stored", eventID)
	}
	if err != nil {
		return dec, err
	}
	if dec.Action != event.ActionHold || !holdable(dec.Type) {
		return dec, fault.Errorf(fault.ErrConflict, "event %q is not held: its %s was decided %s", eventID, dec.Type, dec.Action)
	}
	return dec, nil
}

// Release lets a held item go on to be routed: the customer confirmed it (stepUp, when the firm's app
// reports it, must have passed) or an analyst released it. Releasing a released item again answers it
// as it stands; releasing a cancelled one is a conflict.
func (d *Desk) Release(ctx context.Context, actor, eventID, reason string, stepUp *StepUp) (HeldItem, error) {
	return d.resolve(ctx, actor, eventID, reason, stepUp, ActionHeldRelease, HeldReleased)
}

// Cancel drops a held item: it is never routed. Cancelling a cancelled item again answers it as it
// stands; cancelling a released one is a conflict.
func (d *Desk) Cancel(ctx context.Context, actor, eventID, reason string, stepUp *StepUp) (HeldItem, error) {
	return d.resolve(ctx, actor, eventID, reason, stepUp, ActionHeldCancel, HeldCancelled)
}

func (d *Desk) resolve(ctx context.Context, actor, eventID, reason string, stepUp *StepUp, action, state string) (HeldItem, error) {
	if err := audit.NeedReason(reason); err != nil {
		return HeldItem{}, err
	}
	if stepUp != nil {
		if strings.TrimSpace(stepUp.Method) == "" {
			return HeldItem{}, fault.Errorf(fault.ErrInvalid, "step_up.method: required when a step-up result is given (passkey, otp, …)")
		}
		if len(stepUp.Method) > 64 {
			return HeldItem{}, fault.Errorf(fault.ErrInvalid, "step_up.method: longer than 64 bytes")
		}
		if state == HeldReleased && !stepUp.Passed {
			return HeldItem{}, fault.Errorf(fault.ErrInvalid, "step_up: the customer's %s step-up did not pass; a held item is not released on a failed step-up (cancel it, or release it by hand without one)", stepUp.Method)
		}
	}
	dec, err := d.heldDecision(ctx, eventID)
	if err != nil {
		return HeldItem{}, err
	}
	it := heldItem(dec)
	d.mu.Lock()
	defer d.mu.Unlock()
	if r, ok := d.held[eventID]; ok {
		if r.State == state {
			rc := r
			it.State, it.Resolution = r.State, &rc
			return it, nil
		}
		return HeldItem{}, fault.Errorf(fault.ErrConflict, "event %q was %s by %s at %s; it cannot be %s now", eventID, r.State, r.Actor, r.Time.Format(time.RFC3339), state)
	}
	data := heldData{EventID: dec.ID, Account: dec.Account, Type: dec.Type, StepUp: stepUp}
	_, err = d.trail.Record(ctx, actor, action, "event:"+dec.ID, reason, data, func(r *store.AuditRecord) error {
		d.applyHeld(r, state, data)
		return nil
	})
	if err != nil {
		return HeldItem{}, err
	}
	res := d.held[eventID]
	it.State, it.Resolution = res.State, &res
	return it, nil
}

// applyHeld records a resolution; the first one of an item stands. d.mu is held.
func (d *Desk) applyHeld(r *store.AuditRecord, state string, data heldData) {
	if _, ok := d.held[data.EventID]; ok {
		return
	}
	d.held[data.EventID] = Resolution{State: state, Actor: r.Actor, Time: r.Time, At: audit.At(r), Reason: r.Reason, StepUp: data.StepUp, Audit: r.Seq}
}

func (d *Desk) replayHeld(r *store.AuditRecord) error {
	var data heldData
	if err := json.Unmarshal(r.Data, &data); err != nil {
		return err
	}
	if data.EventID == "" {
		return fmt.Errorf("no event_id in the record's data")
	}
	state := HeldReleased
	if r.Action == ActionHeldCancel {
		state = HeldCancelled
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.applyHeld(r, state, data)
	return nil
}
