// Package store defines how brokerguard persists what it accepts and decides: events (as received),
// decisions, shadow decisions and alerts, the analysts' audit trail, and the API keys issued from the
// command line. The implementations live in store/sqlite (embedded, the
// default) and store/postgres; store/storetest is the one test suite both must pass.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/fault"
)

// Errors every implementation translates its driver's errors into. Callers never see a driver error.
// They are the product's error kinds (internal/fault) or sentinels of those kinds.
var (
	ErrNotFound    = fault.ErrNotFound
	ErrUnavailable = fault.Kind(fault.ErrUnavailable, "store unavailable")
	ErrClosed      = fault.Kind(fault.ErrUnavailable, "store closed")
	// ErrSchemaTooNew is returned by Open for a database migrated by a newer brokerguard than this one.
	ErrSchemaTooNew = errors.New("database schema is newer than this brokerguard")
	// ErrExists is returned by AddKey for a name (or secret) that is already taken.
	ErrExists = fault.ErrExists
)

// EventRecord is one accepted event as stored: its identity and the original JSON object.
type EventRecord struct {
	ID      string
	Account string // "" for market data
	Type    string
	Time    time.Time
	Raw     []byte
}

// Batch is what one Append writes atomically.
type Batch struct {
	Events          []EventRecord
	Decisions       []event.Decision // Time set to the event's time
	ShadowDecisions []ShadowDecision
	Alerts          []event.Alert
}

// ShadowDecision is the decision a shadow rule set would have made; it is recorded, never acted on.
type ShadowDecision struct {
	RuleSet string // the shadow rule set's version
	event.Decision
}

// Len is the number of records in the batch.
func (b *Batch) Len() int {
	return len(b.Events) + len(b.Decisions) + len(b.ShadowDecisions) + len(b.Alerts)
}

// Reset empties the batch, keeping its capacity.
func (b *Batch) Reset() {
	b.Events, b.Decisions, b.ShadowDecisions, b.Alerts = b.Events[:0], b.Decisions[:0], b.ShadowDecisions[:0], b.Alerts[:0]
}

// StoredDecision is a decision with its position in the store.
type StoredDecision struct {
	Seq int64
	event.Decision
}

// StoredAlert is an alert with its position in the store.
type StoredAlert struct {
	Seq int64
	event.Alert
}

// DecisionQuery selects decisions, newest first. Zero fields do not filter.
type DecisionQuery struct {
	Account string
	Action  string    // one action name
	Since   time.Time // event time ≥ Since
	Until   time.Time // event time < Until
	Before  int64     // Seq < Before (cursor for the next page); 0 = from the newest
	Limit   int       // at most this many; 0 = 100
}

// AlertQuery selects alerts, newest first. Zero fields do not filter.
type AlertQuery struct {
	Kind    string
	Status  string // where analysts have taken it (store.AlertOpen, …; see store.Staff); an alert without a status is open
	Account string // alerts naming this account
	Symbol  string // alerts naming this symbol
	Since   time.Time
	Until   time.Time
	Before  int64
	Limit   int
}

// Counts are the numbers of stored records.
type Counts struct {
	Events, Decisions, ShadowDecisions, Alerts int64
}

// Extent is what a store holds: its events, their time range and its size on disk.
type Extent struct {
	Events      int64
	First, Last time.Time // the earliest and the latest event time, in the offset each was written with; zero without events
	Bytes       int64     // SQLite: the database file and its WAL; PostgreSQL: the schema's tables with their indexes
}

// APIKey is a bearer key issued from the command line. Only the SHA-256 of its secret is stored.
type APIKey struct {
	Name    string
	Role    string // read | ingest | analyst | supervisor | admin
	Hash    [32]byte
	Created time.Time // wall clock
	Revoked time.Time // zero while the key is valid
}

// Store persists events, decisions and alerts. Implementations are safe for concurrent use.
//
// Append is atomic: after it returns nil every record of the batch survives a crash of the process;
// after an error none of it is visible. An event whose ID is already stored is skipped, and so are
// decisions of an event ID already decided and alerts with an ID already stored, so that a retried
// batch is never duplicated.
type Store interface {
	Append(ctx context.Context, b *Batch) error
	// ScanEvents calls fn for every stored event with Seq > after, in the order they were appended.
	ScanEvents(ctx context.Context, after int64, fn func(seq int64, rec EventRecord) error) error
	// AccountEvents calls fn for every stored event of one account ("" for market data), in the order
	// they were appended. Its cost follows the account's events, not the whole log's.
	AccountEvents(ctx context.Context, account string, fn func(seq int64, rec EventRecord) error) error
	// Decision returns the decision of one event, or ErrNotFound.
	Decision(ctx context.Context, eventID string) (StoredDecision, error)
	Decisions(ctx context.Context, q DecisionQuery) ([]StoredDecision, error)
	ShadowDecisions(ctx context.Context, q DecisionQuery) ([]ShadowDecision, error)
	Alerts(ctx context.Context, q AlertQuery) ([]StoredAlert, error)
	Counts(ctx context.Context) (Counts, error)
	// Extent returns how many events the store holds, their time range and its size, without scanning
	// the events.
	Extent(ctx context.Context) (Extent, error)
	// EventsHeld reports, for each id, whether an event with that id is stored.
	EventsHeld(ctx context.Context, ids []string) ([]bool, error)
	// AppendAudit records one analyst action durably and sets its Seq; Audit reads them back, oldest
	// first. The audit trail is append-only: nothing updates or deletes a record.
	AppendAudit(ctx context.Context, r *AuditRecord) error
	Audit(ctx context.Context, q AuditQuery) ([]AuditRecord, error)
	// AddKey stores a new API key; a name or hash already stored (revoked or not) gives ErrExists.
	AddKey(ctx context.Context, k APIKey) error
	// Keys returns every key, revoked ones included, by name.
	Keys(ctx context.Context) ([]APIKey, error)
	// RevokeKey marks the named key revoked at the given time and returns it as stored: a key revoked
	// before keeps its first revocation time. An unknown name gives ErrNotFound.
	RevokeKey(ctx context.Context, name string, at time.Time) (APIKey, error)
	// KeyByHash returns the key whose secret hashes to hash, revoked or not, or ErrNotFound.
	KeyByHash(ctx context.Context, hash [32]byte) (APIKey, error)
	Ping(ctx context.Context) error
	Close() error
}

// AuditRecord is one analyst action: who did what to which target, when and why. Actions that change
// state (the watchlist, account locks, incidents) are replayed from the trail at start.
type AuditRecord struct {
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"` // when the action was taken (wall clock)
	// DataTime is the data time the action acts at: the time of the latest event the store had seen
	// when it was taken. Zero in records written before it was kept.
	DataTime time.Time       `json:"data_time,omitzero"`
	Actor    string          `json:"actor"`  // the API key's name
	Action   string          `json:"action"` // e.g. watchlist.add, account.unlock
	Target   string          `json:"target"` // e.g. symbol:7992, account:A123
	Reason   string          `json:"reason"`
	Data     json.RawMessage `json:"data"` // the action's parameters, a JSON object
	// Prev and Hash chain the trail (see AuditHash): the hash of the record before this one, and this
	// record's own. The store sets both when it appends the record.
	Prev []byte `json:"-"`
	Hash []byte `json:"-"`
}

// AuditQuery selects audit records, oldest first. Zero fields do not filter.
type AuditQuery struct {
	Target string
	Action string // an action, or a prefix ending in "." (watchlist.)
	After  int64  // Seq > After (cursor for the next page)
	Limit  int    // at most this many; 0 = 100
}
