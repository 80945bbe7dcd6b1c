package postgres

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
	data := []byte(r.Data)
	if len(data) == 0 {
		data = []byte("{}")
	}
	if !json.Valid(data) {
		return fmt.Errorf("postgres: append audit: data is not JSON")
	}
	err := s.pool.QueryRow(ctx, "INSERT INTO audit (time_ns, data_time_ns, actor, action, target, reason, data) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
		r.Time.UnixNano(), sqlstore.DataTimeNS(r), r.Actor, r.Action, r.Target, r.Reason, string(data)).Scan(&r.Seq)
	if err != nil {
		return translate(ctx, "append audit", err)
	}
	return nil
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
