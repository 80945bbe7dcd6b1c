package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/store"
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
	err := s.pool.QueryRow(ctx, "INSERT INTO audit (time_ns, actor, action, target, reason, data) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
		r.Time.UnixNano(), r.Actor, r.Action, r.Target, r.Reason, string(data)).Scan(&r.Seq)
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
	sql := "SELECT seq, time_ns, actor, action, target, reason, data::text FROM audit WHERE " + strings.Join(c.where, " AND ") +
		fmt.Sprintf(" ORDER BY seq LIMIT $%d", len(c.args))
	rows, err := s.pool.Query(ctx, sql, c.args...)
	if err != nil {
		return nil, translate(ctx, "audit", err)
	}
	defer rows.Close()
	var out []store.AuditRecord
	for rows.Next() {
		var (
			r    store.AuditRecord
			ns   int64
			data string
		)
		if err := rows.Scan(&r.Seq, &ns, &r.Actor, &r.Action, &r.Target, &r.Reason, &data); err != nil {
			return nil, translate(ctx, "audit", err)
		}
		r.Time = time.Unix(0, ns).UTC()
		r.Data = json.RawMessage(data)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, "audit", err)
	}
	return out, nil
}
