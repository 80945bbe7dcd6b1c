package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlstore"
)

// AppendAudit records one analyst action and sets r.Seq. It is durable when it returns.
func (s *Store) AppendAudit(ctx context.Context, r *store.AuditRecord) error {
	if err := s.enter("append audit"); err != nil {
		return err
	}
	defer s.leave()
	data, err := auditData(r)
	if err != nil {
		return err
	}
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("sqlite: append audit: %w", ctx.Err())
	}
	defer func() { <-s.wsem }()
	if err := s.appendAudit(ctx, r, data); err != nil {
		return translate(ctx, "append audit", err)
	}
	s.ckpt.appended()
	return nil
}

// appendAudit chains r to the last record and inserts it, in one transaction that takes the write
// lock first: a guest process (key add) appends beside a server.
func (s *Store) appendAudit(ctx context.Context, r *store.AuditRecord, data string) (err error) {
	if _, err := s.wconn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, _ = s.wconn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	var prev []byte
	err = s.wconn.QueryRowContext(ctx, "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").Scan(&prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	rec := *r
	rec.Data = json.RawMessage(data)
	hash := store.AuditHash(prev, &rec)
	res, err := s.wconn.ExecContext(ctx, "INSERT INTO audit (time_ns, data_time_ns, actor, action, target, reason, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		r.Time.UnixNano(), sqlstore.DataTimeNS(r), r.Actor, r.Action, r.Target, r.Reason, data, prev, hash)
	if err != nil {
		return err
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return err
	}
	if _, err := s.wconn.ExecContext(ctx, "COMMIT"); err != nil {
		return err
	}
	r.Seq, r.Prev, r.Hash = seq, prev, hash
	return nil
}

// chainPending chains the records written before the audit trail became a chain (migration 0005), once.
func chainPending(ctx context.Context, conn *sql.Conn) (err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return translate(ctx, "chain audit", err)
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	var upto int64
	switch err := conn.QueryRowContext(ctx, "SELECT upto FROM audit_chain_pending").Scan(&upto); {
	case errors.Is(err, sql.ErrNoRows):
		_, err = conn.ExecContext(ctx, "COMMIT")
		return translate(ctx, "chain audit", err)
	case err != nil:
		return translate(ctx, "chain audit", err)
	}
	rows, err := conn.QueryContext(ctx, "SELECT seq, time_ns, data_time_ns, actor, action, target, reason, data, prev_hash, hash FROM audit WHERE seq <= ? ORDER BY seq", upto)
	if err != nil {
		return translate(ctx, "chain audit", err)
	}
	recs, err := sqlstore.ScanAudit(rows)
	rows.Close()
	if err != nil {
		return translate(ctx, "chain audit", err)
	}
	err = sqlstore.ChainAudit(recs, func(seq int64, prev, hash []byte) error {
		_, err := conn.ExecContext(ctx, "UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", prev, hash, seq)
		return err
	})
	if err != nil {
		return translate(ctx, "chain audit", err)
	}
	if _, err := conn.ExecContext(ctx, "DELETE FROM audit_chain_pending"); err != nil {
		return translate(ctx, "chain audit", err)
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return translate(ctx, "chain audit", err)
}

// auditData returns the record's data as a JSON object, "{}" when empty.
func auditData(r *store.AuditRecord) (string, error) {
	if len(r.Data) == 0 {
		return "{}", nil
	}
	if !json.Valid(r.Data) {
		return "", fmt.Errorf("sqlite: append audit: data is not JSON")
	}
	return string(r.Data), nil
}

// Audit returns the audit records q selects, oldest first.
func (s *Store) Audit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	if err := s.enter("audit"); err != nil {
		return nil, err
	}
	defer s.leave()
	where := []string{"seq > ?"}
	args := []any{q.After}
	if q.Target != "" {
		where, args = append(where, "target = ?"), append(args, q.Target)
	}
	if q.Action != "" {
		if prefix, ok := strings.CutSuffix(q.Action, "."); ok {
			where, args = append(where, "substr(action, 1, ?) = ?"), append(args, len(prefix)+1, prefix+".")
		} else {
			where, args = append(where, "action = ?"), append(args, q.Action)
		}
	}
	args = append(args, limit(q.Limit))
	rows, err := s.read.QueryContext(ctx, "SELECT seq, time_ns, data_time_ns, actor, action, target, reason, data, prev_hash, hash FROM audit WHERE "+
		strings.Join(where, " AND ")+" ORDER BY seq LIMIT ?", args...)
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
