package app

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

// shiftedSample is the sample log with its ids prefixed and its month of March moved to another
// year and month: another firm's log, or a later one.
func shiftedSample(t *testing.T, prefix, month string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/sample.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), `"id":"`, `"id":"`+prefix)
	return []byte(strings.ReplaceAll(s, "2025-03-", month+"-"))
}

// TestReplaySaysWhichStore replays into one store: the sample, the sample again, a log that starts
// before the store's latest event, a later log, and the sample again through standard input in gzip.
func TestReplaySaysWhichStore(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	db := filepath.Join(data, "brokerguard.db")
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	earlier := write("earlier.jsonl", shiftedSample(t, "early-", "2024-03"))
	later := write("later.jsonl", shiftedSample(t, "late-", "2025-05"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	sample, _ := os.ReadFile("../../testdata/sample.jsonl")
	zw.Write(sample)
	zw.Close()

	steps := []struct {
		name    string
		events  string
		stdin   []byte
		wantErr string   // "" for success
		want    []string // in stderr, or in the error
		decided bool     // decisions were written
	}{
		{"a new store", "../../testdata/sample.jsonl", nil, "", []string{"store: sqlite " + db + ", ", "no events yet", "35 lines, 35 accepted, 0 duplicates"}, true},
		{"the same log again", "../../testdata/sample.jsonl", nil, "", []string{
			"35 events from 2025-03-01T08:00:00+09:00 to 2025-03-08T09:01:00+09:00",
			`the store holds this log's first event ("i1") already`,
			"35 lines, 0 accepted, 35 duplicates"}, false},
		{"an earlier log", earlier, nil, "replay: the store sqlite " + db + " already holds 35 events up to 2025-03-08T09:01:00+09:00, " +
			"and this log starts before that, at 2024-03-01T08:00:00+09:00, with an event that the store does not hold (\"early-i1\")",
			[]string{"--data-dir NEW-DIR", "--no-store"}, false},
		{"a later log", later, nil, "", []string{"35 events from", "replay: adding this log (from 2025-05-01T08:00:00+09:00) to the 35 events held",
			"35 lines, 35 accepted, 0 duplicates"}, true},
		{"the sample again, gzip on standard input", "-", gz.Bytes(), "", []string{"70 events from 2025-03-01T08:00:00+09:00 to 2025-05-08T09:01:00+09:00",
			"35 lines, 0 accepted, 35 duplicates"}, false},
	}
	for i, st := range steps {
		dec := filepath.Join(dir, "d"+string(rune('0'+i))+".jsonl")
		var out, errb bytes.Buffer
		err := Run(context.Background(), []string{"replay", "--events", st.events, "--decisions", dec, "--data-dir", data},
			IO{Stdin: bytes.NewReader(st.stdin), Stdout: &out, Stderr: &errb, Environ: []string{}})
		text := errb.String()
		if st.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), st.wantErr) || ExitCode(err) != 1 {
				t.Fatalf("%s: got %v, want exit status 1 and an error saying %q\n%s", st.name, err, st.wantErr, text)
			}
			text = err.Error()
		} else if err != nil {
			t.Fatalf("%s: %v\n%s", st.name, err, text)
		}
		for _, want := range st.want {
			if !strings.Contains(text, want) {
				t.Errorf("%s: output lacks %q:\n%s", st.name, want, text)
			}
		}
		b, _ := os.ReadFile(dec)
		if got := len(b) > 0; got != st.decided {
			t.Errorf("%s: decisions written: got %v, want %v", st.name, got, st.decided)
		}
	}
	s, err := sqlite.Open(t.Context(), db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c, err := s.Counts(t.Context()); err != nil || c.Events != 70 {
		t.Errorf("stored events: got %d, %v; want the sample's and the later log's 70", c.Events, err)
	}
}
