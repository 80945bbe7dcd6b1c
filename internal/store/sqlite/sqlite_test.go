package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"go.uber.org/goleak"
	sqlitedriver "modernc.org/sqlite"

	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlstore"
	"github.com/brokerguard/brokerguard/internal/store/storetest"
)

// dbPath returns the database file of test t under dir: the same for every call with the same t.
func dbPath(dir string, t testing.TB) string {
	return filepath.Join(dir, regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_")+".db")
}

func TestStore(t *testing.T) {
	dir := t.TempDir()
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), dbPath(dir, t), Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestStoreOneSegmentPerQuery runs the suite with queries by account probing one segment at a time, so
// that its larger tests cross from one statement to the next.
func TestStoreOneSegmentPerQuery(t *testing.T) {
	defer func(n int64) { segsPerQuery = n }(segsPerQuery)
	segsPerQuery = 1
	dir := t.TempDir()
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), dbPath(dir, t), Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestStoreSmallRuns runs the suite with the id keys merged every 3 rows, 2 keys per Append, so that
// every lookup by id crosses the tail, a run being merged, many runs and their filters.
func TestStoreSmallRuns(t *testing.T) {
	defer func(n, c int) { mergeAt, mergeChunk = n, c }(mergeAt, mergeChunk)
	mergeAt, mergeChunk = 3, 2
	dir := t.TempDir()
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), dbPath(dir, t), Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestCommitSurvivesKill appends in a child process that is then killed with SIGKILL, without closing
// its store: every Append that returned must be in the file.
func TestCommitSurvivesKill(t *testing.T) {
	const childEnv = "BROKERGUARD_SQLITE_KILL_CHILD"
	if path := os.Getenv(childEnv); path != "" {
		s, err := Open(context.Background(), path, Options{})
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(1)
		}
		for i := range 5 {
			b := &store.Batch{}
			for j := range 1000 {
				id := fmt.Sprintf("k%d-%04d", i, j)
				b.Events = append(b.Events, store.EventRecord{ID: id, Type: "quote", Time: time.Unix(1742169600, 0), Raw: []byte(`{"id":"` + id + `"}`)})
			}
			if err := s.Append(context.Background(), b); err != nil {
				fmt.Println("append:", err)
				os.Exit(1)
			}
		}
		fmt.Println("appended")
		select {} // wait for the kill
	}

	path := filepath.Join(t.TempDir(), "kill.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCommitSurvivesKill$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if line != "appended\n" {
		t.Fatalf("child: got %q, want %q", line, "appended\n")
	}

	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("Open after the kill: %v", err)
	}
	defer s.Close()
	c, err := s.Counts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if c.Events != 5000 {
		t.Errorf("events after the kill: got %d, want 5000", c.Events)
	}
	n := 0
	if err := s.ScanEvents(t.Context(), 0, func(int64, store.EventRecord) error { n++; return nil }); err != nil || n != 5000 {
		t.Errorf("ScanEvents after the kill: got %d, %v; want 5000", n, err)
	}
}

func TestOpenCreatesDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "brokerguard.db")
	s, err := Open(t.Context(), path, Options{Synchronous: SyncFull})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file: %v", err)
	}
	var mode string
	if err := s.read.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode: got %q, %v; want wal", mode, err)
	}
	if err := s.Append(t.Context(), &store.Batch{Events: []store.EventRecord{{ID: "e1", Type: "quote", Time: time.Unix(1742169600, 0), Raw: []byte("{}")}}}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	for _, f := range []struct {
		path string
		want os.FileMode
	}{
		{filepath.Dir(path), 0o700 | os.ModeDir},
		{path, 0o600},
		{path + "-wal", 0o600},
		{path + "-shm", 0o600},
	} {
		fi, err := os.Stat(f.path)
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		if got := fi.Mode(); got != f.want {
			t.Errorf("mode of %s: got %v, want %v", filepath.Base(f.path), got, f.want)
		}
	}
}

// TestMigrationFillsExtent opens a database written before the event time range was kept: the
// migration that adds it reads the range from the stored events.
func TestMigrationFillsExtent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	jst := time.FixedZone("", 9*3600)
	first, last := time.Date(2025, 4, 10, 9, 0, 0, 0, jst), time.Date(2025, 4, 11, 15, 0, 0, 0, time.UTC)
	b := &store.Batch{}
	for i, tm := range []time.Time{first.Add(time.Hour), last, first} {
		id := fmt.Sprintf("e%d", i)
		b.Events = append(b.Events, store.EventRecord{ID: id, Type: "quote", Time: tm, Raw: []byte(`{"id":"` + id + `"}`)})
	}
	if err := s.Append(t.Context(), b); err != nil {
		t.Fatalf("Append: %v", err)
	}
	s.Close()
	// Back to schema version 2.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DROP TABLE id_keys", "DROP TABLE id_keys_through", "DROP TABLE staff_sessions", "DROP TABLE staff_users",
		"DROP TABLE alert_status", "DROP INDEX events_quote_time",
		"DROP TABLE api_keys", "ALTER TABLE counts DROP COLUMN first_ns", "ALTER TABLE counts DROP COLUMN first_off",
		"ALTER TABLE counts DROP COLUMN last_ns", "ALTER TABLE counts DROP COLUMN last_off", "ALTER TABLE audit DROP COLUMN data_time_ns",
		"ALTER TABLE audit DROP COLUMN prev_hash", "ALTER TABLE audit DROP COLUMN hash", "DROP TABLE audit_chain_pending",
		"DROP INDEX events_account", "DELETE FROM schema_migrations WHERE version >= 3"} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err = Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("Open of a version 2 database: %v", err)
	}
	defer s.Close()
	e, err := s.Extent(t.Context())
	if err != nil {
		t.Fatalf("Extent: %v", err)
	}
	if e.Events != 3 || !e.First.Equal(first) || e.First.Format(time.RFC3339) != first.Format(time.RFC3339) || !e.Last.Equal(last) ||
		e.Last.Format(time.RFC3339) != last.Format(time.RFC3339) {
		t.Errorf("Extent after migrating: got %d events from %s to %s, want 3 from %s to %s", e.Events, e.First, e.Last, first, last)
	}
}

