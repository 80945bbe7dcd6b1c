package postgres

import (
	"context"
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
	tag, err := s.pool.Exec(ctx, `INSERT INTO api_keys (name, role, hash, created_ns) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, k.Name, k.Role, k.Hash[:], k.Created.UnixNano())
	if err != nil {
		return translate(ctx, "add key", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: add key %q: %w", k.Name, store.ErrExists)
	}
	return nil
}

// Keys returns every key by name.
func (s *Store) Keys(ctx context.Context) ([]store.APIKey, error) {
	if err := s.enter("keys"); err != nil {
		return nil, err
	}
	defer s.leave()
	rows, err := s.pool.Query(ctx, "SELECT "+sqlstore.KeyColumns+" FROM api_keys ORDER BY name")
	if err != nil {
		return nil, translate(ctx, "keys", err)
	}
	defer rows.Close()
	var out []store.APIKey
	for rows.Next() {
		k, err := sqlstore.ScanKey(rows)
		if err != nil {
			return nil, translate(ctx, "keys", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
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
	k, err := sqlstore.ScanKey(s.pool.QueryRow(ctx, "UPDATE api_keys SET revoked_ns = coalesce(revoked_ns, $1) WHERE name = $2 RETURNING "+sqlstore.KeyColumns,
		at.UnixNano(), name))
	if err != nil {
		return store.APIKey{}, translate(ctx, fmt.Sprintf("revoke key %q", name), err)
	}
	return k, nil
}

// KeyByHash returns the key whose secret hashes to hash, or ErrNotFound.
func (s *Store) KeyByHash(ctx context.Context, hash [32]byte) (store.APIKey, error) {
	if err := s.enter("key by hash"); err != nil {
		return store.APIKey{}, err
	}
	defer s.leave()
	k, err := sqlstore.ScanKey(s.pool.QueryRow(ctx, "SELECT "+sqlstore.KeyColumns+" FROM api_keys WHERE hash = $1", hash[:]))
	if err != nil {
		return store.APIKey{}, translate(ctx, "key by hash", err)
	}
	return k, nil
}
