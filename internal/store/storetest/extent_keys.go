package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/store"
)

func extent(t *testing.T, s store.Store) store.Extent {
	t.Helper()
	e, err := s.Extent(t.Context())
	if err != nil {
		t.Fatalf("Extent: %v", err)
	}
	return e
}

// testExtent checks the number of events and their time range through appends out of time order,
// repeats, batches without events and a reopening.
func testExtent(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	if got := extent(t, s); got.Events != 0 || !got.First.IsZero() || !got.Last.IsZero() {
		t.Fatalf("Extent of an empty store: got %+v, want no events and zero times", got)
	}
	steps := []struct {
		name        string
		batch       *store.Batch
		events      int64
		first, last time.Time
	}{
		{"first batch", &store.Batch{Events: []store.EventRecord{
			ev("x-2", "A1", "login", at(2*time.Hour, jst)),
			ev("x-1", "A1", "login", at(time.Hour, ist)),
			ev("x-3", "A2", "order", at(3*time.Hour, nyc)),
		}}, 3, at(time.Hour, ist), at(3*time.Hour, nyc)},
		{"in between", &store.Batch{Events: []store.EventRecord{ev("x-4", "A1", "order", at(90*time.Minute, jst))}},
			4, at(time.Hour, ist), at(3*time.Hour, nyc)},
		{"earlier and later", &store.Batch{Events: []store.EventRecord{
			ev("x-5", "A1", "order", at(-time.Hour, time.UTC)),
			ev("x-6", "A2", "order", at(5*time.Hour, jst)),
		}}, 6, at(-time.Hour, time.UTC), at(5*time.Hour, jst)},
		{"a repeat", &store.Batch{Events: []store.EventRecord{ev("x-5", "A1", "order", at(-time.Hour, time.UTC))}},
			6, at(-time.Hour, time.UTC), at(5*time.Hour, jst)},
		{"no events", &store.Batch{Decisions: numbered("y", 2, 0).Decisions}, 6, at(-time.Hour, time.UTC), at(5*time.Hour, jst)},
	}
	for _, st := range steps {
		appendOK(t, s, st.batch)
		got := extent(t, s)
		if got.Events != st.events || !sameTime(got.First, st.first) || !sameTime(got.Last, st.last) {
			t.Errorf("after %s: got %d events from %s to %s, want %d from %s to %s", st.name,
				got.Events, fmtTime(got.First), fmtTime(got.Last), st.events, fmtTime(st.first), fmtTime(st.last))
		}
		if got.Bytes <= 0 {
			t.Errorf("after %s: Bytes: got %d, want > 0", st.name, got.Bytes)
		}
	}
	before := extent(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = open(t)
	if got := extent(t, s); got.Events != before.Events || !sameTime(got.First, before.First) || !sameTime(got.Last, before.Last) {
		t.Errorf("after reopening: got %+v, want %+v", got, before)
	}
}

// testEventsHeld checks the lookup of stored ids, across more ids than one statement takes.
func testEventsHeld(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	if got, err := s.EventsHeld(t.Context(), nil); err != nil || len(got) != 0 {
		t.Errorf("EventsHeld(nil): got %v, %v; want none", got, err)
	}
	appendOK(t, s, numbered("h", 1200, 0))
	var ids []string
	var want []bool
	for i := range 1300 {
		ids = append(ids, fmt.Sprintf("h-%04d", i)) // h-1200 … h-1299 are not stored
		want = append(want, i < 1200)
		if i%100 == 0 {
			ids, want = append(ids, fmt.Sprintf("other-%d", i)), append(want, false)
		}
	}
	ids, want = append(ids, "h-0007", "", "h-0008'; --"), append(want, true, false, false) // repeated, empty, quoted
	got, err := s.EventsHeld(t.Context(), ids)
	if err != nil {
		t.Fatalf("EventsHeld: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("EventsHeld: got %d answers, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("EventsHeld(%q): got %v, want %v", ids[i], got[i], want[i])
		}
	}
}

// testKeys checks adding, listing, looking up and revoking API keys.
func testKeys(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	if ks, err := s.Keys(ctx); err != nil || len(ks) != 0 {
		t.Fatalf("Keys of an empty store: got %v, %v; want none", ks, err)
	}
	created := time.Date(2026, 5, 1, 10, 0, 0, 123456789, time.UTC)
	mk := func(name, role string) store.APIKey {
		return store.APIKey{Name: name, Role: role, Hash: sha256.Sum256([]byte("secret of " + name)), Created: created}
	}
	sup, ana := mk("sato-supervisor", "supervisor"), mk("analyst-1", "analyst")
	for _, k := range []store.APIKey{sup, ana} {
		if err := s.AddKey(ctx, k); err != nil {
			t.Fatalf("AddKey(%s): %v", k.Name, err)
		}
	}
	for _, tc := range []struct {
		name string
		key  store.APIKey
	}{
		{"same name", store.APIKey{Name: "analyst-1", Role: "read", Hash: sha256.Sum256([]byte("other")), Created: created}},
		{"same secret", store.APIKey{Name: "another", Role: "read", Hash: sup.Hash, Created: created}},
	} {
		if err := s.AddKey(ctx, tc.key); !errors.Is(err, store.ErrExists) {
			t.Errorf("AddKey with the %s: got %v, want %v", tc.name, err, store.ErrExists)
		}
	}
	ks, err := s.Keys(ctx)
	if err != nil {
		t.Fatalf("Keys: %v", err)
	}
	if got, want := keyNames(ks), []string{"analyst-1", "sato-supervisor"}; !slices.Equal(got, want) {
		t.Fatalf("Keys: got %v, want %v", got, want)
	}
	if ks[1] != sup {
		t.Errorf("Keys[1]: got %+v, want %+v", ks[1], sup)
	}

	got, err := s.KeyByHash(ctx, sup.Hash)
	if err != nil || got != sup {
		t.Errorf("KeyByHash: got %+v, %v; want %+v", got, err, sup)
	}
	if _, err := s.KeyByHash(ctx, sha256.Sum256([]byte("nobody"))); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("KeyByHash of an unknown secret: got %v, want %v", err, store.ErrNotFound)
	}

	revoked := created.Add(time.Hour)
	k, err := s.RevokeKey(ctx, "analyst-1", revoked)
	if err != nil || !k.Revoked.Equal(revoked) || k.Name != "analyst-1" || k.Role != "analyst" {
		t.Fatalf("RevokeKey: got %+v, %v; want analyst-1 revoked at %s", k, err, revoked)
	}
	if k, err := s.RevokeKey(ctx, "analyst-1", revoked.Add(time.Hour)); err != nil || !k.Revoked.Equal(revoked) {
		t.Errorf("RevokeKey again: got revoked at %s, %v; want the first time %s kept", k.Revoked, err, revoked)
	}
	if _, err := s.RevokeKey(ctx, "nobody", revoked); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeKey of an unknown name: got %v, want %v", err, store.ErrNotFound)
	}
	if k, err := s.KeyByHash(ctx, ana.Hash); err != nil || !k.Revoked.Equal(revoked) {
		t.Errorf("KeyByHash of a revoked key: got %+v, %v; want it with its revocation time", k, err)
	}
	if err := s.AddKey(ctx, mk("analyst-1", "analyst")); !errors.Is(err, store.ErrExists) {
		t.Errorf("AddKey with the name of a revoked key: got %v, want %v", err, store.ErrExists)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = open(t)
	ks, err = s.Keys(t.Context())
	if err != nil || len(ks) != 2 || !ks[0].Revoked.Equal(revoked) || !ks[1].Revoked.IsZero() {
		t.Errorf("Keys after reopening: got %+v, %v", ks, err)
	}
}

func keyNames(ks []store.APIKey) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.Name)
	}
	return out
}
