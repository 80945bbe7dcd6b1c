package audit

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/fault"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

func TestRecordThenApplyAndReplayOwnActions(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wall := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	data := time.Date(2025, 4, 11, 1, 0, 0, 0, time.UTC)
	tr := New(Options{Store: st, Wall: func() time.Time { return wall }, Data: func() time.Time { return data }})

	var applied []int64
	apply := func(r *store.AuditRecord) error { applied = append(applied, r.Seq); return nil }
	for _, action := range []string{"a.one", "b.other", "a.two"} {
		r, err := tr.Record(ctx, "sato", action, "x:1", "why", map[string]string{"k": action}, apply)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Time.Equal(wall) || !At(r).Equal(data) || r.Seq == 0 {
			t.Errorf("record %s: time %v, acts at %v, seq %d; want %v, %v and a stored seq", action, r.Time, At(r), r.Seq, wall, data)
		}
	}
	if len(applied) != 3 {
		t.Fatalf("applied %d actions, want 3", len(applied))
	}

	var replayed []string
	n, err := tr.Replay(ctx, []string{"a.one", "a.two"}, func(r *store.AuditRecord) error {
		replayed = append(replayed, r.Action)
		return nil
	})
	if err != nil || n != 2 || len(replayed) != 2 || replayed[0] != "a.one" || replayed[1] != "a.two" {
		t.Errorf("Replay = %d %v %v; want the room's own two actions, oldest first", n, replayed, err)
	}
	boom := errors.New("bad data")
	if _, err := tr.Replay(ctx, []string{"b.other"}, func(*store.AuditRecord) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("Replay error = %v, want it to wrap the apply error and name the record", err)
	}

	// Nothing applies when the record cannot be stored.
	st.Close()
	called := false
	if _, err := tr.Record(ctx, "sato", "a.one", "x:1", "why", nil, func(*store.AuditRecord) error { called = true; return nil }); err == nil || called {
		t.Errorf("Record on a closed store: err %v, applied %v; want an error and nothing applied", err, called)
	}
}

func TestNeedReason(t *testing.T) {
	for _, reason := range []string{"", "   ", string(make([]byte, 2001))} {
		if err := NeedReason(reason); !errors.Is(err, fault.ErrInvalid) {
			t.Errorf("NeedReason(%d bytes) = %v, want invalid", len(reason), err)
		}
	}
	if err := NeedReason("confirmed by phone"); err != nil {
		t.Errorf("NeedReason(a reason) = %v", err)
	}
}
