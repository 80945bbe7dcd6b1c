package storetest

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/store"
)

// Exec runs SQL statements on the database of a Store behind its back, as someone with access to the
// database file or server would: the tamper tests use it to change the audit table.
type Exec func(t *testing.T, s store.Store, statements ...string)

// RunAuditChain checks that the audit trail is a hash chain that store.VerifyAudit finds intact, and
// that it finds an edited, removed, reordered or unhashed entry, and entries removed from the end, at
// the right entry. open is as for Run; exec tampers with the database open returns.
func RunAuditChain(t *testing.T, open func(t *testing.T) store.Store, exec Exec) {
	openStore := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() { s.Close() })
		return s
	}
	// fill appends five records and returns their sequence numbers and the trail's head.
	fill := func(t *testing.T, s store.Store) ([]int64, string) {
		t.Helper()
		t0 := time.Date(2025, 4, 10, 9, 0, 0, 0, time.UTC)
		var seqs []int64
		var head []byte
		for i := range 5 {
			r := &store.AuditRecord{Time: t0.Add(time.Duration(i) * time.Minute), DataTime: t0.Add(-time.Hour),
				Actor: "analyst-" + fmt.Sprint(i%2), Action: "watchlist.add", Target: fmt.Sprintf("symbol:%d", 7000+i),
				Reason: "pumped", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
			if err := s.AppendAudit(t.Context(), r); err != nil {
				t.Fatalf("AppendAudit: %v", err)
			}
			if len(r.Hash) != 32 {
				t.Fatalf("AppendAudit set a hash of %d bytes, want 32", len(r.Hash))
			}
			if string(r.Prev) != string(head) {
				t.Fatalf("record %d chained to %x, want the previous record's hash %x", r.Seq, r.Prev, head)
			}
			seqs, head = append(seqs, r.Seq), r.Hash
		}
		return seqs, hex.EncodeToString(head)
	}
	verify := func(t *testing.T, s store.Store, head string) store.AuditVerification {
		t.Helper()
		v, err := store.VerifyAudit(t.Context(), s, head)
		if err != nil {
			t.Fatalf("VerifyAudit: %v", err)
		}
		return v
	}
	wantBreak := func(t *testing.T, v store.AuditVerification, seq int64, problem string) {
		t.Helper()
		if v.Break == nil {
			t.Fatalf("VerifyAudit found the trail intact (%d entries), want %s at entry %d", v.Entries, problem, seq)
		}
		if v.Break.Seq != seq || v.Break.Problem != problem {
			t.Fatalf("VerifyAudit: break %+v, want %s at entry %d", *v.Break, problem, seq)
		}
	}

	t.Run("Intact", func(t *testing.T) {
		s := openStore(t)
		if v := verify(t, s, ""); v.Entries != 0 || v.Break != nil || v.Head != "" {
			t.Fatalf("empty trail: %+v", v)
		}
		seqs, head := fill(t, s)
		v := verify(t, s, head)
		if v.Break != nil || v.Entries != int64(len(seqs)) || v.Head != head {
			t.Fatalf("VerifyAudit = %+v, want %d entries intact with head %s", v, len(seqs), head)
		}
		// Audit returns the chain as appended.
		recs, err := s.Audit(t.Context(), store.AuditQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(recs[len(recs)-1].Hash); got != head {
			t.Fatalf("Audit: last hash %s, want %s", got, head)
		}
	})
	t.Run("Edited", func(t *testing.T) {
		s := openStore(t)
		seqs, head := fill(t, s)
		exec(t, s, fmt.Sprintf("UPDATE audit SET reason = 'nothing to see' WHERE seq = %d", seqs[2]))
		wantBreak(t, verify(t, s, head), seqs[2], "edited")
	})
	t.Run("EditedData", func(t *testing.T) {
		s := openStore(t)
		seqs, head := fill(t, s)
		exec(t, s, fmt.Sprintf(`UPDATE audit SET data = '{"n":99}' WHERE seq = %d`, seqs[1]))
		wantBreak(t, verify(t, s, head), seqs[1], "edited")
	})
	t.Run("Deleted", func(t *testing.T) {
		s := openStore(t)
		seqs, head := fill(t, s)
		exec(t, s, fmt.Sprintf("DELETE FROM audit WHERE seq = %d", seqs[2]))
		wantBreak(t, verify(t, s, head), seqs[3], "link_broken")
	})
	t.Run("DeletedFirst", func(t *testing.T) {
		s := openStore(t)
		seqs, head := fill(t, s)
		exec(t, s, fmt.Sprintf("DELETE FROM audit WHERE seq = %d", seqs[0]))
		wantBreak(t, verify(t, s, head), seqs[1], "link_broken")
	})
	t.Run("Reordered", func(t *testing.T) {
		s := openStore(t)
		seqs, head := fill(t, s)
		a, b := seqs[1], seqs[3]
		cols := []string{"time_ns", "data_time_ns", "actor", "action", "target", "reason", "data", "prev_hash", "hash"}
		set := ""
		for i, c := range cols {
			if i > 0 {
				set += ", "
			}
			set += fmt.Sprintf("%s = (SELECT %s FROM audit_swap WHERE audit_swap.seq = CASE WHEN audit.seq = %d THEN %d ELSE %d END)", c, c, a, b, a)
		}
		exec(t, s,
			fmt.Sprintf("CREATE TABLE audit_swap AS SELECT * FROM audit WHERE seq IN (%d, %d)", a, b),
			fmt.Sprintf("UPDATE audit SET %s WHERE seq IN (%d, %d)", set, a, b),
			"DROP TABLE audit_swap")
		wantBreak(t, verify(t, s, head), a, "link_broken")
	})
	t.Run("Unhashed", func(t *testing.T) {
		s := openStore(t)
		seqs, head := fill(t, s)
		exec(t, s, fmt.Sprintf("UPDATE audit SET hash = NULL WHERE seq = %d", seqs[4]))
		wantBreak(t, verify(t, s, head), seqs[4], "unchained")
	})
	t.Run("RemovedAtTheEnd", func(t *testing.T) {
		s := openStore(t)
		seqs, head := fill(t, s)
		exec(t, s, fmt.Sprintf("DELETE FROM audit WHERE seq >= %d", seqs[3]))
		v := verify(t, s, "")
		if v.Break != nil || v.Entries != 3 {
			t.Fatalf("without a head, the shortened trail is intact: got %+v", v)
		}
		wantBreak(t, verify(t, s, head), 0, "missing_at_end")
		// A later append chains to what is left.
		if err := s.AppendAudit(t.Context(), &store.AuditRecord{Time: time.Date(2025, 4, 11, 0, 0, 0, 0, time.UTC), Actor: "a", Action: "b", Target: "c"}); err != nil {
			t.Fatal(err)
		}
		if v := verify(t, s, ""); v.Break != nil || v.Entries != 4 {
			t.Fatalf("after a new append: %+v", v)
		}
	})
	t.Run("ChainsRecordsOfBeforeTheChain", func(t *testing.T) {
		// A trail written before the chain existed, as migration 0005 leaves it: no hashes, and the
		// last of its records named as pending. The store chains them when it opens, once.
		s := open(t)
		seqs, _ := fill(t, s)
		exec(t, s, "UPDATE audit SET prev_hash = NULL, hash = NULL",
			fmt.Sprintf("INSERT INTO audit_chain_pending (upto) VALUES (%d)", seqs[len(seqs)-1]))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openStore(t)
		v := verify(t, s, "")
		if v.Break != nil || v.Entries != int64(len(seqs)) {
			t.Fatalf("after reopening: %+v, want %d entries intact", v, len(seqs))
		}
		// Pending is done: a hash removed now is reported, not made again.
		exec(t, s, fmt.Sprintf("UPDATE audit SET hash = NULL WHERE seq = %d", seqs[1]))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openStore(t)
		wantBreak(t, verify(t, s, ""), seqs[1], "unchained")
	})
}
