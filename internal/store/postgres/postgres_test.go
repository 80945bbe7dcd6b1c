package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/goleak"

	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlstore"
	"github.com/brokerguard/brokerguard/internal/store/storetest"
)

// envDSN names the PostgreSQL server the tests use, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. Without it the tests skip, except in CI
// (CI set), where they fail.
const envDSN = "BROKERGUARD_TEST_POSTGRES"

func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(envDSN)
	if dsn == "" {
		msg := envDSN + " not set; CI requires PostgreSQL"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	reachOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		reachErr = err
	})
	if reachErr != nil {
		t.Fatalf("%s is set but the server cannot be reached: %v", envDSN, reachErr)
	}
	return dsn
}

var (
	reachOnce sync.Once
	reachErr  error
)

// runID keeps the schemas of concurrent and repeated runs apart.
var runID = func() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}()

// testSchema returns the schema of test t in this run: the same for every call with the same t. It is
// dropped when t ends.
func testSchema(t testing.TB, dsn string) string {
	t.Helper()
	name := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_"))
	h := fnv.New32a()
	h.Write([]byte(t.Name()))
	if len(name) > 30 {
		name = name[:30]
	}
	schema := fmt.Sprintf("bgtest_%s_%08x_%s", runID, h.Sum32(), name)
	// Registered by every call: a test that reopens drops it twice, harmlessly, and a benchmark, whose
	// function runs more than once, starts each run afresh.
	t.Cleanup(func() { dropSchema(t, dsn, schema) })
	return schema
}

func dropSchema(t testing.TB, dsn, schema string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
	}
}

func openTest(t testing.TB) *Store {
	t.Helper()
	dsn := testDSN(t)
	s, err := Open(t.Context(), dsn, Options{Schema: testSchema(t, dsn), MaxConns: 8})
	if err != nil {
		t.Fatalf("Open(%s): %v", envDSN, err)
	}
	return s
}

func TestStore(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

func TestMigrationsIdempotent(t *testing.T) {
	dsn := testDSN(t)
	schema := testSchema(t, dsn)
	ms, err := migrations()
	if err != nil {
		t.Fatalf("migrations: %v", err)
	}
	// Instances that start together: the advisory lock makes one migrate and the others wait.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(t.Context(), dsn, Options{Schema: schema})
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Open: %v", err)
	}
	for i := range 2 {
		s, err := Open(t.Context(), dsn, Options{Schema: schema})
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		var n, v int
		if err := s.pool.QueryRow(t.Context(), "SELECT count(*), max(version) FROM schema_migrations").Scan(&n, &v); err != nil {
			t.Fatal(err)
		}
		if n != len(ms) || v != sqlstore.Latest(ms) {
			t.Errorf("Open #%d: schema_migrations: got %d rows up to version %d, want %d up to %d", i+1, n, v, len(ms), sqlstore.Latest(ms))
		}
		s.Close()
	}
}

func TestSchemaTooNew(t *testing.T) {
	s := openTest(t)
	if _, err := s.pool.Exec(t.Context(), "INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	dsn := testDSN(t)
	_, err := Open(t.Context(), dsn, Options{Schema: testSchema(t, dsn)})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: got %v, want %v", err, ErrSchemaTooNew)
	}
}

func TestOpenErrors(t *testing.T) {
	cases := []struct {
		name string
		dsn  string
		opts Options
		want error // nil: any error
	}{
		{"malformed DSN", "postgres://u:secret@[::1", Options{}, nil},
		{"negative MaxConns", "postgres://127.0.0.1/x", Options{MaxConns: -1}, nil},
		{"nobody listening", "postgres://postgres:secret@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", Options{}, store.ErrUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(t.Context(), c.dsn, c.opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open: got nil error, want one")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("Open: got %v, want an error wrapping %v", err, c.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("Open: the error %q repeats the password", err)
			}
			var pe *pgconn.PgError
			var ce *pgconn.ConnectError
			if errors.As(err, &pe) || errors.As(err, &ce) {
				t.Errorf("Open: the driver's error type is reachable through %v", err)
			}
		})
	}
}

func TestInvalidRecord(t *testing.T) {
	s := openTest(t)
	defer s.Close()
	// PostgreSQL text holds no NUL character: the batch is refused as a whole, and says why.
	b := &store.Batch{Events: []store.EventRecord{{ID: "ok", Type: "quote", Raw: []byte("{}")}, {ID: "bad\x00id", Type: "quote", Raw: []byte("{}")}}}
	err := s.Append(t.Context(), b)
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Append of an id with a NUL: got %v, want an invalid-record error", err)
	}
	if c, err := s.Counts(t.Context()); err != nil || c.Events != 0 {
		t.Errorf("Counts after a refused batch: got %+v, %v; want no events", c, err)
	}
}

// TestMigrationFillsExtent opens a schema written before the event time range was kept: the migration
// that adds it reads the range from the stored events.
func TestMigrationFillsExtent(t *testing.T) {
	s := openTest(t)
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
	// Back to schema version 2.
	if _, err := s.pool.Exec(t.Context(), `DROP TABLE staff_sessions, staff_users, alert_status; DROP INDEX events_quote_time;
		DROP TABLE api_keys;
		ALTER TABLE counts DROP COLUMN first_ns, DROP COLUMN first_off, DROP COLUMN last_ns, DROP COLUMN last_off;
		ALTER TABLE audit DROP COLUMN data_time_ns, DROP COLUMN prev_hash, DROP COLUMN hash;
		DROP TABLE audit_chain_pending;
		DROP INDEX events_account;
		DELETE FROM schema_migrations WHERE version >= 3`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t)
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

func BenchmarkAppend(b *testing.B) {
	storetest.BenchmarkAppend(b, func(b *testing.B) store.Store { return openTest(b) })
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestAuditChain(t *testing.T) {
	testDSN(t)
	storetest.RunAuditChain(t, func(t *testing.T) store.Store { return openTest(t) },
		func(t *testing.T, s store.Store, statements ...string) {
			t.Helper()
			for _, q := range statements {
				if _, err := s.(*Store).pool.Exec(t.Context(), q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		})
}
