package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlstore"
)

// AppendAudit records one analyst action and sets r.Seq. It is durable when it returns.
func (s *Store) AppendAudit(ctx context.Context, r *store.AuditRecord) error {
	if err := s.enter("append audit"); err != nil {
		return err
	}
	defer s.leave()
	data := []byte(r.Data)
	if len(data) == 0 {
		data = []byte("{}")
	}
	if !json.Valid(data) {
		return fmt.Errorf("postgres: append audit: data is not JSON")
	}
	if err := s.appendAudit(ctx, r, data); err != nil {
		return translate(ctx, "append audit", err)
	}
	return nil
}

// appendAudit chains r to the last record and inserts it. The advisory lock orders appends of every
// process on the schema, so that each record is chained to the one committed before it.
func (s *Store) appendAudit(ctx context.Context, r *store.AuditRecord, data []byte) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", s.auditLock); err != nil {
		return err
	}
	var prev []byte
	if err := tx.QueryRow(ctx, "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").Scan(&prev); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	rec := *r
	rec.Data = json.RawMessage(data)
	hash := store.AuditHash(prev, &rec)
	var seq int64
	if err := tx.QueryRow(ctx, "INSERT INTO audit (time_ns, data_time_ns, actor, action, target, reason, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq",
		r.Time.UnixNano(), sqlstore.DataTimeNS(r), r.Actor, r.Action, r.Target, r.Reason, string(data), prev, hash).Scan(&seq); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	r.Seq, r.Prev, r.Hash = seq, prev, hash
	return nil
}

// chainPending chains the records written before the audit trail became a chain (migration 0005), once.
func chainPending(ctx context.Context, pool *pgxpool.Pool, auditLock int64) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return translate(ctx, "chain audit", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", auditLock); err != nil {
		return translate(ctx, "chain audit", err)
	}
	var upto int64
	switch err := tx.QueryRow(ctx, "SELECT upto FROM audit_chain_pending").Scan(&upto); {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return translate(ctx, "chain audit", err)
	}
	rows, err := tx.Query(ctx, "SELECT seq, time_ns, data_time_ns, actor, action, target, reason, data::text, prev_hash, hash FROM audit WHERE seq <= $1 ORDER BY seq", upto)
	if err != nil {
		return translate(ctx, "chain audit", err)
	}
	recs, err := sqlstore.ScanAudit(rows)
	rows.Close()
	if err != nil {
		return translate(ctx, "chain audit", err)
	}
	err = sqlstore.ChainAudit(recs, func(seq int64, prev, hash []byte) error {
		_, err := tx.Exec(ctx, "UPDATE audit SET prev_hash = $1, hash = $2 WHERE seq = $3", prev, hash, seq)
		return err
	})
	if err != nil {
		return translate(ctx, "chain audit", err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM audit_chain_pending"); err != nil {
		return translate(ctx, "chain audit", err)
	}
	return translate(ctx, "chain audit", tx.Commit(ctx))
}

// Audit returns the audit records q selects, oldest first.
func (s *Store) Audit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	if err := s.enter("audit"); err != nil {
		return nil, err
	}
	defer s.leave()
	var c conds
	c.add("seq > ?", q.After)
	if q.Target != "" {
		c.add("target = ?", q.Target)
	}
	if q.Action != "" {
		if prefix, ok := strings.CutSuffix(q.Action, "."); ok {
			c.add("starts_with(action, ?)", prefix+".")
		} else {
			c.add("action = ?", q.Action)
		}
	}
	lim := q.Limit
	if lim <= 0 {
		lim = 100
	}
	c.args = append(c.args, lim)
	sql := "SELECT seq, time_ns, data_time_ns, actor, action, target, reason, data::text, prev_hash, hash FROM audit WHERE " + strings.Join(c.where, " AND ") +
		fmt.Sprintf(" ORDER BY seq LIMIT $%d", len(c.args))
	rows, err := s.pool.Query(ctx, sql, c.args...)
	if err != nil {
		return nil, translate(ctx, "audit", err)
	}
	defer rows.Close()
	out, err := sqlstore.ScanAudit(rows)
	if err != nil {
		return nil, translate(ctx, "audit", err)
	}
	return out, nil
}
