package casework

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/campaign"
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
	layer := campaign.New(campaign.Config{})
	accts := lockedAccounts("VIC", t0.Add(-time.Hour))
	d := New(layer, accts, st, now)

	if _, err := d.AddWatch(ctx, "sato", Watch{Kind: campaign.KindSymbol, Value: "8012", Pinned: true}, "pump on 4/11"); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Minute)
	if _, err := d.AddWatch(ctx, "sato", Watch{Kind: campaign.KindPrefix, Value: "45.76.0.0/16"}, "mule proxies"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a /16 was accepted: %v", err)
	}
	if e, err := d.AddWatch(ctx, "sato", Watch{Kind: campaign.KindPrefix, Value: "45.76.1.9/24"}, "mule proxies"); err != nil || e.Value != "45.76.1.0/24" {
		t.Fatalf("block not normalised: %+v, %v", e, err)
	}
	clock = clock.Add(time.Minute)
	if _, err := d.RemoveWatch(ctx, "tanaka", Change{Kind: campaign.KindPrefix, Value: "45.76.1.0/24"}, "a VPN customers use"); err != nil {
		t.Fatal(err)
	}
	if err := d.Unlock(ctx, "tanaka", "VIC", "re-verified at the branch"); err != nil {
		t.Fatal(err)
	}
	if err := d.Unlock(ctx, "tanaka", "VIC", "again"); !errors.Is(err, ErrConflict) {
		t.Errorf("second unlock: %v", err)
	}
	if _, err := d.AddWatch(ctx, "sato", Watch{Kind: campaign.KindDevice, Value: "d1"}, " "); !errors.Is(err, ErrInvalid) {
		t.Errorf("blank reason: %v", err)
	}
	recs, err := st.Audit(ctx, store.AuditQuery{})
	if err != nil || len(recs) != 4 {
		t.Fatalf("audit = %d records, %v; want 4 (refused actions leave none)", len(recs), err)
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
	n, err := New(layer2, accts2, st2, now).Restore(ctx)
	if err != nil || n != 4 {
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
	if _, err := New(campaign.New(campaign.Config{}), accts3, st2, now).Restore(ctx); err != nil {
		t.Fatal(err)
	}
	accts3.Peek("VIC", func(p *profile.Profile) { locked = p.Locked })
	if !locked {
		t.Error("an older unlock lifted a newer lock")
	}
}
