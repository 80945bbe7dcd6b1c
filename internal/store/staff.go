package store

import (
	"context"
	"time"
)

// StaffUser is a person who signs in to the analyst console. Password is the argon2id hash in its
// encoded form, never the password.
type StaffUser struct {
	Name        string
	Role        string // analyst | supervisor | admin
	Password    string
	Disabled    bool
	Failed      int       // failed sign-ins since the last success or lock
	LockedUntil time.Time // zero while not locked; wall clock
	Created     time.Time
	Changed     time.Time
}

// StaffSession is a console session, kept server-side by the SHA-256 of the cookie's secret.
type StaffSession struct {
	Hash    [32]byte
	User    string
	Created time.Time
	Seen    time.Time // the last request
}

// Alert statuses. An alert no analyst has touched is open.
const (
	AlertOpen         = "open"
	AlertAcknowledged = "acknowledged"
	AlertDismissed    = "dismissed"
)

// AlertStatus is where an analyst has taken one alert.
type AlertStatus struct {
	Alert    string // the alert's id
	Kind     string // the alert's kind, for the counts of open alerts by kind
	Status   string // AlertOpen | AlertAcknowledged | AlertDismissed
	Assignee string // "" when nobody has taken it
	Reason   string // why it was dismissed
	Actor    string // who changed it last
	Changed  time.Time
}

// AlertKindCount is how many alerts of one kind are in one status.
type AlertKindCount struct {
	Kind, Status string
	Count        int64
}

// Staff is what the analyst console keeps in the store: its users and their sessions, the status of
// alerts, and the two lookups its pages need beyond store.Store (events by id, a symbol's quotes).
type Staff interface {
	// AddUser stores a new user; a name already stored gives ErrExists.
	AddUser(ctx context.Context, u StaffUser) error
	// User returns the named user, or ErrNotFound.
	User(ctx context.Context, name string) (StaffUser, error)
	// Users returns every user by name.
	Users(ctx context.Context) ([]StaffUser, error)
	// SetPassword replaces a user's password hash, clears failed sign-ins and a lock, and ends the
	// user's sessions. An unknown name gives ErrNotFound.
	SetPassword(ctx context.Context, name, password string, at time.Time) error
	// SetDisabled disables (ending the user's sessions) or enables a user. Unknown: ErrNotFound.
	SetDisabled(ctx context.Context, name string, disabled bool, at time.Time) error
	// SignInFailed counts a failed sign-in of the named user; the lockAfter-th in a row locks the user
	// until at+lockFor and starts the count again. It returns the user as stored after the change.
	SignInFailed(ctx context.Context, name string, at time.Time, lockAfter int, lockFor time.Duration) (StaffUser, error)
	// SignInSucceeded clears a user's failed sign-ins.
	SignInSucceeded(ctx context.Context, name string, at time.Time) error

	// AddSession stores a new session of an existing user.
	AddSession(ctx context.Context, s StaffSession) error
	// Session returns the session whose secret hashes to hash, or ErrNotFound.
	Session(ctx context.Context, hash [32]byte) (StaffSession, error)
	// TouchSession sets a session's last request time. An unknown session gives ErrNotFound.
	TouchSession(ctx context.Context, hash [32]byte, at time.Time) error
	// DeleteSession ends a session; ending one that does not exist is not an error.
	DeleteSession(ctx context.Context, hash [32]byte) error
	// DeleteExpiredSessions ends the sessions last seen before idle or created before absolute, and
	// returns how many it ended.
	DeleteExpiredSessions(ctx context.Context, idle, absolute time.Time) (int64, error)

	// SetAlertStatus records where an analyst has taken an alert, replacing its previous status.
	SetAlertStatus(ctx context.Context, s AlertStatus) error
	// AlertStatuses returns the statuses of the given alerts that have one, by alert id.
	AlertStatuses(ctx context.Context, ids []string) (map[string]AlertStatus, error)
	// AlertKindCounts counts the stored alerts by kind and status (an alert without a status is open).
	AlertKindCounts(ctx context.Context) ([]AlertKindCount, error)

	// EventsByID returns the stored events with the given ids, in the order of ids; ids not stored
	// are left out.
	EventsByID(ctx context.Context, ids []string) ([]EventRecord, error)
	// Quotes returns the quote events of symbol with since ≤ time < until, oldest first, at most limit
	// (0: 10,000).
	Quotes(ctx context.Context, symbol string, since, until time.Time, limit int) ([]EventRecord, error)
}
