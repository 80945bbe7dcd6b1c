package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

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
	// The entry is chained to the last one under a transaction-scoped advisory lock of its own, so
	// that the sequence numbers and the chain have one order across processes.
	err := s.inTx(ctx, "append audit", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", s.appendLock^auditLockBits); err != nil {
			return translate(ctx, "append audit", err)
		}
		var prev []byte
		if err := tx.QueryRow(ctx, "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").Scan(&prev); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return translate(ctx, "append audit", err)
		}
		dt := sqlstore.DataTimeNS(r)
		if err := tx.QueryRow(ctx, "INSERT INTO audit (time_ns, data_time_ns, actor, action, target, reason, data) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
			r.Time.UnixNano(), dt, r.Actor, r.Action, r.Target, r.Reason, string(data)).Scan(&r.Seq); err != nil {
			return translate(ctx, "append audit", err)
		}
		hash := store.AuditHash(prev, r.Seq, r.Time.UnixNano(), dt, r.Actor, r.Action, r.Target, r.Reason, string(data))
		if prev == nil {
			prev = make([]byte, len(hash))
		}
		_, err := tx.Exec(ctx, "UPDATE audit SET prev_hash = $1, hash = $2 WHERE seq = $3", prev, hash, r.Seq)
		return translate(ctx, "append audit", err)
	})
	if err != nil {
		r.Seq = 0
		return err
	}
	return nil
}

// auditLockBits turn the schema's append lock into the audit trail's.
const auditLockBits = 0x61756469

// AuditChain returns up to limit audit entries with their hashes, Seq > after, oldest first.
func (s *Store) AuditChain(ctx context.Context, after int64, limit int) ([]store.ChainedAudit, error) {
	if err := s.enter("audit chain"); err != nil {
		return nil, err
	}
	defer s.leave()
	rows, err := s.pool.Query(ctx, "SELECT "+sqlstore.ChainColumns+" FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2", after, limit)
	if err != nil {
		return nil, translate(ctx, "audit chain", err)
	}
	defer rows.Close()
	var out []store.ChainedAudit
	for rows.Next() {
		e, err := sqlstore.ScanChained(rows)
		if err != nil {
			return nil, translate(ctx, "audit chain", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, "audit chain", err)
	}
	return out, nil
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
	sql := "SELECT seq, time_ns, data_time_ns, actor, action, target, reason, data::text FROM audit WHERE " + strings.Join(c.where, " AND ") +
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
