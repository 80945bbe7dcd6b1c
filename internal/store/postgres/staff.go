package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlstore"
)

var (
	_ store.Staff = (*Store)(nil)
)

// execOne runs a statement that must change one row: none gives ErrNotFound.
func (s *Store) execOne(ctx context.Context, q pgxExec, op, what, sql string, args ...any) error {
	tag, err := q.Exec(ctx, sql, args...)
	if err != nil {
		return translate(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s %s: %w", op, what, store.ErrNotFound)
	}
	return nil
}

// AddUser stores a new staff user; a name already stored gives ErrExists.
func (s *Store) AddUser(ctx context.Context, u store.StaffUser) error {
	if err := s.enter("add user"); err != nil {
		return err
	}
	defer s.leave()
	tag, err := s.pool.Exec(ctx, `INSERT INTO staff_users (name, role, password, disabled, failed, locked_until_ns, created_ns, changed_ns)
		VALUES ($1, $2, $3, $4, 0, 0, $5, $5) ON CONFLICT DO NOTHING`, u.Name, u.Role, u.Password, u.Disabled, u.Created.UnixNano())
	if err != nil {
		return translate(ctx, "add user", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: add user %q: %w", u.Name, store.ErrExists)
	}
	return nil
}

// User returns the named user, or ErrNotFound.
func (s *Store) User(ctx context.Context, name string) (store.StaffUser, error) {
	if err := s.enter("user"); err != nil {
		return store.StaffUser{}, err
	}
	defer s.leave()
	u, err := sqlstore.ScanUser(s.pool.QueryRow(ctx, "SELECT "+sqlstore.UserColumns+" FROM staff_users WHERE name = $1", name))
	if err != nil {
		return u, translate(ctx, fmt.Sprintf("user %q", name), err)
	}
	return u, nil
}

// Users returns every user by name.
func (s *Store) Users(ctx context.Context) ([]store.StaffUser, error) {
	if err := s.enter("users"); err != nil {
		return nil, err
	}
	defer s.leave()
	rows, err := s.pool.Query(ctx, "SELECT "+sqlstore.UserColumns+" FROM staff_users ORDER BY name")
	if err != nil {
		return nil, translate(ctx, "users", err)
	}
	defer rows.Close()
	var out []store.StaffUser
	for rows.Next() {
		u, err := sqlstore.ScanUser(rows)
		if err != nil {
			return nil, translate(ctx, "users", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, "users", err)
	}
	return out, nil
}

// inTx runs fn in a transaction.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	if err := s.enter(op); err != nil {
		return err
	}
	defer s.leave()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return translate(ctx, op, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		return err
	}
	return translate(ctx, op, tx.Commit(ctx))
}

// SetPassword replaces a user's password hash, clears failed sign-ins and a lock, and ends the user's
// sessions.
func (s *Store) SetPassword(ctx context.Context, name, password string, at time.Time) error {
	return s.inTx(ctx, "set password", func(tx pgx.Tx) error {
		if err := s.execOne(ctx, tx, "set password", fmt.Sprintf("of %q", name),
			"UPDATE staff_users SET password = $1, failed = 0, locked_until_ns = 0, changed_ns = $2 WHERE name = $3",
			password, at.UnixNano(), name); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "DELETE FROM staff_sessions WHERE user_name = $1", name)
		return translate(ctx, "set password", err)
	})
}

// SetDisabled disables (ending the user's sessions) or enables a user.
func (s *Store) SetDisabled(ctx context.Context, name string, disabled bool, at time.Time) error {
	return s.inTx(ctx, "disable user", func(tx pgx.Tx) error {
		if err := s.execOne(ctx, tx, "disable user", fmt.Sprintf("%q", name),
			"UPDATE staff_users SET disabled = $1, changed_ns = $2 WHERE name = $3", disabled, at.UnixNano(), name); err != nil {
			return err
		}
		if !disabled {
			return nil
		}
		_, err := tx.Exec(ctx, "DELETE FROM staff_sessions WHERE user_name = $1", name)
		return translate(ctx, "disable user", err)
	})
}

