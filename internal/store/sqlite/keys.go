package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlstore"
)

// AddKey stores a new API key; a name or hash already stored gives ErrExists.
func (s *Store) AddKey(ctx context.Context, k store.APIKey) error {
	if err := s.enter("add key"); err != nil {
		return err
	}
	defer s.leave()
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("sqlite: add key: %w", ctx.Err())
	}
	defer func() { <-s.wsem }()
	res, err := s.wconn.ExecContext(ctx, `INSERT INTO api_keys (name, role, hash, created_ns) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, k.Name, k.Role, k.Hash[:], k.Created.UnixNano())
	if err != nil {
		return translate(ctx, "add key", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(ctx, "add key", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: add key %q: %w", k.Name, store.ErrExists)
	}
	s.ckpt.appended()
	return nil
}

// Keys returns every key by name.
func (s *Store) Keys(ctx context.Context) ([]store.APIKey, error) {
	if err := s.enter("keys"); err != nil {
		return nil, err
	}
	defer s.leave()
	var out []store.APIKey
	_, err := queryRows(ctx, s.read, "SELECT "+sqlstore.KeyColumns+" FROM api_keys ORDER BY name", nil, func(rows *sql.Rows) error {
		k, err := sqlstore.ScanKey(rows)
		out = append(out, k)
		return err
	})
	if err != nil {
		return nil, translate(ctx, "keys", err)
	}
	return out, nil
}

// RevokeKey marks the named key revoked at the given time, unless it was revoked before.
func (s *Store) RevokeKey(ctx context.Context, name string, at time.Time) (store.APIKey, error) {
	if err := s.enter("revoke key"); err != nil {
		return store.APIKey{}, err
	}
	defer s.leave()
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return store.APIKey{}, fmt.Errorf("sqlite: revoke key: %w", ctx.Err())
	}
	defer func() { <-s.wsem }()
	k, err := sqlstore.ScanKey(s.wconn.QueryRowContext(ctx, "UPDATE api_keys SET revoked_ns = coalesce(revoked_ns, ?) WHERE name = ? RETURNING "+sqlstore.KeyColumns,
		at.UnixNano(), name))
	if err != nil {
		return store.APIKey{}, translate(ctx, fmt.Sprintf("revoke key %q", name), err)
	}
	s.ckpt.appended()
	return k, nil
}

// KeyByHash returns the key whose secret hashes to hash, or ErrNotFound.
func (s *Store) KeyByHash(ctx context.Context, hash [32]byte) (store.APIKey, error) {
	if err := s.enter("key by hash"); err != nil {
		return store.APIKey{}, err
	}
	defer s.leave()
	k, err := sqlstore.ScanKey(s.read.QueryRowContext(ctx, "SELECT "+sqlstore.KeyColumns+" FROM api_keys WHERE hash = ?", hash[:]))
	if err != nil {
		return store.APIKey{}, translate(ctx, "key by hash", err)
	}
	return k, nil
}
