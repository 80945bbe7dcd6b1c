package sqlite

import (
	"strconv"
	"testing"

	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/storetest"
)

// TestAuditChain runs the audit chain's tamper tests with SQLite's own SQL.
func TestAuditChain(t *testing.T) {
	dir := t.TempDir()
	exec := func(t *testing.T, s store.Store, qs ...string) {
		t.Helper()
		for _, q := range qs {
			if _, err := s.(*Store).wconn.ExecContext(t.Context(), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	storetest.RunAuditChain(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), dbPath(dir, t), Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}, storetest.Tamper{
		Edit: func(t *testing.T, s store.Store, seq int64) {
			exec(t, s, "UPDATE audit SET reason = 'nothing to see' WHERE seq = "+itoa(seq))
		},
		Delete: func(t *testing.T, s store.Store, seq int64) { exec(t, s, "DELETE FROM audit WHERE seq = "+itoa(seq)) },
		Swap: func(t *testing.T, s store.Store, a, b int64) {
			exec(t, s, "UPDATE audit SET seq = -1 WHERE seq = "+itoa(a), "UPDATE audit SET seq = "+itoa(a)+" WHERE seq = "+itoa(b),
				"UPDATE audit SET seq = "+itoa(b)+" WHERE seq = -1")
		},
		Unhash: func(t *testing.T, s store.Store, from int64) {
			exec(t, s, "UPDATE audit SET prev_hash = NULL, hash = NULL WHERE seq >= "+itoa(from))
		},
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
