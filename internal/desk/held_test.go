package desk

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/audit"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/fault"
	"github.com/brokerguard/brokerguard/internal/profile"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

// heldStore opens a SQLite store holding a held sell, a held withdrawal and an allowed buy of VIC.
func heldStore(t *testing.T, path string, t0 time.Time) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := &store.Batch{}
	for i, d := range []event.Decision{
		{ID: "sell-1", Account: "VIC", Type: "order", Action: event.ActionHold, Score: 820},
		{ID: "wd-1", Account: "VIC", Type: "withdrawal", Action: event.ActionHold, Score: 900},
		{ID: "buy-1", Account: "VIC", Type: "order", Action: event.ActionAllow, Score: 10},
	} {
		d.Time = t0.Add(time.Duration(i) * time.Minute)
		b.Events = append(b.Events, store.EventRecord{ID: d.ID, Account: d.Account, Type: d.Type, Time: d.Time, Raw: []byte(`{}`)})
		b.Decisions = append(b.Decisions, d)
	}
	if err := st.Append(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestHeldItemsAreReleasedAndCancelledOnceAndSurviveARestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bg.db")
	t0 := time.Date(2025, 4, 11, 1, 0, 0, 0, time.UTC)
	st := heldStore(t, path, t0)
	wall := func() time.Time { return time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC) }
	newDesk := func(st *sqlite.Store) *Desk {
		return New(Options{Accounts: profile.NewAccounts(), Decisions: st, Trail: audit.New(audit.Options{Store: st, Wall: wall})})
	}
	d := newDesk(st)

	items, err := d.Held(ctx, "VIC", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].EventID != "wd-1" || items[1].EventID != "sell-1" || items[0].State != HeldWaiting {
		t.Fatalf("held items: %+v; want wd-1 then sell-1, both held", items)
	}
	if _, err := d.Release(ctx, "app", "sell-1", "customer confirmed", &StepUp{Method: "passkey", Passed: false}); !errors.Is(err, fault.ErrInvalid) {
		t.Fatalf("a failed step-up released: %v", err)
	}
	it, err := d.Release(ctx, "app", "sell-1", "customer confirmed", &StepUp{Method: "passkey", Passed: true, At: t0})
	if err != nil || it.State != HeldReleased || it.Resolution.StepUp == nil || !it.Resolution.StepUp.Passed || it.Resolution.Actor != "app" {
		t.Fatalf("release: %+v, %v", it, err)
	}
	again, err := d.Release(ctx, "sato", "sell-1", "again", nil)
	if err != nil || again.State != HeldReleased || again.Resolution.Actor != "app" {
		t.Fatalf("a second release was not answered as it stands: %+v, %v", again, err)
	}
	if _, err := d.Cancel(ctx, "sato", "sell-1", "too late", nil); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("cancel after release: %v; want a conflict", err)
	}
	if _, err := d.Cancel(ctx, "sato", "wd-1", "payee is a mule", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Release(ctx, "sato", "wd-1", "oops", nil); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("release after cancel: %v; want a conflict", err)
	}
	if _, err := d.Release(ctx, "sato", "buy-1", "x", nil); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("releasing an allowed order: %v; want a conflict", err)
	}
	if _, err := d.Release(ctx, "sato", "nope", "x", nil); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("releasing an unknown event: %v; want not found", err)
	}
	if _, err := d.Release(ctx, "sato", "sell-1", " ", nil); !errors.Is(err, fault.ErrInvalid) {
		t.Fatalf("a release without a reason: %v", err)
	}
	recs, err := st.Audit(ctx, store.AuditQuery{Action: "held."})
	if err != nil || len(recs) != 2 {
		t.Fatalf("audit records: %d, %v; want one release and one cancel", len(recs), err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st2, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	d2 := newDesk(st2)
	if n, err := d2.Restore(ctx); err != nil || n != 2 {
		t.Fatalf("restore: %d, %v", n, err)
	}
	items, err = d2.Held(ctx, "VIC", 0)
	if err != nil {
		t.Fatal(err)
	}
	if items[0].State != HeldCancelled || items[1].State != HeldReleased || items[1].Resolution.StepUp == nil || items[1].Resolution.StepUp.Method != "passkey" {
		t.Fatalf("after a restart: %+v", items)
	}
	if _, err := d2.Cancel(ctx, "sato", "sell-1", "x", nil); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("cancel after a restored release: %v", err)
	}
}
