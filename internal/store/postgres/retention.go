package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlstore"
)

var _ store.Maintainer = (*Store)(nil)

// Stats counts the rows of every table and measures each with its indexes and TOAST data
// (pg_total_relation_size), in one snapshot.
func (s *Store) Stats(ctx context.Context) (st store.Stats, err error) {
	if err := s.enter("stats"); err != nil {
		return st, err
	}
	defer s.leave()
	st = store.Stats{Engine: "postgres", Detail: "pg_total_relation_size of each table (with its indexes and TOAST)"}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return st, translate(ctx, "stats", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for _, name := range store.CountTables {
		t := store.TableStats{Name: name}
		var dead pgtype.Int8
		err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+pgx.Identifier{name}.Sanitize()+`),
			pg_total_relation_size(to_regclass($1)),
			(SELECT n_dead_tup FROM pg_stat_all_tables WHERE relid = to_regclass($1))`, name).
			Scan(&t.Rows, &t.Bytes, &dead)
		if err != nil {
			return st, translate(ctx, "stats: "+name, err)
		}
		st.Tables = append(st.Tables, t)
		st.DeadRows += dead.Int64
	}
	rows, err := tx.Query(ctx, "SELECT type, count(*) FROM events GROUP BY type ORDER BY type")
	if err != nil {
		return st, translate(ctx, "stats: event types", err)
	}
	st.EventTypes, err = sqlstore.ScanTypeCounts(rows)
	rows.Close()
	if err != nil {
		return st, translate(ctx, "stats: event types", err)
	}
	var (
		firstNS, lastNS   pgtype.Int8
		firstOff, lastOff pgtype.Int4
		z                 zones
	)
	err = tx.QueryRow(ctx, `SELECT first_ns, first_off, last_ns, last_off,
		(SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8 FROM pg_class c
			WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND c.relkind = 'r')
		FROM counts`).Scan(&firstNS, &firstOff, &lastNS, &lastOff, &st.Bytes)
	if err != nil {
		return st, translate(ctx, "stats", err)
	}
	st.First, st.Last = z.time(firstNS, int(firstOff.Int32)), z.time(lastNS, int(lastOff.Int32))
	return st, nil
}

// pruneQuotesSQL deletes the quotes before a cutoff except the last one stored of each symbol and JST
// day: the one the market state's day change reads when it is rebuilt.
const pruneQuotesSQL = `DELETE FROM events WHERE seq IN (
	SELECT seq FROM (
		SELECT seq, row_number() OVER (
			PARTITION BY convert_from(raw, 'UTF8')::json->>'symbol', (time_ns / 1000000000 + 32400) / 86400
			ORDER BY seq DESC) AS rn
		FROM events WHERE type = 'quote' AND time_ns < $1) AS q
	WHERE rn > 1)`

// Prune deletes the events r no longer keeps, and the counts and time range with them, in one
// transaction that holds the append lock: appends from every process wait for it.
func (s *Store) Prune(ctx context.Context, r store.Retention) (p store.Pruned, err error) {
	if err := s.enter("prune"); err != nil {
		return p, err
	}
	defer s.leave()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return p, translate(ctx, "prune: begin", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			p = store.Pruned{}
		}
	}()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", s.appendLock); err != nil {
		return p, translate(ctx, "prune: lock", err)
	}
	var (
		lastNS  pgtype.Int8
		lastOff pgtype.Int4
		z       zones
	)
	if err := tx.QueryRow(ctx, "SELECT last_ns, last_off FROM counts").Scan(&lastNS, &lastOff); err != nil {
		return p, translate(ctx, "prune", err)
	}
	p.DataTime = z.time(lastNS, int(lastOff.Int32))
	if !lastNS.Valid || r.Keeps() {
		return p, tx.Commit(ctx)
	}
	var days []int64
	if r.Quotes > 0 {
		rows, err := tx.Query(ctx, `SELECT DISTINCT (time_ns / 1000000000 + 32400) / 86400 AS d FROM events
			WHERE type = 'quote' AND time_ns IS NOT NULL ORDER BY d DESC LIMIT 2`)
		if err != nil {
			return p, translate(ctx, "prune: quote days", err)
		}
		days, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return p, translate(ctx, "prune: quote days", err)
		}
	}
	quotesBefore, eventsBefore := r.Cutoffs(lastNS.Int64, days)
	if quotesBefore > 0 {
		p.QuotesBefore = time.Unix(0, quotesBefore).In(p.DataTime.Location())
		tag, err := tx.Exec(ctx, pruneQuotesSQL, quotesBefore)
		if err != nil {
			return p, translate(ctx, "prune: quotes", err)
		}
		p.Quotes = tag.RowsAffected()
	}
	if eventsBefore > 0 {
		p.EventsBefore = time.Unix(0, eventsBefore).In(p.DataTime.Location())
		tag, err := tx.Exec(ctx, "DELETE FROM events WHERE account <> '' AND time_ns < $1", eventsBefore)
		if err != nil {
			return p, translate(ctx, "prune: events", err)
		}
		p.Events = tag.RowsAffected()
	}
	if p.Quotes+p.Events > 0 {
		_, err := tx.Exec(ctx, `UPDATE counts SET events = events - $1, first_ns = f.time_ns, first_off = f.tz_offset
			FROM (SELECT NULL) AS one
			LEFT JOIN (SELECT time_ns, tz_offset FROM events WHERE time_ns IS NOT NULL ORDER BY time_ns, seq LIMIT 1) AS f ON true`,
			p.Quotes+p.Events)
		if err != nil {
			return p, translate(ctx, "prune: counts", err)
		}
	}
	if err := tx.Commit(context.WithoutCancel(ctx)); err != nil {
		return p, translate(ctx, "prune: commit", err)
	}
	return p, nil
}

// Compact runs VACUUM (ANALYZE) on the store's tables: the space of deleted rows is reused by later
// appends (PostgreSQL gives it back to the file system only at the end of a table).
func (s *Store) Compact(ctx context.Context) error {
	if err := s.enter("compact"); err != nil {
		return err
	}
	defer s.leave()
	names := make([]string, len(store.CountTables))
	for i, n := range store.CountTables {
		names[i] = pgx.Identifier{n}.Sanitize()
	}
	if _, err := s.pool.Exec(ctx, "VACUUM (ANALYZE) "+strings.Join(names, ", ")+", counts"); err != nil {
		return translate(ctx, "compact: vacuum", err)
	}
	return nil
}
