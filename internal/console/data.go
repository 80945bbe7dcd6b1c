package console

import (
	"context"
	"time"

	"github.com/brokerguard/brokerguard/internal/campaign"
	"github.com/brokerguard/brokerguard/internal/desk"
	"github.com/brokerguard/brokerguard/internal/store"
)

// Users keeps the console's staff and their sessions. The SQLite and PostgreSQL stores implement it.
type Users interface {
	User(ctx context.Context, name string) (store.StaffUser, error)
	SignInFailed(ctx context.Context, name string, at time.Time, lockAfter int, lockFor time.Duration) (store.StaffUser, error)
	SignInSucceeded(ctx context.Context, name string, at time.Time) error
	AddSession(ctx context.Context, s store.StaffSession) error
	Session(ctx context.Context, hash [32]byte) (store.StaffSession, error)
	TouchSession(ctx context.Context, hash [32]byte, at time.Time) error
	DeleteSession(ctx context.Context, hash [32]byte) error
	DeleteExpiredSessions(ctx context.Context, idle, absolute time.Time) (int64, error)
}

// Alerts reads the stored alerts and keeps where analysts have taken them. The stores implement it.
type Alerts interface {
	Alerts(ctx context.Context, q store.AlertQuery) ([]store.StoredAlert, error)
	AlertStatuses(ctx context.Context, ids []string) (map[string]store.AlertStatus, error)
	AlertKindCounts(ctx context.Context) ([]store.AlertKindCount, error)
	SetAlertStatus(ctx context.Context, s store.AlertStatus) error
}

// Decisions reads the stored decisions and the numbers of stored records. The stores implement it.
type Decisions interface {
	Decisions(ctx context.Context, q store.DecisionQuery) ([]store.StoredDecision, error)
	Counts(ctx context.Context) (store.Counts, error)
}

// Events looks stored events up: by id (the events behind decisions) and a symbol's quotes.
type Events interface {
	EventsByID(ctx context.Context, ids []string) ([]store.EventRecord, error)
	Quotes(ctx context.Context, symbol string, since, until time.Time, limit int) ([]store.EventRecord, error)
}

// Campaigns are the campaigns the engine's campaign layer has found, as they stand at a time.
// *campaign.Layer implements it.
type Campaigns interface {
	Campaigns(at time.Time) []campaign.Campaign
}

// Accounts tells whether an account is locked and lifts a fraud report's lock through the audited
// unlock of casework.
type Accounts interface {
	// Locked reports whether the engine has seen the account and whether it is locked now.
	Locked(account string) (known, locked bool)
	// Unlock lifts the account's lock as actor, with a reason; it is audited before it applies.
	Unlock(ctx context.Context, actor, account, reason string) error
}

// Audit is the store's audit trail: every staff action is appended before it applies.
type Audit interface {
	AppendAudit(ctx context.Context, r *store.AuditRecord) error
	Audit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error)
}

// Watchlist is the campaign layer's watchlist and the analysts' audited changes to it (casework).
type Watchlist interface {
	// Entries are the entries active at the time (all: expired and suppressed ones too).
	Entries(at time.Time, all bool) []campaign.Entry
	// Add, Remove and Pin change the watchlist as actor, with a reason, audited before they apply.
	// Input they refuse gives an error wrapping ErrInvalid; an unknown entry one wrapping
	// store.ErrNotFound.
	Add(ctx context.Context, actor, kind, value, reason string, pinned bool) error
	Remove(ctx context.Context, actor, kind, value, reason string) error
	Pin(ctx context.Context, actor, kind, value, reason string, pinned bool) error
}

// Held lists the held orders and withdrawals with their state and releases or cancels them, audited
// before they apply. *desk.Desk implements it. Errors wrap fault.ErrNotFound (no such decision),
// fault.ErrConflict (not held, or already resolved the other way) and fault.ErrInvalid.
type Held interface {
	HeldItems(ctx context.Context, q store.DecisionQuery) ([]desk.HeldItem, error)
	Release(ctx context.Context, actor, eventID, reason string, stepUp *desk.StepUp) (desk.HeldItem, error)
	Cancel(ctx context.Context, actor, eventID, reason string, stepUp *desk.StepUp) (desk.HeldItem, error)
}
