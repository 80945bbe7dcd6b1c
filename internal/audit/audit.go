// Package audit is the one place where an analyst's or an administrator's action becomes durable: an
// action is written to the audit trail first and applied only once it is stored (Trail.Record), and
// at start each room that changes state (the desk, the incident register, the regulator's filings)
// replays the actions that are its own (Trail.Replay) over state rebuilt from the events.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/fault"
	"github.com/brokerguard/brokerguard/internal/store"
)

// Actions recorded outside the rooms (the command line, the console's staff and alert queue, the
// customers' answers to notices); no room replays them.
const (
	ActionKeyAdd    = "key.add"
	ActionKeyRevoke = "key.revoke"

	ActionUserAdd     = "user.add"
	ActionUserPasswd  = "user.passwd"
	ActionUserDisable = "user.disable"
	ActionUserEnable  = "user.enable"

	ActionConsoleSignIn  = "console.signin"
	ActionConsoleSignOut = "console.signout"

	ActionAlertAcknowledge = "alert.acknowledge"
	ActionAlertAssign      = "alert.assign"
	ActionAlertDismiss     = "alert.dismiss"
	ActionAlertReopen      = "alert.reopen"

	// ActionNoticeConfirmed is a customer's "it was me" to a notice: a label kept for learning.
	ActionNoticeConfirmed = "notice.confirmed"
)

// OtherActions are the actions recorded outside the rooms, in the order listed above.
func OtherActions() []string {
	return []string{ActionKeyAdd, ActionKeyRevoke, ActionUserAdd, ActionUserPasswd, ActionUserDisable, ActionUserEnable,
		ActionConsoleSignIn, ActionConsoleSignOut, ActionAlertAcknowledge, ActionAlertAssign, ActionAlertDismiss, ActionAlertReopen, ActionNoticeConfirmed}
}

// Store is what the trail needs of the store: appending a record and reading the trail in order.
type Store interface {
	AppendAudit(ctx context.Context, r *store.AuditRecord) error
	Audit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error)
}

// Options configure a Trail.
type Options struct {
	// Store keeps the trail. Required.
	Store Store
	// Wall tells when an action is taken (the record's time). Required.
	Wall func() time.Time
	// Data tells the data's time, the time of the latest event the store has seen, at which actions
	// act; each record keeps it beside the wall-clock time. Nil: the wall clock.
	Data func() time.Time
}

// Trail writes and replays audited actions. It is safe for concurrent use.
type Trail struct {
	store      Store
	wall, data func() time.Time
}

// New returns a trail.
func New(o Options) *Trail {
	if o.Store == nil || o.Wall == nil {
		panic("audit: Options.Store and Options.Wall are required")
	}
	if o.Data == nil {
		o.Data = o.Wall
	}
	return &Trail{store: o.Store, wall: o.Wall, data: o.Data}
}

// Wall returns the wall-clock time of an action taken now.
func (t *Trail) Wall() time.Time { return t.wall() }

// Data returns the data's time now.
func (t *Trail) Data() time.Time { return t.data() }

// Store returns the store the trail is kept in.
func (t *Trail) Store() Store { return t.store }

// Record writes an audit record of action on target, with data as its JSON, then applies it. Nothing
// is applied when the record could not be stored. apply is nil for a record that changes no state (a
// label).
func (t *Trail) Record(ctx context.Context, actor, action, target, reason string, data any, apply func(r *store.AuditRecord) error) (*store.AuditRecord, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	r := &store.AuditRecord{Time: t.wall().UTC(), DataTime: t.data().UTC(), Actor: actor, Action: action, Target: target, Reason: reason, Data: b}
	if err := t.store.AppendAudit(ctx, r); err != nil {
		return nil, err
	}
	if apply == nil {
		return r, nil
	}
	return r, apply(r)
}

// Replay calls apply for every record of the trail whose action is one of actions, oldest first, and
// returns how many it applied. An error names the record.
func (t *Trail) Replay(ctx context.Context, actions []string, apply func(r *store.AuditRecord) error) (int, error) {
	n := 0
	var after int64
	for {
		recs, err := t.store.Audit(ctx, store.AuditQuery{After: after, Limit: 1000})
		if err != nil {
			return n, err
		}
		for i := range recs {
			r := &recs[i]
			after = r.Seq
			if !slices.Contains(actions, r.Action) {
				continue
			}
			if err := apply(r); err != nil {
				return n, fmt.Errorf("audit record %d (%s %s): %w", r.Seq, r.Action, r.Target, err)
			}
			n++
		}
		if len(recs) < 1000 {
			return n, nil
		}
	}
}

// At is the data time a record acts at; records written before it was kept act at their wall-clock
// time.
func At(r *store.AuditRecord) time.Time {
	if r.DataTime.IsZero() {
		return r.Time
	}
	return r.DataTime
}

// NeedReason refuses an action without a reason, or with one too long for the trail.
func NeedReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return fault.Errorf(fault.ErrInvalid, "reason: required (it goes into the audit trail)")
	}
	if len(reason) > 2000 {
		return fault.Errorf(fault.ErrInvalid, "reason: longer than 2000 bytes")
	}
	return nil
}
