package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/store"
)

func staff(t *testing.T, s store.Store) store.Staff {
	t.Helper()
	st, ok := s.(store.Staff)
	if !ok {
		t.Fatalf("%T does not implement store.Staff", s)
	}
	return st
}

// testStaffUsers checks adding, reading, changing and disabling console users, and the count of failed
// sign-ins that locks a user.
func testStaffUsers(t *testing.T, open func(t *testing.T) store.Store) {
	s := staff(t, open(t))
	ctx := t.Context()
	t0 := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	if _, err := s.User(ctx, "sato"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("User of an empty store: got %v, want ErrNotFound", err)
	}
	sato := store.StaffUser{Name: "sato", Role: "supervisor", Password: "$argon2id$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA", Created: t0}
	for _, u := range []store.StaffUser{sato, {Name: "ito", Role: "analyst", Password: "$argon2id$x", Created: t0}} {
		if err := s.AddUser(ctx, u); err != nil {
			t.Fatalf("AddUser(%s): %v", u.Name, err)
		}
	}
	if err := s.AddUser(ctx, sato); !errors.Is(err, store.ErrExists) {
		t.Errorf("AddUser of a name taken: got %v, want ErrExists", err)
	}
	got, err := s.User(ctx, "sato")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "sato" || got.Role != "supervisor" || got.Password != sato.Password || got.Disabled || got.Failed != 0 ||
		!got.LockedUntil.IsZero() || !got.Created.Equal(t0) {
		t.Errorf("User(sato): got %+v, want %+v", got, sato)
	}
	us, err := s.Users(ctx)
	if err != nil || len(us) != 2 || us[0].Name != "ito" || us[1].Name != "sato" {
		t.Errorf("Users: got %+v, %v; want ito and sato", us, err)
	}

	// Failed sign-ins: the third in a row locks for 15 minutes and starts the count again.
	for i, want := range []int{1, 2, 0} {
		u, err := s.SignInFailed(ctx, "ito", t0.Add(time.Duration(i)*time.Second), 3, 15*time.Minute)
		if err != nil {
			t.Fatalf("SignInFailed %d: %v", i+1, err)
		}
		if u.Failed != want {
			t.Errorf("after failure %d: Failed got %d, want %d", i+1, u.Failed, want)
		}
		if locked := !u.LockedUntil.IsZero(); locked != (i == 2) {
			t.Errorf("after failure %d: LockedUntil %v", i+1, u.LockedUntil)
		}
	}
	if u, _ := s.User(ctx, "ito"); !u.LockedUntil.Equal(t0.Add(2*time.Second + 15*time.Minute)) {
		t.Errorf("locked until %v, want %v", u.LockedUntil, t0.Add(2*time.Second+15*time.Minute))
	}
	if _, err := s.SignInFailed(ctx, "nobody", t0, 3, time.Minute); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SignInFailed of an unknown user: got %v, want ErrNotFound", err)
	}
	if _, err := s.SignInFailed(ctx, "sato", t0, 3, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.SignInSucceeded(ctx, "sato", t0); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.User(ctx, "sato"); u.Failed != 0 {
		t.Errorf("after a success: Failed got %d, want 0", u.Failed)
	}

	// A new password clears the lock and ends the sessions.
	h := sha256.Sum256([]byte("ito's session"))
	if err := s.AddSession(ctx, store.StaffSession{Hash: h, User: "ito", Created: t0, Seen: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, "ito", "$argon2id$new", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.User(ctx, "ito"); u.Password != "$argon2id$new" || !u.LockedUntil.IsZero() || u.Failed != 0 || !u.Changed.Equal(t0.Add(time.Hour)) {
		t.Errorf("after SetPassword: got %+v", u)
	}
	if _, err := s.Session(ctx, h); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session after SetPassword: got %v, want ErrNotFound", err)
	}
	if err := s.SetPassword(ctx, "nobody", "x", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetPassword of an unknown user: got %v, want ErrNotFound", err)
	}

	// Disabling ends the sessions too; enabling again does not bring them back.
	if err := s.AddSession(ctx, store.StaffSession{Hash: h, User: "ito", Created: t0, Seen: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDisabled(ctx, "ito", true, t0); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.User(ctx, "ito"); !u.Disabled {
		t.Error("SetDisabled(true): user not disabled")
	}
	if _, err := s.Session(ctx, h); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session after disabling: got %v, want ErrNotFound", err)
	}
	if err := s.SetDisabled(ctx, "ito", false, t0); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.User(ctx, "ito"); u.Disabled {
		t.Error("SetDisabled(false): user still disabled")
	}
	if err := s.SetDisabled(ctx, "nobody", true, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetDisabled of an unknown user: got %v, want ErrNotFound", err)
	}
}

// testStaffSessions checks storing, finding, touching, ending and expiring console sessions.
func testStaffSessions(t *testing.T, open func(t *testing.T) store.Store) {
	s := staff(t, open(t))
	ctx := t.Context()
	t0 := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	if err := s.AddUser(ctx, store.StaffUser{Name: "ito", Role: "analyst", Password: "x", Created: t0}); err != nil {
		t.Fatal(err)
	}
	hs := make([][32]byte, 3)
	for i := range hs {
		hs[i] = sha256.Sum256(fmt.Appendf(nil, "session %d", i))
		created := t0.Add(time.Duration(i) * time.Hour)
		if err := s.AddSession(ctx, store.StaffSession{Hash: hs[i], User: "ito", Created: created, Seen: created}); err != nil {
			t.Fatalf("AddSession %d: %v", i, err)
		}
	}
	if err := s.AddSession(ctx, store.StaffSession{Hash: hs[0], User: "ito", Created: t0, Seen: t0}); err == nil {
		t.Error("AddSession of a hash stored: no error")
	}
	got, err := s.Session(ctx, hs[1])
	if err != nil || got.User != "ito" || got.Hash != hs[1] || !got.Created.Equal(t0.Add(time.Hour)) || !got.Seen.Equal(got.Created) {
		t.Errorf("Session: got %+v, %v", got, err)
	}
	if err := s.TouchSession(ctx, hs[0], t0.Add(150*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Session(ctx, hs[0]); !got.Seen.Equal(t0.Add(150 * time.Minute)) {
		t.Errorf("after TouchSession: Seen %v", got.Seen)
	}
	if err := s.TouchSession(ctx, sha256.Sum256([]byte("none")), t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSession of an unknown session: got %v, want ErrNotFound", err)
	}
	// Idle before 1:30 ends session 1 (seen 1:00); created before 0:30 ends none else (session 0 was
	// touched at 2:30 but created at 0:00: the absolute limit ends it).
	n, err := s.DeleteExpiredSessions(ctx, t0.Add(90*time.Minute), t0.Add(30*time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredSessions: got %d, %v; want 2", n, err)
	}
	for i, want := range []bool{false, false, true} {
		_, err := s.Session(ctx, hs[i])
		if (err == nil) != want {
			t.Errorf("session %d after expiry: got %v, want kept %v", i, err, want)
		}
	}
	if err := s.DeleteSession(ctx, hs[2]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, hs[2]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after DeleteSession: got %v, want ErrNotFound", err)
	}
	if err := s.DeleteSession(ctx, hs[2]); err != nil {
		t.Errorf("DeleteSession twice: %v", err)
	}
}

// testAlertStatus checks alert statuses and the counts of alerts by kind and status.
func testAlertStatus(t *testing.T, open func(t *testing.T) store.Store) {
	raw := open(t)
	s := staff(t, raw)
	ctx := t.Context()
	t0 := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	var b store.Batch
	for i, kind := range []string{"campaign", "account_takeover", "account_takeover", "account_takeover", "beneficiary"} {
		b.Alerts = append(b.Alerts, event.Alert{ID: fmt.Sprintf("al-%d", i), Kind: kind, Time: at(time.Duration(i)*time.Minute, jst),
			Accounts: []string{"A1"}})
	}
	appendOK(t, raw, &b)
	sets := []store.AlertStatus{
		{Alert: "al-1", Kind: "account_takeover", Status: store.AlertAcknowledged, Assignee: "ito", Actor: "ito", Changed: t0},
		{Alert: "al-2", Kind: "account_takeover", Status: store.AlertDismissed, Reason: "customer travelling", Actor: "ito", Changed: t0},
		{Alert: "al-3", Kind: "account_takeover", Status: store.AlertAcknowledged, Actor: "sato", Changed: t0},
		{Alert: "al-3", Kind: "account_takeover", Status: store.AlertOpen, Assignee: "sato", Actor: "sato", Changed: t0.Add(time.Minute)},
	}
	for _, st := range sets {
		if err := s.SetAlertStatus(ctx, st); err != nil {
			t.Fatalf("SetAlertStatus(%+v): %v", st, err)
		}
	}
	if err := s.SetAlertStatus(ctx, store.AlertStatus{Alert: "al-0", Kind: "campaign", Status: "closed", Actor: "ito", Changed: t0}); err == nil {
		t.Error("SetAlertStatus accepted the status closed")
	}
	got, err := s.AlertStatuses(ctx, []string{"al-0", "al-1", "al-2", "al-3", "al-9"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got["al-2"].Reason != "customer travelling" || got["al-3"].Status != store.AlertOpen || got["al-3"].Assignee != "sato" ||
		!got["al-3"].Changed.Equal(t0.Add(time.Minute)) || got["al-1"].Assignee != "ito" {
		t.Errorf("AlertStatuses: got %+v", got)
	}
	for _, tc := range []struct {
		q    store.AlertQuery
		want []string
	}{
		{store.AlertQuery{Status: store.AlertOpen}, []string{"al-4", "al-3", "al-0"}},
		{store.AlertQuery{Status: store.AlertOpen, Kind: "account_takeover"}, []string{"al-3"}},
		{store.AlertQuery{Status: store.AlertDismissed}, []string{"al-2"}},
		{store.AlertQuery{Status: store.AlertAcknowledged, Account: "A1"}, []string{"al-1"}},
	} {
		as, err := raw.Alerts(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range as {
			ids = append(ids, a.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("Alerts(%+v): got %v, want %v", tc.q, ids, tc.want)
		}
	}
	counts, err := s.AlertKindCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.AlertKindCount{
		{Kind: "account_takeover", Status: "open", Count: 1},
		{Kind: "account_takeover", Status: "acknowledged", Count: 1},
		{Kind: "account_takeover", Status: "dismissed", Count: 1},
		{Kind: "beneficiary", Status: "open", Count: 1},
		{Kind: "campaign", Status: "open", Count: 1},
	}
	if !slices.Equal(counts, want) {
		t.Errorf("AlertKindCounts: got %+v, want %+v", counts, want)
	}
}

// testEventLookups checks EventsByID and Quotes.
func testEventLookups(t *testing.T, open func(t *testing.T) store.Store) {
	raw := open(t)
	s := staff(t, raw)
	ctx := t.Context()
	quote := func(id, symbol string, d time.Duration) store.EventRecord {
		tm := at(d, jst)
		return store.EventRecord{ID: id, Type: "quote", Time: tm,
			Raw: fmt.Appendf(nil, `{"id":%q,"type":"quote","time":%q,"symbol":%q,"price":101.5,"volume":300}`, id, tm.Format(time.RFC3339Nano), symbol)}
	}
	odd := quote("q-odd", "x", 3*time.Minute)
	odd.Raw = fmt.Appendf(nil, `{"id":"q-odd","type":"quote","time":%q,"symbol":"1556x","note":"1556"}`, odd.Time.Format(time.RFC3339Nano))
	b := &store.Batch{Events: []store.EventRecord{
		quote("q-1", "1556", 0), quote("q-2", "7203", time.Minute), quote("q-3", "1556", 2*time.Minute), odd,
		ev("o-1", "A1", "order", at(150*time.Second, jst)), quote("q-4", "1556", time.Hour),
	}}
	appendOK(t, raw, b)
	got, err := s.Quotes(ctx, "1556", at(0, jst), at(time.Hour, jst), 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, []string{"q-1", "q-3"}) {
		t.Errorf("Quotes(1556, first hour): got %v, want [q-1 q-3]", ids)
	}
	if len(got) > 0 && (!got[0].Time.Equal(at(0, jst)) || string(got[0].Raw) != string(b.Events[0].Raw)) {
		t.Errorf("Quotes: first got %+v", got[0])
	}
	if got, err := s.Quotes(ctx, "1556", at(0, jst), at(2*time.Hour, jst), 2); err != nil || len(got) != 2 {
		t.Errorf("Quotes with limit 2: got %d, %v", len(got), err)
	}
	evs, err := s.EventsByID(ctx, []string{"o-1", "nope", "q-2", "o-1"})
	if err != nil {
		t.Fatal(err)
	}
	ids = ids[:0]
	for _, r := range evs {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, []string{"o-1", "q-2"}) || evs[0].Account != "A1" || evs[0].Type != "order" || !evs[0].Time.Equal(at(150*time.Second, jst)) {
		t.Errorf("EventsByID: got %v (%+v)", ids, evs)
	}
	if evs, err := s.EventsByID(ctx, nil); err != nil || len(evs) != 0 {
		t.Errorf("EventsByID(nil): got %v, %v", evs, err)
	}
}
