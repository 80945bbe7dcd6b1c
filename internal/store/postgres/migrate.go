package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlstore"
)

// ErrSchemaTooNew is returned by Open for a schema migrated by a newer brokerguard than this one.
var ErrSchemaTooNew = store.ErrSchemaTooNew

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the embedded migrations in order.
func migrations() ([]sqlstore.Migration, error) {
	return sqlstore.Migrations(migrationFiles, "migrations")
}

// migrate applies the migrations the schema has not seen, all in one transaction, and records each in
// schema_migrations. A transaction-scoped advisory lock makes instances that start together take turns:
// the first migrates, the others find the work done.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string, create bool) (err error) {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return translate(ctx, "migrate", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey("migrate", schema)); err != nil {
		return translate(ctx, "migrate", err)
	}
	if create {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
			return translate(ctx, "migrate: create schema", err)
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return translate(ctx, "migrate", err)
	}
	var current int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return translate(ctx, "migrate", err)
	}
	if current > sqlstore.Latest(ms) {
		return fmt.Errorf("postgres: migrate: %w: schema %s is at version %d, this brokerguard knows up to %d; upgrade brokerguard",
			ErrSchemaTooNew, schema, current, sqlstore.Latest(ms))
	}
	for _, m := range sqlstore.Pending(ms, current) {
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return translate(ctx, "migrate "+m.Name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
			return translate(ctx, "migrate "+m.Name, err)
		}
	}
	if err := tx.Commit(context.WithoutCancel(ctx)); err != nil {
		return translate(ctx, "migrate", err)
	}
	return nil
}