// SignInFailed counts a failed sign-in; the lockAfter-th in a row locks the user until at+lockFor.
func (s *Store) SignInFailed(ctx context.Context, name string, at time.Time, lockAfter int, lockFor time.Duration) (store.StaffUser, error) {
	if err := s.enter("sign-in failed"); err != nil {
		return store.StaffUser{}, err
	}
	defer s.leave()
	u, err := sqlstore.ScanUser(s.pool.QueryRow(ctx, `UPDATE staff_users SET
		locked_until_ns = CASE WHEN failed + 1 >= $1 THEN $2 ELSE locked_until_ns END,
		failed = CASE WHEN failed + 1 >= $1 THEN 0 ELSE failed + 1 END
		WHERE name = $3 RETURNING `+sqlstore.UserColumns, lockAfter, at.Add(lockFor).UnixNano(), name))
	if err != nil {
		return u, translate(ctx, fmt.Sprintf("sign-in failed of %q", name), err)
	}
	return u, nil
}

// SignInSucceeded clears a user's failed sign-ins.
func (s *Store) SignInSucceeded(ctx context.Context, name string, at time.Time) error {
	if err := s.enter("sign-in"); err != nil {
		return err
	}
	defer s.leave()
	return s.execOne(ctx, s.pool, "sign-in", fmt.Sprintf("of %q", name), "UPDATE staff_users SET failed = 0 WHERE name = $1", name)
}

// AddSession stores a new session.
func (s *Store) AddSession(ctx context.Context, ss store.StaffSession) error {
	if err := s.enter("add session"); err != nil {
		return err
	}
	defer s.leave()
	_, err := s.pool.Exec(ctx, "INSERT INTO staff_sessions ("+sqlstore.SessionColumns+") VALUES ($1, $2, $3, $4)",
		ss.Hash[:], ss.User, ss.Created.UnixNano(), ss.Seen.UnixNano())
	return translate(ctx, "add session", err)
}

// Session returns the session whose secret hashes to hash, or ErrNotFound.
func (s *Store) Session(ctx context.Context, hash [32]byte) (store.StaffSession, error) {
	if err := s.enter("session"); err != nil {
		return store.StaffSession{}, err
	}
	defer s.leave()
	ss, err := sqlstore.ScanSession(s.pool.QueryRow(ctx, "SELECT "+sqlstore.SessionColumns+" FROM staff_sessions WHERE hash = $1", hash[:]))
	if err != nil {
		return ss, translate(ctx, "session", err)
	}
	return ss, nil
}

// TouchSession sets a session's last request time.
func (s *Store) TouchSession(ctx context.Context, hash [32]byte, at time.Time) error {
	if err := s.enter("touch session"); err != nil {
		return err
	}
	defer s.leave()
	return s.execOne(ctx, s.pool, "touch session", "", "UPDATE staff_sessions SET seen_ns = $1 WHERE hash = $2", at.UnixNano(), hash[:])
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, hash [32]byte) error {
	if err := s.enter("delete session"); err != nil {
		return err
	}
	defer s.leave()
	_, err := s.pool.Exec(ctx, "DELETE FROM staff_sessions WHERE hash = $1", hash[:])
	return translate(ctx, "delete session", err)
}

// DeleteExpiredSessions ends the sessions last seen before idle or created before absolute.
func (s *Store) DeleteExpiredSessions(ctx context.Context, idle, absolute time.Time) (int64, error) {
	if err := s.enter("delete expired sessions"); err != nil {
		return 0, err
	}
	defer s.leave()
	tag, err := s.pool.Exec(ctx, "DELETE FROM staff_sessions WHERE seen_ns < $1 OR created_ns < $2", idle.UnixNano(), absolute.UnixNano())
	if err != nil {
		return 0, translate(ctx, "delete expired sessions", err)
	}
	return tag.RowsAffected(), nil
}