func TestOpenRejects(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		path string
		opts Options
	}{
		{"empty path", "", Options{}},
		{"memory", ":memory:", Options{}},
		{"uri", "file:x.db", Options{}},
		{"query in path", filepath.Join(dir, "x.db?mode=ro"), Options{}},
		{"unknown synchronous", filepath.Join(dir, "y.db"), Options{Synchronous: "off"}},
		{"directory", dir, Options{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(t.Context(), c.path, c.opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q, %+v): got nil error, want one", c.path, c.opts)
			}
		})
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	ms, err := migrations()
	if err != nil {
		t.Fatalf("migrations: %v", err)
	}
	for i := range 3 {
		s, err := Open(t.Context(), path, Options{})
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		var n, v int
		if err := s.read.QueryRowContext(t.Context(), "SELECT count(*), max(version) FROM schema_migrations").Scan(&n, &v); err != nil {
			t.Fatal(err)
		}
		if n != len(ms) || v != sqlstore.Latest(ms) {
			t.Errorf("Open #%d: schema_migrations: got %d rows up to version %d, want %d up to %d", i+1, n, v, len(ms), sqlstore.Latest(ms))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := s.wconn.ExecContext(t.Context(),
		"INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 'x')"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(t.Context(), path, Options{})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: got %v, want %v", err, ErrSchemaTooNew)
	}
}

func TestErrorsAreTranslated(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "e.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"not found", translate(t.Context(), "x", sql.ErrNoRows), store.ErrNotFound},
		{"cancelled", translate(ctx, "x", errors.New("interrupted (9)")), context.Canceled},
		{"driver error", translate(t.Context(), "x", driverError(t, s)), store.ErrUnavailable},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: got %v, want an error wrapping %v", c.name, c.err, c.want)
		}
		var de *sqlitedriver.Error
		if errors.As(c.err, &de) {
			t.Errorf("%s: the driver's error type is reachable through %v", c.name, c.err)
		}
	}
}

// driverError returns an error straight from the driver: a query on a read-only connection that writes.
func driverError(t *testing.T, s *Store) error {
	_, err := s.read.ExecContext(t.Context(), "INSERT INTO counts VALUES (2, 0, 0, 0, 0)")
	if err == nil {
		t.Fatal("a write on a query_only connection succeeded")
	}
	return err
}

func BenchmarkAppend(b *testing.B) {
	storetest.BenchmarkAppend(b, func(b *testing.B) store.Store {
		s, err := Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), Options{})
		if err != nil {
			b.Fatalf("Open: %v", err)
		}
		return s
	})
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestWALStaysBounded appends one small batch after another, as the HTTP API does, and checks that the
// WAL file is emptied once it passes the limit instead of growing with every commit. Without the
// limit the file never shrinks while commits keep coming (a PASSIVE checkpoint reuses it, never
// truncates it).
func TestWALStaysBounded(t *testing.T) {
	const limit = 256 << 10
	path := filepath.Join(t.TempDir(), "wal.db")
	s, err := Open(t.Context(), path, Options{WALLimit: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	raw := []byte(`{"id":"x","type":"logout","time":"2025-03-17T09:00:01+09:00","account":"A"}`)
	base := time.Date(2025, 3, 17, 9, 0, 0, 0, time.FixedZone("", 9*3600))
	var peak int64
	emptied := 0
	deadline := time.Now().Add(3 * time.Second)
	for i := 0; time.Now().Before(deadline) && emptied < 2; i++ {
		b := &store.Batch{Events: []store.EventRecord{{ID: fmt.Sprintf("e%d", i), Account: fmt.Sprintf("A%d", i%97), Type: "logout", Time: base.Add(time.Duration(i) * time.Millisecond), Raw: raw}}}
		if err := s.Append(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			continue
		}
		switch {
		case fi.Size() > peak:
			peak = fi.Size()
		case peak > limit && fi.Size() < limit:
			emptied++ // it passed the limit and was emptied
			peak = fi.Size()
		}
	}
	if emptied < 2 {
		t.Errorf("the WAL passed the %d-byte limit but was emptied %d times in 3 s of commits, want 2 (peak %d)", limit, emptied, peak)
	}
}

func TestAuditChain(t *testing.T) {
	dir := t.TempDir()
	storetest.RunAuditChain(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), dbPath(dir, t), Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}, func(t *testing.T, s store.Store, statements ...string) {
		t.Helper()
		db, err := sql.Open("sqlite", s.(*Store).path+"?_pragma=busy_timeout(5000)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, q := range statements {
			if _, err := db.ExecContext(t.Context(), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	})
}
