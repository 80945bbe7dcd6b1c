package postgres

import (
	"testing"

	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/storetest"
)

// TestAuditChain runs the audit chain's tamper tests with PostgreSQL's own SQL.
func TestAuditChain(t *testing.T) {
	testDSN(t)
	exec := func(t *testing.T, s store.Store, q string, args ...any) {
		t.Helper()
		if _, err := s.(*Store).pool.Exec(t.Context(), q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	const cols = "time_ns, data_time_ns, actor, action, target, reason, data, prev_hash, hash"
	storetest.RunAuditChain(t, func(t *testing.T) store.Store { return openTest(t) }, storetest.Tamper{
		Edit: func(t *testing.T, s store.Store, seq int64) {
			exec(t, s, "UPDATE audit SET reason = 'nothing to see' WHERE seq = $1", seq)
		},
		Delete: func(t *testing.T, s store.Store, seq int64) { exec(t, s, "DELETE FROM audit WHERE seq = $1", seq) },
		// seq is an identity column: the rows' contents trade places instead (the statement sees the
		// rows as they were before it).
		Swap: func(t *testing.T, s store.Store, a, b int64) {
			exec(t, s, "UPDATE audit SET ("+cols+") = (SELECT "+cols+" FROM audit AS o WHERE o.seq = CASE WHEN audit.seq = $1 THEN $2::bigint ELSE $1::bigint END) WHERE seq IN ($1, $2)", a, b)
		},
		Unhash: func(t *testing.T, s store.Store, from int64) {
			exec(t, s, "UPDATE audit SET prev_hash = NULL, hash = NULL WHERE seq >= $1", from)
		},
	})
}
