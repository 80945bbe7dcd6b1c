package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/store"
)

// TestMigrateToIDKeys opens a database of schema version 4 (unique indexes on the event ids), written
// with rows in that layout: Open moves them to id_keys, merging the tail in runs of mergeAt, and every
// id is found again; a batch repeating them is skipped, and new ones are stored.
func TestMigrateToIDKeys(t *testing.T) {
	defer func(n int) { mergeAt = n }(mergeAt)
	mergeAt = 64
	path := filepath.Join(t.TempDir(), "v4.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	mustExec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
	for _, m := range ms[:4] {
		mustExec(m.SQL)
		mustExec("INSERT INTO schema_migrations VALUES (?, ?, 'then')", m.Version, m.Name)
	}
	const n = 300
	t0 := time.Date(2025, 4, 10, 9, 0, 0, 0, time.UTC)
	for i := range n {
		id := fmt.Sprintf("%08x", uint32(i)*2654435761)
		mustExec("INSERT INTO events (id, account, type, time_ns, tz_offset, raw) VALUES (?, 'A1', 'login', ?, 0, ?)",
			id, t0.Add(time.Duration(i)*time.Second).UnixNano(), []byte(`{"id":"`+id+`"}`))
		if i%2 == 0 {
			mustExec(`INSERT INTO decisions (event_id, account, type, action, score, reasons, time_ns, tz_offset)
				VALUES (?, 'A1', 'login', 'allow', 5, '[]', ?, 0)`, id, t0.Add(time.Duration(i)*time.Second).UnixNano())
		}
	}
	mustExec("UPDATE counts SET events = ?, decisions = ?", n, n/2)
	db.Close()

	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("Open of a version 4 database: %v", err)
	}
	defer s.Close()
	if s.eventKeys.through < int64(n-mergeAt) || s.eventKeys.tail.n >= mergeAt {
		t.Errorf("after Open: id_keys through %d with a tail of %d, want the rows merged in runs of %d", s.eventKeys.through, s.eventKeys.tail.n, mergeAt)
	}
	var ids []string
	b := &store.Batch{}
	for i := range n + 10 {
		id := fmt.Sprintf("%08x", uint32(i)*2654435761)
		ids = append(ids, id)
		b.Events = append(b.Events, store.EventRecord{ID: id, Account: "A1", Type: "login", Time: t0.Add(time.Duration(i) * time.Second), Raw: []byte(`{}`)})
		b.Decisions = append(b.Decisions, event.Decision{ID: id, Account: "A1", Type: "login", Action: event.ActionBlock, Time: t0})
	}
	held, err := s.EventsHeld(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range held {
		if h != (i < n) {
			t.Fatalf("EventsHeld(%s) = %v, want %v", ids[i], h, i < n)
		}
	}
	for i := range n + 10 {
		d, err := s.Decision(t.Context(), ids[i])
		switch {
		case i < n && i%2 == 0 && (err != nil || d.Action != event.ActionAllow || d.ID != ids[i]):
			t.Fatalf("Decision(%s): got %+v, %v; want the migrated allow", ids[i], d, err)
		case (i >= n || i%2 == 1) && err == nil:
			t.Fatalf("Decision(%s): got %+v, want not found", ids[i], d)
		}
	}
	if err := s.Append(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	c, err := s.Counts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.Counts{Events: n + 10, Decisions: n/2 + n/2 + 10}); c != want {
		t.Errorf("Counts after appending the old rows again with 10 new: got %+v, want %+v", c, want)
	}
	var dups int
	if err := s.read.QueryRow("SELECT count(*) - count(DISTINCT id) FROM events").Scan(&dups); err != nil || dups != 0 {
		t.Errorf("events stored twice: %d (%v)", dups, err)
	}
}

// TestIDKeysAcrossMerges appends batches that straddle merges of the tail, repeat each other and come
// again after a reopen: every id is stored once and found.
func TestIDKeysAcrossMerges(t *testing.T) {
	defer func(n int) { mergeAt = n }(mergeAt)
	mergeAt = 16
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 4, 10, 9, 0, 0, 0, time.UTC)
	batch := func(from, to int) *store.Batch {
		b := &store.Batch{}
		for i := from; i < to; i++ {
			id := fmt.Sprintf("id-%d", i)
			b.Events = append(b.Events, store.EventRecord{ID: id, Type: "login", Account: "A", Time: t0, Raw: []byte(`{}`)})
			b.Decisions = append(b.Decisions, event.Decision{ID: id, Account: "A", Type: "login", Time: t0, Score: i})
		}
		return b
	}
	// Batches that straddle merges, repeat each other and are retried after a reopen.
	for _, r := range [][2]int{{0, 10}, {5, 40}, {0, 40}, {39, 100}} {
		if err := s.Append(t.Context(), batch(r[0], r[1])); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if s, err = Open(t.Context(), path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Append(t.Context(), batch(90, 130)); err != nil {
		t.Fatal(err)
	}
	c, err := s.Counts(t.Context())
	if err != nil || c.Events != 130 || c.Decisions != 130 {
		t.Fatalf("Counts: got %+v, %v; want 130 events and decisions", c, err)
	}
	for i := range 130 {
		d, err := s.Decision(t.Context(), fmt.Sprintf("id-%d", i))
		if err != nil || d.Score != i {
			t.Fatalf("Decision(id-%d): got %+v, %v", i, d, err)
		}
	}
	seen := map[string]bool{}
	err = s.ScanEvents(t.Context(), 0, func(seq int64, rec store.EventRecord) error {
		if seen[rec.ID] {
			return fmt.Errorf("%s scanned twice", rec.ID)
		}
		seen[rec.ID] = true
		return nil
	})
	if err != nil || len(seen) != 130 {
		t.Fatalf("ScanEvents: %d events, %v", len(seen), err)
	}
}

// TestIDHashCollision: two ids with one hash are told apart by the id itself.
func TestIDHashCollision(t *testing.T) {
	kt := newKeyTail()
	kt.add(7, 1)
	kt.add(7, 2)
	if got := kt.seqs(nil, 7); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("seqs of a shared hash: got %v, want [1 2]", got)
	}
	if got := kt.sorted(); len(got) != 2 || got[0] != (idKey{7, 1}) || got[1] != (idKey{7, 2}) {
		t.Errorf("sorted: got %v", got)
	}
	f := newBloom(1000)
	for i := range int64(1000) {
		f.add(idHash(fmt.Sprint(i)))
	}
	fp := 0
	for i := range 100000 {
		if f.may(idHash(fmt.Sprint("x", i))) {
			fp++
		}
	}
	if fp > 3000 {
		t.Errorf("Bloom filter: %d false positives in 100000, want about 1%%", fp)
	}
}
