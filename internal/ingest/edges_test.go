package ingest

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

// startService runs a service on st until the test ends.
func startService(t *testing.T, st store.Store, lim event.Limits) *Service {
	t.Helper()
	eng := newEngineLate(t, 5*time.Minute)
	svc := NewService(ServiceOptions{Engine: eng, Store: st, Limits: lim,
		Timing: Timing{Lateness: 5 * time.Minute, Future: time.Hour, Now: func() time.Time { return time.Date(2025, 3, 17, 12, 0, 0, 0, time.UTC) }}})
	if _, err := svc.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return svc
}

func logoutAt(id, at string) []byte {
	return []byte(`{"id":"` + id + `","type":"logout","time":"` + at + `","account":"A1","session":"s"}`)
}

// TestServiceRefusesEdgesOfTheInput: each event at an edge of the input is rejected with its code and
// field, the request is still answered, and none of them moves the lateness watermark: an event a
// minute before the last stored one is still accepted afterwards (a time of 1600 used to move it to
// 2184, refusing every later event as too_late).
func TestServiceRefusesEdgesOfTheInput(t *testing.T) {
	st := openSQLite(t)
	svc := startService(t, st, event.Limits{MaxYen: 1e9})
	ctx := context.Background()
	if res, err := svc.Ingest(ctx, [][]byte{logoutAt("first", "2025-03-17T11:00:00Z")}); err != nil || res[0].Status != StatusAccepted {
		t.Fatalf("got %+v, %v, want the first event accepted", res, err)
	}
	tests := []struct {
		name, line, field, code string
	}{
		{"a time of 1600", string(logoutAt("old", "1600-01-01T00:00:00Z")), "time", event.CodeBadTime},
		{"a time of 2300", string(logoutAt("far", "2300-01-01T00:00:00Z")), "time", event.CodeBadTime},
		{"a price of 1e308", `{"id":"o1","type":"order","time":"2025-03-17T11:00:01Z","account":"A1","order_id":"o1","symbol":"7203","side":"buy","quantity":100,"price":1e308,"ip":"153.1.4.9"}`, "price", event.CodeOutOfRange},
		{"a withdrawal of 1e300 yen", `{"id":"w1","type":"withdrawal","time":"2025-03-17T11:00:01Z","account":"A1","amount":1e300,"ip":"153.1.4.9"}`, "amount", event.CodeOutOfRange},
		{"a withdrawal above the configured bound", `{"id":"w2","type":"withdrawal","time":"2025-03-17T11:00:01Z","account":"A1","amount":2e9,"ip":"153.1.4.9"}`, "amount", event.CodeOutOfRange},
		{"an account that is not UTF-8", "{\"id\":\"u1\",\"type\":\"logout\",\"time\":\"2025-03-17T11:00:01Z\",\"account\":\"A1\xff\"}", "account", event.CodeInvalidUTF8},
		{"the account twice", `{"id":"d1","type":"logout","time":"2025-03-17T11:00:01Z","account":"A1","account":"B2"}`, "account", event.CodeDuplicateKey},
		{"the account in capitals", `{"id":"d2","type":"logout","time":"2025-03-17T11:00:01Z","account":"A1","ACCOUNT":"B2"}`, "account", event.CodeKeyCase},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := svc.Ingest(ctx, [][]byte{[]byte(tt.line)})
			if err != nil {
				t.Fatalf("got %v, want the request answered", err)
			}
			r := res[0]
			if r.Status != StatusRejected || r.Error == nil || r.Error.Code != tt.code || r.Error.Field != tt.field {
				t.Errorf("got %s %+v, want rejected with %s on %q", r.Status, r.Error, tt.code, tt.field)
			}
		})
	}
	res, err := svc.Ingest(ctx, [][]byte{logoutAt("later", "2025-03-17T11:01:00Z"), logoutAt("a-bit-late", "2025-03-17T10:58:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != StatusAccepted {
			t.Errorf("%s: got %s %v, want accepted", r.ID, r.Status, r.Error)
		}
	}
	if c, _ := st.Counts(ctx); c.Events != 3 {
		t.Errorf("stored %d events, want 3", c.Events)
	}
	if !svc.Ready() {
		t.Error("not ready after refusing bad events")
	}
}

// lockSQLite takes the write lock of the SQLite file at path from another connection, as another
// process would, until the returned function is called.
func lockSQLite(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	released := false
	release = func() {
		if released {
			return
		}
		released = true
		if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.Error(err)
		}
		conn.Close()
		db.Close()
	}
	t.Cleanup(release)
	return release
}

