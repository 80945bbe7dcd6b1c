package store

import (
	"context"
	"time"
)

// Retention says which stored events Prune deletes, by their age in data time: the time of the latest
// stored event, never the wall clock, so that a store replayed from an old log keeps what it would
// have kept when the log was live. A zero duration keeps those events forever. Decisions, alerts,
// the audit trail, API keys and instrument events are never deleted.
type Retention struct {
	// Quotes older than this are deleted, except the last quote of each symbol on each JST day, and
	// every quote of the two latest days that have quotes: what the market state rebuilt at start
	// needs (last price, previous close, daily move; today's and yesterday's volume) and what valuing
	// an incident needs (the close of every day).
	Quotes time.Duration
	// RawEvents: account events (logins, orders, transfers, …) older than this are deleted. Their
	// decisions and alerts stay, but the profiles rebuilt at start no longer see them.
	RawEvents time.Duration
}

// Keeps reports whether the retention deletes nothing.
func (r Retention) Keeps() bool { return r.Quotes <= 0 && r.RawEvents <= 0 }

// Pruned is what one Prune deleted.
type Pruned struct {
	// DataTime is the latest event time the ages were measured from; zero in an empty store.
	DataTime time.Time
	// QuotesBefore and EventsBefore are the cutoffs (zero when that retention keeps everything).
	QuotesBefore, EventsBefore time.Time
	Quotes, Events             int64 // quote and account events deleted
}

// TableStats is the size of one table.
type TableStats struct {
	Name  string `json:"name"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"` // with its indexes; -1 when the database cannot tell
}

// TypeCount is the number of stored events of one type.
type TypeCount struct {
	Type   string `json:"type"`
	Events int64  `json:"events"`
}

// FileSize is one file of the database on disk.
type FileSize struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

// Stats is what a store holds, table by table. It reads every table once: for an operator's command,
// not for a request path.
type Stats struct {
	Tables     []TableStats `json:"tables"`         // by name
	EventTypes []TypeCount  `json:"event_types"`    // by type
	First      time.Time    `json:"first,omitzero"` // the earliest event time; zero without events
	Last       time.Time    `json:"last,omitzero"`  // the latest event time
	Files      []FileSize   `json:"files"`          // SQLite: the database and its WAL; PostgreSQL: none
	Bytes      int64        `json:"bytes"`          // SQLite: the files; PostgreSQL: the schema's tables with their indexes
	PageSize   int64        `json:"page_size"`      // SQLite only
	FreePages  int64        `json:"free_pages"`     // SQLite: pages on the freelist, reused before the file grows
	DeadRows   int64        `json:"dead_rows"`      // PostgreSQL: dead tuples that VACUUM would reclaim
	Engine     string       `json:"engine"`         // sqlite | postgres
	Detail     string       `json:"detail"`         // how Bytes per table were measured
}

// Maintainer is implemented by the stores that can report their size and delete old events.
type Maintainer interface {
	// Stats reads the size of every table, the events by type and the database's free space.
	Stats(ctx context.Context) (Stats, error)
	// Prune deletes the events that r no longer keeps, in one transaction, and keeps Counts and
	// Extent right. Appends wait while it runs.
	Prune(ctx context.Context, r Retention) (Pruned, error)
	// Compact gives the space of deleted rows back: SQLite rewrites the file (VACUUM), PostgreSQL
	// runs VACUUM (ANALYZE) on the tables. It may take as long as copying the database.
	Compact(ctx context.Context) error
}

// CountTables are the tables Stats reports, in order.
var CountTables = []string{"events", "decisions", "shadow_decisions", "alerts", "alert_accounts", "alert_symbols", "audit", "api_keys"}

// jstOffset is JST's offset from UTC in seconds: the market's calendar day.
const jstOffset = 9 * 3600

// QuoteDay is the JST day number of a quote at Unix nanoseconds ns (days since 1970-01-01 JST), as the
// stores compute it in SQL: (ns / 1e9 + 32400) / 86400.
func QuoteDay(ns int64) int64 { return (ns/1e9 + jstOffset) / 86400 }

// Cutoffs returns the times before which Prune deletes quotes and account events, as Unix
// nanoseconds, given the latest event time and the latest quote days in the store (newest first, at
// most two): 0 means delete nothing. The quote cutoff never passes the start of the older of the two
// latest quote days, whose every quote the market state rebuilt at start needs.
func (r Retention) Cutoffs(lastNS int64, quoteDays []int64) (quotes, events int64) {
	if r.Quotes > 0 && len(quoteDays) > 0 {
		quotes = lastNS - int64(r.Quotes)
		keepFrom := quoteDays[min(len(quoteDays), 2)-1]
		if start := (keepFrom*86400 - jstOffset) * 1e9; start < quotes {
			quotes = start
		}
		quotes = max(quotes, 0)
	}
	if r.RawEvents > 0 {
		events = max(lastNS-int64(r.RawEvents), 0)
	}
	return quotes, events
}
