package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/market"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

// runBG runs one brokerguard command in-process and returns its standard output and error.
func runBG(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), args, IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Environ: []string{}})
	return out.String(), errb.String(), err
}

// replayInto replays a log into the data directory.
func replayInto(t *testing.T, events, data string) {
	t.Helper()
	if _, stderr, err := runBG(t, "replay", "--events", events, "--data-dir", data); err != nil {
		t.Fatalf("replay %s: %v\n%s", events, err, stderr)
	}
}

// typeCounts counts the events of a JSON Lines log by type.
func typeCounts(t *testing.T, path string) map[string]int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		var e struct{ Type string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out[e.Type]++
	}
	return out
}

func dbStats(t *testing.T, data string) dbStatsReport {
	t.Helper()
	out, stderr, err := runBG(t, "db", "stats", "--json", "--data-dir", data)
	if err != nil {
		t.Fatalf("db stats: %v\n%s", err, stderr)
	}
	var r dbStatsReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("db stats --json: %v\n%s", err, out)
	}
	return r
}

func rowsOf(r dbStatsReport, table string) int64 {
	for _, tb := range r.Tables {
		if tb.Name == table {
			return tb.Rows
		}
	}
	return -1
}

// TestDBStatsSample replays the sample log and reads it back through db stats, as text and JSON.
func TestDBStatsSample(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	replayInto(t, "../../testdata/sample.jsonl", data)
	r := dbStats(t, data)
	want := typeCounts(t, "../../testdata/sample.jsonl")
	got := map[string]int64{}
	for _, tc := range r.EventTypes {
		got[tc.Type] = tc.Events
	}
	if len(got) != len(want) {
		t.Errorf("event types: got %v, want %v", got, want)
	}
	for typ, n := range want {
		if got[typ] != n {
			t.Errorf("events of type %s: got %d, want %d", typ, got[typ], n)
		}
	}
	if n := rowsOf(r, "events"); n != 35 {
		t.Errorf("rows of events: got %d, want 35", n)
	}
	if n := rowsOf(r, "decisions"); n <= 0 {
		t.Errorf("rows of decisions: got %d, want some", n)
	}
	db := filepath.Join(data, "brokerguard.db")
	if len(r.Files) == 0 || r.Files[0].Path != db || r.Files[0].Bytes <= 0 {
		t.Errorf("files: got %+v, want %s first, not empty", r.Files, db)
	}
	if r.Store != "sqlite "+db || r.PageSize <= 0 {
		t.Errorf("store %q, page size %d: want sqlite %s and a page size", r.Store, r.PageSize, db)
	}
	text, stderr, err := runBG(t, "db", "stats", "--data-dir", data)
	if err != nil {
		t.Fatalf("db stats: %v\n%s", err, stderr)
	}
	for _, w := range []string{"store: sqlite " + db, "events: from 2025-03-01T08:00:00+09:00 to 2025-03-08T09:01:00+09:00",
		"free pages: 0 of"} {
		if !strings.Contains(text, w) {
			t.Errorf("db stats lacks %q:\n%s", w, text)
		}
	}
	rows := map[string]string{}
	for line := range strings.SplitSeq(text, "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			rows[f[0]] = f[1]
		}
	}
	for name, want := range map[string]string{"events": "35", "quote": "2", "login": "12", "alerts": "1"} {
		if rows[name] != want {
			t.Errorf("db stats: row %s: got %q, want %q\n%s", name, rows[name], want, text)
		}
	}
}

