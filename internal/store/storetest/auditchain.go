package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/store"
)

// Tamper changes a store's audit trail behind its back, as someone with access to the database
// would: each store's test implements it with its own SQL.
type Tamper struct {
	Edit   func(t *testing.T, s store.Store, seq int64)  // change the reason of an entry
	Delete func(t *testing.T, s store.Store, seq int64)  // delete an entry
	Swap   func(t *testing.T, s store.Store, a, b int64) // swap two entries' contents, hashes included
	Unhash func(t *testing.T, s store.Store, from int64) // clear the hashes of the entries from seq on
}

// RunAuditChain checks that the audit trail is a hash chain that VerifyAudit walks, and that an
// edited, deleted, reordered or unhashed entry is reported as the first broken one.
func RunAuditChain(t *testing.T, open func(t *testing.T) store.Store, tamper Tamper) {
	fill := func(t *testing.T) (store.Store, []int64) {
		s := open(t)
		t.Cleanup(func() { s.Close() })
		t0 := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
		var seqs []int64
		for i := range 6 {
			r := &store.AuditRecord{Time: t0.Add(time.Duration(i) * time.Minute), Actor: "ito", Action: "alert.dismiss",
				Target: fmt.Sprintf("alert:al-%d", i), Reason: "customer travelling", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
			if i%2 == 0 {
				r.DataTime = time.Date(2025, 4, 11, 9, i, 0, 0, time.UTC)
			}
			if err := s.AppendAudit(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, r.Seq)
		}
		return s, seqs
	}
	verify := func(t *testing.T, s store.Store) store.AuditVerification {
		t.Helper()
		c, ok := s.(store.AuditChain)
		if !ok {
			t.Fatalf("%T does not implement store.AuditChain", s)
		}
		v, err := store.VerifyAudit(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	t.Run("intact", func(t *testing.T) {
		s, _ := fill(t)
		t0 := time.Date(2026, 12, 8, 2, 0, 0, 0, time.UTC)
		v := verify(t, s)
		if v.Broken != 0 || v.Entries != 6 || v.Unhashed != 0 || len(v.Head) != 32 {
			t.Errorf("an intact trail: %+v", v)
		}
		// Entries appended by several goroutines at once still chain.
		errs := make(chan error, 8)
		for i := range 8 {
			go func() {
				errs <- s.AppendAudit(context.Background(), &store.AuditRecord{Time: t0.Add(time.Hour), Actor: fmt.Sprint("a", i), Action: "alert.assign", Target: "alert:x"})
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if v := verify(t, s); v.Broken != 0 || v.Entries != 14 {
			t.Errorf("after concurrent appends: %+v", v)
		}
	})
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, s store.Store, seqs []int64)
		broken int // index of the entry reported
		want   string
	}{
		{"edited", func(t *testing.T, s store.Store, seqs []int64) { tamper.Edit(t, s, seqs[2]) }, 2, "was changed after it was written"},
		{"deleted", func(t *testing.T, s store.Store, seqs []int64) { tamper.Delete(t, s, seqs[3]) }, 4, "does not follow"},
		{"first deleted", func(t *testing.T, s store.Store, seqs []int64) { tamper.Delete(t, s, seqs[0]) }, 1, "entries before it were deleted"},
		{"reordered", func(t *testing.T, s store.Store, seqs []int64) { tamper.Swap(t, s, seqs[1], seqs[4]) }, 1, ""},
		{"hashes removed", func(t *testing.T, s store.Store, seqs []int64) { tamper.Unhash(t, s, seqs[3]) }, 3, "has no hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, seqs := fill(t)
			tc.change(t, s, seqs)
			v := verify(t, s)
			if v.Broken != seqs[tc.broken] || !strings.Contains(v.Problem, tc.want) {
				t.Errorf("got broken %d (%s), want %d (%s)", v.Broken, v.Problem, seqs[tc.broken], tc.want)
			}
		})
	}
}
