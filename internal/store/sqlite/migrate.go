package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlstore"
)

// ErrSchemaTooNew is returned by Open for a database migrated by a newer brokerguard than this one.
var ErrSchemaTooNew = store.ErrSchemaTooNew

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the embedded migrations in order.
func migrations() ([]sqlstore.Migration, error) {
	return sqlstore.Migrations(migrationFiles, "migrations")
}

// migrate applies the migrations the database has not seen, all in one transaction, and records each
// in schema_migrations.
func migrate(ctx context.Context, conn *sql.Conn) (err error) {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return translate(ctx, "migrate", err)
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return translate(ctx, "migrate", err)
	}
	var current int
	if err := conn.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return translate(ctx, "migrate", err)
	}
	if current > sqlstore.Latest(ms) {
		return fmt.Errorf("sqlite: migrate: %w: database is at version %d, this brokerguard knows up to %d; upgrade brokerguard",
			ErrSchemaTooNew, current, sqlstore.Latest(ms))
	}
	for _, m := range sqlstore.Pending(ms, current) {
		if _, err := conn.ExecContext(ctx, m.SQL); err != nil {
			return translate(ctx, "migrate "+m.Name, err)
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
			m.Version, m.Name); err != nil {
			return translate(ctx, "migrate "+m.Name, err)
		}
	}
	if _, err := conn.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err != nil {
		return translate(ctx, "migrate", err)
	}
	return nil
}
