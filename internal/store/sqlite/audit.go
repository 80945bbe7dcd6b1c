package sqlite

import (
	"context"
	"encoding/json"
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
	res, err := s.wconn.ExecContext(ctx, "INSERT INTO audit (time_ns, data_time_ns, actor, action, target, reason, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
		r.Time.UnixNano(), sqlstore.DataTimeNS(r), r.Actor, r.Action, r.Target, r.Reason, data)
	if err != nil {
		return translate(ctx, "append audit", err)
	}
	if r.Seq, err = res.LastInsertId(); err != nil {
		return translate(ctx, "append audit", err)
	}
	s.ckpt.appended()
	return nil
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
	rows, err := s.read.QueryContext(ctx, "SELECT seq, time_ns, data_time_ns, actor, action, target, reason, data FROM audit WHERE "+
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
