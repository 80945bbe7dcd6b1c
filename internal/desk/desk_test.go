package desk

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/audit"
	"github.com/brokerguard/brokerguard/internal/campaign"
	"github.com/brokerguard/brokerguard/internal/fault"
	"github.com/brokerguard/brokerguard/internal/profile"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

func lockedAccounts(account string, at time.Time) *profile.Accounts {
	a := profile.NewAccounts()
	a.With(account, func(p *profile.Profile) { p.Locked, p.LockedAt = true, profile.Unix(at) })
	return a
}

func TestActionsAreAuditedAndRestoredAfterARestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bg.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 4, 11, 1, 0, 0, 0, time.UTC)
	clock := t0
	now := func() time.Time { return clock }
	// The wall clock is a year and a half after the data's time: actions act at the data's time.
	wallT := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	wall := func() time.Time { return wallT }
	layer := campaign.New(campaign.Config{})
	accts := lockedAccounts("VIC", t0.Add(-time.Hour))
	d := New(Options{Layer: layer, Accounts: accts, Trail: audit.New(audit.Options{Store: st, Wall: wall, Data: now})})

	if _, err := d.AddWatch(ctx, "sato", Watch{Kind: campaign.KindSymbol, Value: "8012", Pinned: true}, "pump on 4/11"); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Minute)
	if _, err := d.AddWatch(ctx, "sato", Watch{Kind: campaign.KindPrefix, Value: "45.76.0.0/16"}, "mule proxies"); !errors.Is(err, fault.ErrInvalid) {
		t.Fatalf("a /16 was accepted: %v", err)
	}
	e, err := d.AddWatch(ctx, "sato", Watch{Kind: campaign.KindPrefix, Value: "45.76.1.9/24"}, "mule proxies")
	if err != nil || e.Value != "45.76.1.0/24" {
		t.Fatalf("block not normalised: %+v, %v", e, err)
	}
	if !e.Added.Equal(clock) || !e.Expires.Equal(clock.Add(7*24*time.Hour)) {
		t.Errorf("entry added %v, expires %v; want the data's time %v and a week after it", e.Added, e.Expires, clock)
	}
	if _, err := d.AddWatch(ctx, "sato", Watch{Kind: campaign.KindDevice, Value: "d9", Expires: t0.Add(time.Hour)}, "x"); err != nil {
		t.Errorf("an expiry an hour after the data's time (long before the wall clock) was refused: %v", err)
	}
	if _, err := d.AddWatch(ctx, "sato", Watch{Kind: campaign.KindDevice, Value: "d8", Expires: t0.Add(-time.Hour)}, "x"); !errors.Is(err, fault.ErrInvalid) {
		t.Errorf("an expiry before the data's time was accepted: %v", err)
	}
	clock = clock.Add(time.Minute)
	if _, err := d.RemoveWatch(ctx, "tanaka", Change{Kind: campaign.KindPrefix, Value: "45.76.1.0/24"}, "a VPN customers use"); err != nil {
		t.Fatal(err)
	}
	if err := d.Unlock(ctx, "tanaka", "VIC", "re-verified at the branch"); err != nil {
		t.Fatal(err)
	}
	if err := d.Unlock(ctx, "tanaka", "VIC", "again"); !errors.Is(err, fault.ErrConflict) {
		t.Errorf("second unlock: %v", err)
	}
	if _, err := d.AddWatch(ctx, "sato", Watch{Kind: campaign.KindDevice, Value: "d1"}, " "); !errors.Is(err, fault.ErrInvalid) {
		t.Errorf("blank reason: %v", err)
	}
	recs, err := st.Audit(ctx, store.AuditQuery{})
	if err != nil || len(recs) != 5 {
		t.Fatalf("audit = %d records, %v; want 5 (refused actions leave none)", len(recs), err)
	}
	if r := recs[0]; !r.Time.Equal(wallT) || !r.DataTime.Equal(t0) {
		t.Errorf("audit record times: wall %v, data %v; want %v and %v", r.Time, r.DataTime, wallT, t0)
	}
	st.Close()

	// A restart: state rebuilt from the events (the account locked again by its report), then the trail.
	st2, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	layer2 := campaign.New(campaign.Config{})
	accts2 := lockedAccounts("VIC", t0.Add(-time.Hour))
	n, err := New(Options{Layer: layer2, Accounts: accts2, Trail: audit.New(audit.Options{Store: st2, Wall: wall, Data: now})}).Restore(ctx)
	if err != nil || n != 5 {
		t.Fatalf("Restore = %d, %v", n, err)
	}
	w := layer2.Watchlist()
	if e, ok := w.Symbol("8012", profile.Unix(t0.AddDate(1, 0, 0)), campaign.SeenAll); !ok || !e.Pinned || e.By != "sato" {
		t.Errorf("pinned symbol after restart: %+v %v", e, ok)
	}
	if _, ok := w.Get(campaign.KindPrefix, "45.76.1.0/24"); ok {
		t.Error("removed prefix came back")
	}
	var locked bool
	accts2.Peek("VIC", func(p *profile.Profile) { locked = p.Locked })
	if locked {
		t.Error("unlock not restored")
	}
	// A lock newer than the unlock (a second fraud report) stays.
	accts3 := lockedAccounts("VIC", clock.Add(time.Hour))
	if _, err := New(Options{Layer: campaign.New(campaign.Config{}), Accounts: accts3, Trail: audit.New(audit.Options{Store: st2, Wall: wall, Data: now})}).Restore(ctx); err != nil {
		t.Fatal(err)
	}
	accts3.Peek("VIC", func(p *profile.Profile) { locked = p.Locked })
	if !locked {
		t.Error("an older unlock lifted a newer lock")
	}
}