// TestServiceWatermarkAndReadinessFollowCommits: while another process holds the store's write lock,
// a request fails and the service says it is not ready; its event does not move the lateness
// watermark, so that an event an hour before it is taken once the store commits again; and the service
// is ready again by itself once the store answers, without a request to show it.
func TestServiceWatermarkAndReadinessFollowCommits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bg.db")
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{BusyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := startService(t, st, event.Limits{})
	ctx := context.Background()
	if !svc.Ready() {
		t.Fatal("not ready after the rebuild")
	}
	release := lockSQLite(t, path)
	if _, err := svc.Ingest(ctx, [][]byte{logoutAt("noon", "2025-03-17T11:59:00Z")}); err == nil {
		t.Fatal("got the request stored while the store was locked")
	}
	if svc.Ready() {
		t.Error("got ready after a failed commit, want not ready")
	}
	release()
	deadline := time.Now().Add(10 * time.Second)
	for !svc.Ready() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !svc.Ready() {
		t.Fatal("not ready 10 s after the store was released")
	}
	res, err := svc.Ingest(ctx, [][]byte{logoutAt("eleven", "2025-03-17T11:00:00Z")})
	if err != nil || res[0].Status != StatusAccepted {
		t.Fatalf("got %+v, %v, want the event accepted: the failed request must not have moved the watermark", res, err)
	}
	// Once stored, an event does move it.
	res, err = svc.Ingest(ctx, [][]byte{logoutAt("ten", "2025-03-17T10:00:00Z")})
	if err != nil || res[0].Status != StatusRejected || res[0].Error.Code != event.CodeTooLate {
		t.Errorf("got %+v, %v, want too_late after a stored event an hour later", res, err)
	}
}

// TestServiceNotReadyWhenStopped: once Run returns, no request can be committed.
func TestServiceNotReadyWhenStopped(t *testing.T) {
	st := openSQLite(t)
	svc := NewService(ServiceOptions{Engine: newEngine(t), Store: st})
	if _, err := svc.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for !svc.Ready() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !svc.Ready() {
		t.Fatal("not ready while running")
	}
	cancel()
	<-done
	if svc.Ready() {
		t.Error("got ready after Run returned, want not ready")
	}
}

// TestReplaySkipsEdgesAndGoesOn: a log with lines at each edge of the input is replayed to its end:
// every such line is counted by its code and reported with its line number, and the decisions and the
// store are those of the log without them (a time of 1600 used to abort the run with an empty
// decisions file).
func TestReplaySkipsEdgesAndGoesOn(t *testing.T) {
	in := sample(t)
	lines := bytes.SplitAfter(in, []byte("\n"))
	bad := []struct{ line, code string }{
		{`{"id":"old","type":"logout","time":"1600-01-01T00:00:00Z","account":"A1","session":"s"}`, event.CodeBadTime},
		{`{"id":"big","type":"order","time":"2025-03-10T09:00:00+09:00","account":"A1","order_id":"ob","symbol":"7203","side":"buy","quantity":100,"price":1e308,"ip":"153.1.4.9"}`, event.CodeOutOfRange},
		{`{"id":"wd","type":"withdrawal","time":"2025-03-10T09:00:00+09:00","account":"A1","amount":1e300,"ip":"153.1.4.9"}`, event.CodeOutOfRange},
		{"{\"id\":\"u8\",\"type\":\"logout\",\"time\":\"2025-03-10T09:00:00+09:00\",\"account\":\"A\xff1\"}", event.CodeInvalidUTF8},
		{`{"id":"dk","type":"logout","time":"2025-03-10T09:00:00+09:00","account":"A1","account":"B2"}`, event.CodeDuplicateKey},
		{`{"id":"kc","type":"logout","time":"2025-03-10T09:00:00+09:00","Account":"B2"}`, event.CodeKeyCase},
	}
	var buf bytes.Buffer
	buf.Write(lines[0])
	for _, b := range bad {
		buf.WriteString(b.line + "\n")
	}
	for _, l := range lines[1:] {
		buf.Write(l)
	}
	st := openSQLite(t)
	sum, dec, _ := replay(t, buf.Bytes(), st)
	for i, b := range bad {
		if sum.Errors[b.code] == 0 {
			t.Errorf("errors[%s] = 0, want it counted (all: %v)", b.code, sum.Errors)
		}
		want := "line " + string(rune('2'+i)) + ":"
		if !strings.Contains(strings.Join(sum.FirstErrors, "\n"), want) {
			t.Errorf("no error reported at %q: %v", want, sum.FirstErrors)
		}
	}
	if sum.ErrorCount() != int64(len(bad)) {
		t.Errorf("got %d errors, want %d: %v", sum.ErrorCount(), len(bad), sum.Errors)
	}
	_, clean, _ := replay(t, in, nil)
	if dec != clean {
		t.Errorf("decisions differ from the log without the bad lines:\n%s\nwant\n%s", dec, clean)
	}
	c, err := st.Counts(context.Background())
	if want := int64(strings.Count(string(in), "\n")); err != nil || c.Events != want {
		t.Errorf("stored %d events (%v), want the %d good ones", c.Events, err, want)
	}
}
