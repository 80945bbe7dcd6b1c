package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlstore"
)

var (
	_ store.Staff = (*Store)(nil)
)

// writeStaff runs fn on the writer connection, one writer at a time.
func (s *Store) writeStaff(ctx context.Context, op string, fn func(conn *sql.Conn) error) error {
	if err := s.enter(op); err != nil {
		return err
	}
	defer s.leave()
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("sqlite: %s: %w", op, ctx.Err())
	}
	defer func() { <-s.wsem }()
	if err := fn(s.wconn); err != nil {
		return err
	}
	s.ckpt.appended()
	return nil
}

// execOne runs a statement that must change one row: none gives ErrNotFound.
func execOne(ctx context.Context, conn *sql.Conn, op, what string, q string, args ...any) error {
	res, err := conn.ExecContext(ctx, q, args...)
	if err != nil {
		return translate(ctx, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(ctx, op, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: %s %s: %w", op, what, store.ErrNotFound)
	}
	return nil
}

// AddUser stores a new staff user; a name already stored gives ErrExists.
func (s *Store) AddUser(ctx context.Context, u store.StaffUser) error {
	return s.writeStaff(ctx, "add user", func(conn *sql.Conn) error {
		res, err := conn.ExecContext(ctx, `INSERT INTO staff_users (name, role, password, disabled, failed, locked_until_ns, created_ns, changed_ns)
			VALUES (?, ?, ?, ?, 0, 0, ?, ?) ON CONFLICT DO NOTHING`, u.Name, u.Role, u.Password, u.Disabled, u.Created.UnixNano(), u.Created.UnixNano())
		if err != nil {
			return translate(ctx, "add user", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return translate(ctx, "add user", err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: add user %q: %w", u.Name, store.ErrExists)
		}
		return nil
	})
}

// User returns the named user, or ErrNotFound.
func (s *Store) User(ctx context.Context, name string) (store.StaffUser, error) {
	if err := s.enter("user"); err != nil {
		return store.StaffUser{}, err
	}
	defer s.leave()
	u, err := sqlstore.ScanUser(s.read.QueryRowContext(ctx, "SELECT "+sqlstore.UserColumns+" FROM staff_users WHERE name = ?", name))
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
	var out []store.StaffUser
	_, err := queryRows(ctx, s.read, "SELECT "+sqlstore.UserColumns+" FROM staff_users ORDER BY name", nil, func(rows *sql.Rows) error {
		u, err := sqlstore.ScanUser(rows)
		out = append(out, u)
		return err
	})
	if err != nil {
		return nil, translate(ctx, "users", err)
	}
	return out, nil
}

// inTx runs fn in a transaction on the writer connection.
func inTx(ctx context.Context, conn *sql.Conn, op string, fn func() error) (err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return translate(ctx, op, err)
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if err := fn(); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return translate(ctx, op, err)
	}
	return nil
}

// SetPassword replaces a user's password hash, clears failed sign-ins and a lock, and ends the user's
// sessions.
func (s *Store) SetPassword(ctx context.Context, name, password string, at time.Time) error {
	return s.writeStaff(ctx, "set password", func(conn *sql.Conn) error {
		return inTx(ctx, conn, "set password", func() error {
			if err := execOne(ctx, conn, "set password", fmt.Sprintf("of %q", name),
				"UPDATE staff_users SET password = ?, failed = 0, locked_until_ns = 0, changed_ns = ? WHERE name = ?",
				password, at.UnixNano(), name); err != nil {
				return err
			}
			_, err := conn.ExecContext(ctx, "DELETE FROM staff_sessions WHERE user_name = ?", name)
			return translate(ctx, "set password", err)
		})
	})
}

// SetDisabled disables (ending the user's sessions) or enables a user.
func (s *Store) SetDisabled(ctx context.Context, name string, disabled bool, at time.Time) error {
	return s.writeStaff(ctx, "disable user", func(conn *sql.Conn) error {
		return inTx(ctx, conn, "disable user", func() error {
			if err := execOne(ctx, conn, "disable user", fmt.Sprintf("%q", name),
				"UPDATE staff_users SET disabled = ?, changed_ns = ? WHERE name = ?", disabled, at.UnixNano(), name); err != nil {
				return err
			}
			if !disabled {
				return nil
			}
			_, err := conn.ExecContext(ctx, "DELETE FROM staff_sessions WHERE user_name = ?", name)
			return translate(ctx, "disable user", err)
		})
	})
}

// SignInFailed counts a failed sign-in; the lockAfter-th in a row locks the user until at+lockFor.
func (s *Store) SignInFailed(ctx context.Context, name string, at time.Time, lockAfter int, lockFor time.Duration) (store.StaffUser, error) {
	var u store.StaffUser
	err := s.writeStaff(ctx, "sign-in failed", func(conn *sql.Conn) error {
		var err error
		u, err = sqlstore.ScanUser(conn.QueryRowContext(ctx, `UPDATE staff_users SET
			locked_until_ns = CASE WHEN failed + 1 >= ? THEN ? ELSE locked_until_ns END,
			failed = CASE WHEN failed + 1 >= ? THEN 0 ELSE failed + 1 END
			WHERE name = ? RETURNING `+sqlstore.UserColumns, lockAfter, at.Add(lockFor).UnixNano(), lockAfter, name))
		return translate(ctx, fmt.Sprintf("sign-in failed of %q", name), err)
	})
	return u, err
}

// SignInSucceeded clears a user's failed sign-ins.
func (s *Store) SignInSucceeded(ctx context.Context, name string, at time.Time) error {
	return s.writeStaff(ctx, "sign-in", func(conn *sql.Conn) error {
		return execOne(ctx, conn, "sign-in", fmt.Sprintf("of %q", name), "UPDATE staff_users SET failed = 0 WHERE name = ?", name)
	})
}

// AddSession stores a new session.
func (s *Store) AddSession(ctx context.Context, ss store.StaffSession) error {
	return s.writeStaff(ctx, "add session", func(conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, "INSERT INTO staff_sessions ("+sqlstore.SessionColumns+") VALUES (?, ?, ?, ?)",
			ss.Hash[:], ss.User, ss.Created.UnixNano(), ss.Seen.UnixNano())
		return translate(ctx, "add session", err)
	})
}

// Session returns the session whose secret hashes to hash, or ErrNotFound.
func (s *Store) Session(ctx context.Context, hash [32]byte) (store.StaffSession, error) {
	if err := s.enter("session"); err != nil {
		return store.StaffSession{}, err
	}
	defer s.leave()
	ss, err := sqlstore.ScanSession(s.read.QueryRowContext(ctx, "SELECT "+sqlstore.SessionColumns+" FROM staff_sessions WHERE hash = ?", hash[:]))
	if err != nil {
		return ss, translate(ctx, "session", err)
	}
	return ss, nil
}

// TouchSession sets a session's last request time.
func (s *Store) TouchSession(ctx context.Context, hash [32]byte, at time.Time) error {
	return s.writeStaff(ctx, "touch session", func(conn *sql.Conn) error {
		return execOne(ctx, conn, "touch session", "", "UPDATE staff_sessions SET seen_ns = ? WHERE hash = ?", at.UnixNano(), hash[:])
	})
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, hash [32]byte) error {
	return s.writeStaff(ctx, "delete session", func(conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, "DELETE FROM staff_sessions WHERE hash = ?", hash[:])
		return translate(ctx, "delete session", err)
	})
}

// DeleteExpiredSessions ends the sessions last seen before idle or created before absolute.
func (s *Store) DeleteExpiredSessions(ctx context.Context, idle, absolute time.Time) (int64, error) {
	var n int64
	err := s.writeStaff(ctx, "delete expired sessions", func(conn *sql.Conn) error {
		res, err := conn.ExecContext(ctx, "DELETE FROM staff_sessions WHERE seen_ns < ? OR created_ns < ?", idle.UnixNano(), absolute.UnixNano())
		if err != nil {
			return translate(ctx, "delete expired sessions", err)
		}
		n, err = res.RowsAffected()
		return translate(ctx, "delete expired sessions", err)
	})
	return n, err
}

// SetAlertStatus records where an analyst has taken an alert.
func (s *Store) SetAlertStatus(ctx context.Context, a store.AlertStatus) error {
	if err := sqlstore.CheckAlertStatus(a); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return s.writeStaff(ctx, "set alert status", func(conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, "INSERT OR REPLACE INTO alert_status ("+sqlstore.AlertStatusColumns+") VALUES (?, ?, ?, ?, ?, ?, ?)",
			a.Alert, a.Kind, a.Status, a.Assignee, a.Reason, a.Actor, a.Changed.UnixNano())
		return translate(ctx, "set alert status", err)
	})
}