// marketAfterRebuild processes the stored events in stored order, as serve does at start, and returns
// the state of every instrument.
func marketAfterRebuild(t *testing.T, path string) map[string]market.Instrument {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := buildEngine(config.Default(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	symbols := map[string]bool{}
	err = s.ScanEvents(t.Context(), 0, func(_ int64, rec store.EventRecord) error {
		ev, err := event.DecodeStored(rec.Raw)
		if err != nil {
			return err
		}
		if ev.Symbol != "" {
			symbols[ev.Symbol] = true
		}
		p.engine.Process(&ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]market.Instrument{}
	for sym := range symbols {
		out[sym], _ = p.engine.Market().Get(sym)
	}
	return out
}

// TestDBCompactSimulated replays a simulated firm's week (Wednesday to the next Tuesday), deletes its
// quotes older than 24 hours with db compact and checks what was deleted, the sizes, and that the
// market state rebuilt from the store is the same as before.
func TestDBCompactSimulated(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "events.jsonl")
	if _, stderr, err := runBG(t, "simulate", "--scenario", "small", "--accounts", "150", "--days", "5", "--seed", "3",
		"--out", log, "--truth", filepath.Join(dir, "truth.json")); err != nil {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	data := filepath.Join(dir, "data")
	replayInto(t, log, data)
	db := filepath.Join(data, "brokerguard.db")
	types := typeCounts(t, log)
	before := dbStats(t, data)
	marketBefore := marketAfterRebuild(t, db)

	// The configuration's retention applies unless a flag overrides it.
	cfg := filepath.Join(dir, "bg.yaml")
	os.WriteFile(cfg, []byte("data_dir: "+data+"\nretention: {quotes: 24h}\n"), 0o600)
	out, stderr, err := runBG(t, "db", "compact", "--json", "--config", cfg)
	if err != nil {
		t.Fatalf("db compact: %v\n%s", err, stderr)
	}
	var rep dbCompactReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("db compact --json: %v\n%s", err, out)
	}
	after := dbStats(t, data)
	quotesLeft := int64(-1)
	for _, tc := range after.EventTypes {
		if tc.Type == "quote" {
			quotesLeft = tc.Events
		}
	}
	// Friday's quotes are pruned to the close, and Monday's and Tuesday's stay whole, so most go.
	if rep.QuotesDeleted < types["quote"]/3 || quotesLeft != types["quote"]-rep.QuotesDeleted {
		t.Errorf("quotes: got %d deleted and %d left of %d, want at least a third deleted and the rest left",
			rep.QuotesDeleted, quotesLeft, types["quote"])
	}
	if rep.EventsDeleted != 0 || rep.QuotesKept != "24h0m0s" || rep.RawEventsKept != "forever" {
		t.Errorf("report: got %+v, want 0 account events deleted, quotes kept 24h and account events forever", rep)
	}
	if rep.QuotesBefore.Weekday().String() != "Monday" || rep.QuotesBefore.Hour() != 0 {
		t.Errorf("quotes deleted before %s, want the start of Monday (the older of the two latest quote days)", rep.QuotesBefore)
	}
	if got, want := rowsOf(after, "events"), rowsOf(before, "events")-rep.QuotesDeleted; got != want || rep.EventsLeft != want {
		t.Errorf("events left: got %d (report %d), want %d", got, rep.EventsLeft, want)
	}
	for _, table := range []string{"decisions", "alerts", "audit"} {
		if got, want := rowsOf(after, table), rowsOf(before, table); got != want {
			t.Errorf("rows of %s: got %d, want %d, untouched", table, got, want)
		}
	}
	if rep.BytesAfter >= rep.BytesBefore || rep.BytesBefore != before.Bytes || after.FreePages != 0 {
		t.Errorf("size: got %d bytes before and %d after, %d free pages; want smaller after, and no free page", rep.BytesBefore, rep.BytesAfter, after.FreePages)
	}
	marketAfter := marketAfterRebuild(t, db)
	if len(marketAfter) != len(marketBefore) {
		t.Errorf("instruments after the rebuild: got %d, want %d", len(marketAfter), len(marketBefore))
	}
	for sym, want := range marketBefore {
		got := marketAfter[sym]
		got.LastQuote, want.LastQuote = got.LastQuote.UTC(), want.LastQuote.UTC()
		if got != want {
			t.Errorf("market state of %s rebuilt after the compaction:\ngot  %+v\nwant %+v", sym, got, want)
		}
	}

	// Again: nothing more to delete.
	text, stderr, err := runBG(t, "db", "compact", "--config", cfg)
	if err != nil {
		t.Fatalf("db compact again: %v\n%s", err, stderr)
	}
	if !strings.Contains(text, "deleted 0 quotes before") {
		t.Errorf("db compact again: got\n%s\nwant 0 quotes deleted", text)
	}
}

// TestDBCommandErrors checks the errors of the db command.
func TestDBCommandErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string // in the error; "" for a usage error
	}{
		{"no subcommand", []string{"db"}, ""},
		{"unknown subcommand", []string{"db", "shrink"}, ""},
		{"no database", []string{"db", "stats", "--data-dir", filepath.Join(dir, "none")}, "no database at " + filepath.Join(dir, "none", "brokerguard.db")},
		{"compact without a database", []string{"db", "compact", "--quotes", "72h", "--data-dir", filepath.Join(dir, "none")}, "no database at"},
		{"too short a retention", []string{"db", "compact", "--quotes", "1h", "--data-dir", dir}, "retention.quotes: 1h0m0s, want 0 (keep forever) or at least 24h"},
	}
	for _, tt := range tests {
		_, _, err := runBG(t, tt.args...)
		switch {
		case tt.want == "" && (err == nil || ExitCode(err) != 2):
			t.Errorf("%s: got %v, want a usage error", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: got %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "none")); err == nil {
		t.Errorf("db stats created the missing data directory")
	}
}
