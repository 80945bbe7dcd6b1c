package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/store"
)

// testAccountEvents checks that AccountEvents gives one account's events, and only them, in append
// order, across more than one segment of 8192 events, with market data under account "".
func testAccountEvents(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	if err := s.AccountEvents(t.Context(), "A1", func(int64, store.EventRecord) error {
		return errors.New("called on an empty store")
	}); err != nil {
		t.Fatalf("AccountEvents on an empty store: %v", err)
	}
	t0 := time.Date(2025, 4, 9, 9, 0, 0, 0, time.FixedZone("", 9*3600))
	accounts := []string{"A1", "A2", "A3", ""}
	want := map[string][]store.EventRecord{}
	const n = 9000 // beyond one segment of 8192
	for start := 0; start < n; start += 1500 {
		var b store.Batch
		for i := start; i < min(start+1500, n); i++ {
			// A1 only now and then, the others in turn.
			acct := accounts[1+i%3]
			if i%97 == 0 {
				acct = "A1"
			}
			typ := "login"
			if acct == "" {
				typ = "quote"
			}
			e := ev(fmt.Sprintf("e%05d", i), acct, typ, t0.Add(time.Duration(i)*time.Second))
			b.Events = append(b.Events, e)
			want[acct] = append(want[acct], e)
		}
		appendOK(t, s, &b)
	}
	for _, acct := range []string{"A1", "A2", ""} {
		var got []store.EventRecord
		last := int64(0)
		err := s.AccountEvents(t.Context(), acct, func(seq int64, rec store.EventRecord) error {
			if seq <= last {
				return fmt.Errorf("event %s: seq %d after %d, want increasing", rec.ID, seq, last)
			}
			last = seq
			got = append(got, rec)
			return nil
		})
		if err != nil {
			t.Fatalf("AccountEvents(%q): %v", acct, err)
		}
		if len(got) != len(want[acct]) {
			t.Fatalf("AccountEvents(%q): got %d events, want %d", acct, len(got), len(want[acct]))
		}
		for i := range got {
			if d := diffEvent(got[i], want[acct][i]); d != "" {
				t.Fatalf("AccountEvents(%q)[%d]: %s", acct, i, d)
			}
		}
	}
	if err := s.AccountEvents(t.Context(), "NOBODY", func(_ int64, rec store.EventRecord) error {
		return fmt.Errorf("event %s of another account", rec.ID)
	}); err != nil {
		t.Errorf("AccountEvents of an unknown account: %v", err)
	}
	errStop := errors.New("stop")
	var ids []string
	err := s.AccountEvents(t.Context(), "A2", func(_ int64, rec store.EventRecord) error {
		ids = append(ids, rec.ID)
		if len(ids) == 1100 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || len(ids) != 1100 || !slices.Equal(ids, eventIDs(want["A2"][:1100])) {
		t.Errorf("fn error: got %v after %d events, want %v after 1100", err, len(ids), errStop)
	}
}
