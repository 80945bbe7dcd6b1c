package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlstore"
)

var _ store.Maintainer = (*Store)(nil)

// Stats counts the rows of every table and measures each table with its indexes through the dbstat
// virtual table.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	if err := s.enter("stats"); err != nil {
		return store.Stats{}, err
	}
	defer s.leave()
	st := store.Stats{Engine: "sqlite", Detail: "pages of each table and its indexes (dbstat)"}
	conn, err := s.read.Conn(ctx)
	if err != nil {
		return st, translate(ctx, "stats", err)
	}
	defer conn.Close()
	// One read transaction: the counts, sizes and types agree with each other.
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return st, translate(ctx, "stats", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")

	sizes := map[string]int64{}
	rows, err := conn.QueryContext(ctx, `SELECT m.tbl_name, sum(d.pgsize) FROM dbstat AS d
		JOIN sqlite_schema AS m ON m.name = d.name GROUP BY m.tbl_name`)
	if err == nil {
		for rows.Next() {
			var name string
			var n int64
			if err = rows.Scan(&name, &n); err != nil {
				break
			}
			sizes[name] = n
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
	}
	haveSizes := err == nil
	if !haveSizes {
		st.Detail = "sizes per table unknown (no dbstat): " + err.Error()
	}
	for _, name := range store.CountTables {
		t := store.TableStats{Name: name, Bytes: -1}
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+name).Scan(&t.Rows); err != nil {
			return st, translate(ctx, "stats: "+name, err)
		}
		if haveSizes {
			t.Bytes = sizes[name]
		}
		st.Tables = append(st.Tables, t)
	}
	rows, err = conn.QueryContext(ctx, "SELECT type, count(*) FROM events GROUP BY type ORDER BY type")
	if err != nil {
		return st, translate(ctx, "stats: event types", err)
	}
	st.EventTypes, err = sqlstore.ScanTypeCounts(rows)
	rows.Close()
	if err != nil {
		return st, translate(ctx, "stats: event types", err)
	}
	var (
		firstNS, lastNS   sql.NullInt64
		firstOff, lastOff sql.NullInt64
		z                 zones
	)
	if err := conn.QueryRowContext(ctx, "SELECT first_ns, first_off, last_ns, last_off FROM counts").
		Scan(&firstNS, &firstOff, &lastNS, &lastOff); err != nil {
		return st, translate(ctx, "stats", err)
	}
	st.First, st.Last = z.time(firstNS, int(firstOff.Int64)), z.time(lastNS, int(lastOff.Int64))
	if err := conn.QueryRowContext(ctx, "SELECT page_size, freelist_count FROM pragma_page_size, pragma_freelist_count").
		Scan(&st.PageSize, &st.FreePages); err != nil {
		return st, translate(ctx, "stats: pages", err)
	}
	for _, p := range []string{s.path, s.path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			st.Files = append(st.Files, store.FileSize{Path: p, Bytes: fi.Size()})
			st.Bytes += fi.Size()
		}
	}
	return st, nil
}

// pruneQuotesSQL deletes the quotes before a cutoff except the last one stored of each symbol and JST
// day: the one the market state's day change reads when it is rebuilt.
const pruneQuotesSQL = `DELETE FROM events WHERE seq IN (
	SELECT seq FROM (
		SELECT seq, row_number() OVER (
			PARTITION BY json_extract(CAST(raw AS TEXT), '$.symbol'), (time_ns / 1000000000 + 32400) / 86400
			ORDER BY seq DESC) AS rn
		FROM events WHERE type = 'quote' AND time_ns < ?)
	WHERE rn > 1)`

// Prune deletes the events r no longer keeps in one write transaction, and the counts and the time
// range with them.
func (s *Store) Prune(ctx context.Context, r store.Retention) (store.Pruned, error) {
	var p store.Pruned
	if err := s.enter("prune"); err != nil {
		return p, err
	}
	defer s.leave()
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return p, fmt.Errorf("sqlite: prune: %w", ctx.Err())
	}
	defer func() { <-s.wsem }()
	c := s.wconn
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return p, translate(ctx, "prune: begin", err)
	}
	err := s.pruneTx(ctx, r, &p)
	if err == nil {
		if _, err = c.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err != nil {
			err = translate(ctx, "prune: commit", err)
		}
	}
	if err != nil {
		_, _ = c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return store.Pruned{}, err
	}
	s.ckpt.appended()
	return p, nil
}

func (s *Store) pruneTx(ctx context.Context, r store.Retention, p *store.Pruned) error {
	c := s.wconn
	var (
		lastNS, lastOff sql.NullInt64
		z               zones
	)
	if err := c.QueryRowContext(ctx, "SELECT last_ns, last_off FROM counts").Scan(&lastNS, &lastOff); err != nil {
		return translate(ctx, "prune", err)
	}
	p.DataTime = z.time(lastNS, int(lastOff.Int64))
	if !lastNS.Valid || r.Keeps() {
		return nil
	}
	var days []int64
	if r.Quotes > 0 {
		rows, err := c.QueryContext(ctx, `SELECT DISTINCT (time_ns / 1000000000 + 32400) / 86400 AS d FROM events
			WHERE type = 'quote' ORDER BY d DESC LIMIT 2`)
		if err != nil {
			return translate(ctx, "prune: quote days", err)
		}
		for rows.Next() {
			var d int64
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return translate(ctx, "prune: quote days", err)
			}
			days = append(days, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return translate(ctx, "prune: quote days", err)
		}
	}
	quotesBefore, eventsBefore := r.Cutoffs(lastNS.Int64, days)
	if quotesBefore > 0 {
		p.QuotesBefore = time.Unix(0, quotesBefore).In(p.DataTime.Location())
		res, err := c.ExecContext(ctx, pruneQuotesSQL, quotesBefore)
		if err != nil {
			return translate(ctx, "prune: quotes", err)
		}
		p.Quotes, _ = res.RowsAffected()
	}
	if eventsBefore > 0 {
		p.EventsBefore = time.Unix(0, eventsBefore).In(p.DataTime.Location())
		res, err := c.ExecContext(ctx, "DELETE FROM events WHERE account <> '' AND time_ns < ?", eventsBefore)
		if err != nil {
			return translate(ctx, "prune: events", err)
		}
		p.Events, _ = res.RowsAffected()
	}
	if p.Quotes+p.Events == 0 {
		return nil
	}
	if _, err := c.ExecContext(ctx, `UPDATE counts SET events = events - ?,
		first_ns  = (SELECT time_ns FROM events ORDER BY time_ns, seq LIMIT 1),
		first_off = (SELECT tz_offset FROM events ORDER BY time_ns, seq LIMIT 1)`, p.Quotes+p.Events); err != nil {
		return translate(ctx, "prune: counts", err)
	}
	return nil
}

// Compact rewrites the database file without the pages of deleted rows (VACUUM) and empties the WAL.
// Appends wait while it runs; it needs free disk space about the size of the database.
func (s *Store) Compact(ctx context.Context) error {
	if err := s.enter("compact"); err != nil {
		return err
	}
	defer s.leave()
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("sqlite: compact: %w", ctx.Err())
	}
	defer func() { <-s.wsem }()
	if _, err := s.wconn.ExecContext(ctx, "VACUUM"); err != nil {
		return translate(ctx, "compact: vacuum", err)
	}
	if _, err := s.wconn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return translate(ctx, "compact: checkpoint", err)
	}
	return nil
}