// AlertStatuses returns the statuses of the given alerts that have one.
func (s *Store) AlertStatuses(ctx context.Context, ids []string) (map[string]store.AlertStatus, error) {
	if err := s.enter("alert statuses"); err != nil {
		return nil, err
	}
	defer s.leave()
	out := make(map[string]store.AlertStatus)
	for start := 0; start < len(ids); start += heldChunk {
		chunk := ids[start:min(start+heldChunk, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		_, err := queryRows(ctx, s.read, "SELECT "+sqlstore.AlertStatusColumns+" FROM alert_status WHERE alert_id IN (?"+
			strings.Repeat(",?", len(chunk)-1)+")", args, func(rows *sql.Rows) error {
			a, err := sqlstore.ScanAlertStatus(rows)
			out[a.Alert] = a
			return err
		})
		if err != nil {
			return nil, translate(ctx, "alert statuses", err)
		}
	}
	return out, nil
}

// AlertKindCounts counts the stored alerts by kind and status.
func (s *Store) AlertKindCounts(ctx context.Context) ([]store.AlertKindCount, error) {
	if err := s.enter("alert counts"); err != nil {
		return nil, err
	}
	defer s.leave()
	var out []store.AlertKindCount
	_, err := queryRows(ctx, s.read, `SELECT kind, 'all', count(*) FROM alerts GROUP BY kind
		UNION ALL SELECT kind, status, count(*) FROM alert_status GROUP BY kind, status`, nil, func(rows *sql.Rows) error {
		var c store.AlertKindCount
		err := rows.Scan(&c.Kind, &c.Status, &c.Count)
		out = append(out, c)
		return err
	})
	if err != nil {
		return nil, translate(ctx, "alert counts", err)
	}
	return sqlstore.OpenCounts(out), nil
}

// EventsByID returns the stored events with the given ids, in the order of ids.
func (s *Store) EventsByID(ctx context.Context, ids []string) ([]store.EventRecord, error) {
	if err := s.enter("events by id"); err != nil {
		return nil, err
	}
	defer s.leave()
	byID := make(map[string]store.EventRecord, len(ids))
	var z zones
	for start := 0; start < len(ids); start += heldChunk {
		chunk := ids[start:min(start+heldChunk, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		_, err := queryRows(ctx, s.read, "SELECT id, account, type, time_ns, tz_offset, raw FROM events WHERE id IN (?"+
			strings.Repeat(",?", len(chunk)-1)+")", args, func(rows *sql.Rows) error {
			rec, err := scanEvent(rows, &z)
			byID[rec.ID] = rec
			return err
		})
		if err != nil {
			return nil, translate(ctx, "events by id", err)
		}
	}
	out := make([]store.EventRecord, 0, len(byID))
	for _, id := range ids {
		if rec, ok := byID[id]; ok {
			out = append(out, rec)
			delete(byID, id)
		}
	}
	return out, nil
}

func scanEvent(rows *sql.Rows, z *zones) (store.EventRecord, error) {
	var (
		rec store.EventRecord
		ns  sql.NullInt64
		off int
	)
	if err := rows.Scan(&rec.ID, &rec.Account, &rec.Type, &ns, &off, &rec.Raw); err != nil {
		return rec, err
	}
	rec.Time = z.time(ns, off)
	return rec, nil
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
	var out []store.EventRecord
	var z zones
	rows, err := s.read.QueryContext(ctx, "SELECT id, account, type, time_ns, tz_offset, raw FROM events WHERE type = 'quote' AND time_ns >= ? AND time_ns < ? AND instr(raw, ?) > 0 ORDER BY time_ns, seq",
		sqlstore.ClampNanos(since), sqlstore.ClampNanos(until), []byte(`"`+symbol+`"`))
	if err != nil {
		return nil, translate(ctx, "quotes", err)
	}
	defer rows.Close()
	for rows.Next() && len(out) < lim {
		rec, err := scanEvent(rows, &z)
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