// SetAlertStatus records where an analyst has taken an alert.
func (s *Store) SetAlertStatus(ctx context.Context, a store.AlertStatus) error {
	if err := sqlstore.CheckAlertStatus(a); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := s.enter("set alert status"); err != nil {
		return err
	}
	defer s.leave()
	_, err := s.pool.Exec(ctx, "INSERT INTO alert_status ("+sqlstore.AlertStatusColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (alert_id) DO UPDATE SET kind = excluded.kind, status = excluded.status, assignee = excluded.assignee,
		reason = excluded.reason, actor = excluded.actor, changed_ns = excluded.changed_ns`,
		a.Alert, a.Kind, a.Status, a.Assignee, a.Reason, a.Actor, a.Changed.UnixNano())
	return translate(ctx, "set alert status", err)
}

// AlertStatuses returns the statuses of the given alerts that have one.
func (s *Store) AlertStatuses(ctx context.Context, ids []string) (map[string]store.AlertStatus, error) {
	if err := s.enter("alert statuses"); err != nil {
		return nil, err
	}
	defer s.leave()
	rows, err := s.pool.Query(ctx, "SELECT "+sqlstore.AlertStatusColumns+" FROM alert_status WHERE alert_id = ANY($1::text[])", ids)
	if err != nil {
		return nil, translate(ctx, "alert statuses", err)
	}
	defer rows.Close()
	out := make(map[string]store.AlertStatus)
	for rows.Next() {
		a, err := sqlstore.ScanAlertStatus(rows)
		if err != nil {
			return nil, translate(ctx, "alert statuses", err)
		}
		out[a.Alert] = a
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, "alert statuses", err)
	}
	return out, nil
}

// AlertKindCounts counts the stored alerts by kind and status.
func (s *Store) AlertKindCounts(ctx context.Context) ([]store.AlertKindCount, error) {
	if err := s.enter("alert counts"); err != nil {
		return nil, err
	}
	defer s.leave()
	rows, err := s.pool.Query(ctx, `SELECT kind, 'all', count(*) FROM alerts GROUP BY kind
		UNION ALL SELECT kind, status, count(*) FROM alert_status GROUP BY kind, status`)
	if err != nil {
		return nil, translate(ctx, "alert counts", err)
	}
	defer rows.Close()
	var out []store.AlertKindCount
	for rows.Next() {
		var c store.AlertKindCount
		if err := rows.Scan(&c.Kind, &c.Status, &c.Count); err != nil {
			return nil, translate(ctx, "alert counts", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, "alert counts", err)
	}
	return sqlstore.OpenCounts(out), nil
}

func scanEvent(rows pgx.Rows) (store.EventRecord, error) {
	var (
		rec store.EventRecord
		ns  *int64
		off int
		z   sqlstore.Zones
	)
	if err := rows.Scan(&rec.ID, &rec.Account, &rec.Type, &ns, &off, &rec.Raw); err != nil {
		return rec, err
	}
	if ns != nil {
		rec.Time = z.Time(*ns, true, off)
	}
	return rec, nil
}

// EventsByID returns the stored events with the given ids, in the order of ids.
func (s *Store) EventsByID(ctx context.Context, ids []string) ([]store.EventRecord, error) {
	if err := s.enter("events by id"); err != nil {
		return nil, err
	}
	defer s.leave()
	rows, err := s.pool.Query(ctx, `SELECT e.id, e.account, e.type, e.time_ns, e.tz_offset, e.raw
		FROM unnest($1::text[]) WITH ORDINALITY AS u(id, i) JOIN events e ON e.id = u.id ORDER BY u.i`, ids)
	if err != nil {
		return nil, translate(ctx, "events by id", err)
	}
	defer rows.Close()
	var out []store.EventRecord
	seen := map[string]bool{}
	for rows.Next() {
		rec, err := scanEvent(rows)
		if err != nil {
			return nil, translate(ctx, "events by id", err)
		}
		if !seen[rec.ID] {
			seen[rec.ID] = true
			out = append(out, rec)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, "events by id", err)
	}
	return out, nil
}

// Quotes returns the quote events of symbol with since ≤ time < until, oldest first.
func (s *Store) Quotes(ctx context.Context, symbol string, since, until time.Time, lim int) ([]store.EventRecord, error) {
	if err := s.enter("quotes"); err != nil {
		return nil, err
	}
	defer s.leave()
	if lim <= 0 {
		lim = sqlstore.QuoteLimit
	}
	rows, err := s.pool.Query(ctx, "SELECT id, account, type, time_ns, tz_offset, raw FROM events WHERE type = 'quote' AND time_ns >= $1 AND time_ns < $2 AND position($3::bytea in raw) > 0 ORDER BY time_ns, seq",
		sqlstore.ClampNanos(since), sqlstore.ClampNanos(until), []byte(`"`+symbol+`"`))
	if err != nil {
		return nil, translate(ctx, "quotes", err)
	}
	defer rows.Close()
	var out []store.EventRecord
	for rows.Next() && len(out) < lim {
		rec, err := scanEvent(rows)
		if err != nil {
			return nil, translate(ctx, "quotes", err)
		}
		if sqlstore.QuoteOf(rec.Raw, symbol) {
			out = append(out, rec)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, "quotes", err)
	}
	return out, nil
}

// pgxExec is what runs a statement: the pool or a transaction.
type pgxExec interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}
