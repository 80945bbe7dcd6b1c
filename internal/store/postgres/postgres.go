// Package postgres is the store.Store on PostgreSQL, for a firm that runs several brokerguard instances
// or wants the database on a server of its own. Every Append is one transaction that writes the whole
// batch with a few array-valued statements. The schema is created and upgraded at Open from the
// migrations embedded in the binary.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/brokerguard/brokerguard/internal/store"
)

var _ store.Store = (*Store)(nil)

// Options tune a Store. The zero value uses the DSN as it is.
type Options struct {
	// MaxConns bounds the connection pool; 0 = the larger of 4 and the number of CPUs.
	MaxConns int32
	// Schema holds every table of the Store; it is created when missing, and set as the search_path of
	// every connection. "" = the DSN's search_path (by default public).
	Schema string
}

// Store is a store.Store in a PostgreSQL schema. It is safe for concurrent use, also by several
// processes on the same schema.
type Store struct {
	pool       *pgxpool.Pool
	appendLock int64 // advisory lock that orders appends to this schema
	auditLock  int64 // advisory lock that orders the audit trail's chain

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
}

// Open connects to the database at dsn (a postgres:// URL or key=value string) and brings the schema up
// to date. A schema migrated by a newer brokerguard is refused with ErrSchemaTooNew.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The DSN may hold a password: only the reason is repeated.
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) && pe.Unwrap() != nil {
			err = pe.Unwrap()
		} else {
			err = errors.New("malformed")
		}
		return nil, fmt.Errorf("postgres: open: cannot parse the DSN: %v", err)
	}
	if opts.MaxConns < 0 {
		return nil, fmt.Errorf("postgres: open: MaxConns %d is negative", opts.MaxConns)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, translate(ctx, "open", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, translate(ctx, "open", err)
	}
	schema := opts.Schema
	if schema == "" {
		var cur *string
		if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&cur); err != nil {
			pool.Close()
			return nil, translate(ctx, "open", err)
		}
		if cur == nil {
			pool.Close()
			return nil, errors.New("postgres: open: the search_path names no existing schema; set Options.Schema")
		}
		schema = *cur
	}
	if err := migrate(ctx, pool, schema, opts.Schema != ""); err != nil {
		pool.Close()
		return nil, err
	}
	auditLock := lockKey("audit", schema)
	if err := chainPending(ctx, pool, auditLock); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool, appendLock: lockKey("append", schema), auditLock: auditLock}, nil
}

// lockKey is the advisory lock of one purpose in one schema.
func lockKey(purpose, schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("brokerguard " + purpose + " " + schema))
	return int64(h.Sum64())
}

// enter admits one operation, or returns ErrClosed; every enter is paired with leave.
func (s *Store) enter(op string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrClosed)
	}
	s.inflight.Add(1)
	return nil
}

func (s *Store) leave() { s.inflight.Done() }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.enter("ping"); err != nil {
		return err
	}
	defer s.leave()
	return translate(ctx, "ping", s.pool.Ping(ctx))
}

// Close waits for the operations in progress, then closes the connections. Later calls return
// ErrClosed; closing twice is not an error.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.inflight.Wait()
	s.pool.Close()
	return nil
}

// errInvalid marks a record the database refuses (a time out of range, text that is not UTF-8 or holds
// a NUL); it is reported as such, not as the store being unavailable.
var errInvalid = errors.New("invalid record")

// translate turns a driver error into one of the store's errors, with the operation for context. The
// driver's message is kept as text only, so callers cannot reach a driver type.
func translate(ctx context.Context, op string, err error) error {
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errInvalid):
		return fmt.Errorf("postgres: %s: %w", op, err)
	case ctx.Err() != nil:
		return fmt.Errorf("postgres: %s: %w", op, ctx.Err())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("postgres: %s: %w", op, err)
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	case errors.As(err, &pe) && len(pe.Code) == 5 && pe.Code[:2] == "22":
		// Class 22, data exception: the record, not the database, is at fault.
		return fmt.Errorf("postgres: %s: %w: %s (SQLSTATE %s)", op, errInvalid, pe.Message, pe.Code)
	case errors.As(err, &pe):
		return fmt.Errorf("postgres: %s: %w: %s (SQLSTATE %s)", op, store.ErrUnavailable, pe.Message, pe.Code)
	}
	return fmt.Errorf("postgres: %s: %w: %v", op, store.ErrUnavailable, err)
}

// DropSchema drops a schema with everything in it: for a benchmark that opened a Store in a schema of
// its own. A schema that does not exist is not an error.
func DropSchema(ctx context.Context, dsn, schema string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return translate(ctx, "drop schema", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		return translate(ctx, "drop schema", err)
	}
	return nil
}
