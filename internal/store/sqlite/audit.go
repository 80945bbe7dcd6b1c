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
	// The entry is chained to the last one in a transaction that holds the database's write lock, so
	// that a guest process appending at the same time waits its turn.
	err = inTx(ctx, s.wconn, "append audit", func() error {
		var (
			last int64
			prev []byte
		)
		err := s.wconn.QueryRowContext(ctx, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").Scan(&last, &prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return translate(ctx, "append audit", err)
		}
		seq, dt := last+1, sqlstore.DataTimeNS(r)
		hash := store.AuditHash(prev, seq, r.Time.UnixNano(), dt, r.Actor, r.Action, r.Target, r.Reason, data)
		if prev == nil {
			prev = make([]byte, len(hash))
		}
		if _, err := s.wconn.ExecContext(ctx, "INSERT INTO audit (seq, time_ns, data_time_ns, actor, action, target, reason, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			seq, r.Time.UnixNano(), dt, r.Actor, r.Action, r.Target, r.Reason, data, prev, hash); err != nil {
			return translate(ctx, "append audit", err)
		}
		r.Seq = seq
		return nil
	})
	if err != nil {
		return err
	}
	s.ckpt.appended()
	return nil
}

// AuditChain returns up to limit audit entries with their hashes, Seq > after, oldest first.
func (s *Store) AuditChain(ctx context.Context, after int64, limit int) ([]store.ChainedAudit, error) {
	if err := s.enter("audit chain"); err != nil {
		return nil, err
	}
	defer s.leave()
	var out []store.ChainedAudit
	_, err := queryRows(ctx, s.read, "SELECT "+sqlstore.ChainColumns+" FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", []any{after, limit}, func(rows *sql.Rows) error {
		e, err := sqlstore.ScanChained(rows)
		out = append(out, e)
		return err
	})
	if err != nil {
		return nil, translate(ctx, "audit chain", err)
	}
	return out, nil
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
