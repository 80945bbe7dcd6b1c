package ingest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/rules"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

func sample(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/sample.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newEngine(t testing.TB) *detect.Engine {
	return newEngineLate(t, 0)
}

// newEngineLate returns an engine that puts events up to lateness late at their place, as serve's does.
func newEngineLate(t testing.TB, lateness time.Duration) *detect.Engine {
	e, err := detect.New(detect.Options{Lateness: lateness})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bg.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func replay(t *testing.T, in []byte, st store.Store) (Summary, string, string) {
	t.Helper()
	var dec, al bytes.Buffer
	sum, err := Replay(context.Background(), bytes.NewReader(in), ReplayOptions{Engine: newEngine(t), Store: st,
		Decisions: &dec, Alerts: &al, Timing: Timing{Lateness: 5 * time.Minute, Future: time.Hour, Now: time.Now}})
	if err != nil {
		t.Fatal(err)
	}
	return sum, dec.String(), al.String()
}

func TestReplayDecidesAndStores(t *testing.T) {
	st := openSQLite(t)
	in := sample(t)
	sum, dec, al := replay(t, in, st)
	lines := strings.Count(string(in), "\n")
	if sum.Lines != int64(lines) || sum.Accepted != int64(lines) || sum.ErrorCount() != 0 {
		t.Fatalf("got %d lines %d accepted %d errors, want %d, %d, 0", sum.Lines, sum.Accepted, sum.ErrorCount(), lines, lines)
	}
	// Every successful login, profile change, order and withdrawal gets exactly one decision.
	want := strings.Count(string(in), `"result":"success"`) + strings.Count(string(in), `"type":"profile_change"`) +
		strings.Count(string(in), `"type":"order"`) + strings.Count(string(in), `"type":"withdrawal"`)
	if got := strings.Count(dec, "\n"); got != want {
		t.Errorf("got %d decisions, want %d", got, want)
	}
	if !strings.Contains(dec, `{"id":"x5","account":"A1","type":"order","action":"block"`) && !strings.Contains(dec, `{"id":"x5","account":"A1","type":"order","action":"hold"`) {
		t.Errorf("the attacker's illiquid buy x5 was not held or blocked:\n%s", dec)
	}
	if !strings.Contains(al, `"kind":"account_takeover"`) || !strings.Contains(al, `"accounts":["A1"]`) {
		t.Errorf("no account_takeover alert for A1: %s", al)
	}
	if strings.Contains(al, `"B2"`) {
		t.Errorf("the legitimate account B2 was alerted: %s", al)
	}
	c, err := st.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Events != int64(lines) || c.Decisions != int64(want) || c.Alerts != int64(strings.Count(al, "\n")) {
		t.Errorf("stored %+v, want %d events, %d decisions, %d alerts", c, lines, want, strings.Count(al, "\n"))
	}
	// Replaying again into the same store duplicates nothing and decides the same.
	_, dec2, _ := replay(t, in, st)
	if dec2 != dec {
		t.Error("second replay decided differently")
	}
	c2, _ := st.Counts(context.Background())
	if c2 != c {
		t.Errorf("second replay changed the store: %+v, want %+v", c2, c)
	}
}

func TestReplayPrefixGivesPrefix(t *testing.T) {
	in := sample(t)
	_, full, _ := replay(t, in, nil)
	lines := bytes.SplitAfter(in, []byte("\n"))
	for _, n := range []int{5, 17, 26, 33} {
		_, part, _ := replay(t, bytes.Join(lines[:n], nil), nil)
		if !strings.HasPrefix(full, part) {
			t.Errorf("decisions of the first %d lines are not a prefix of the full run's", n)
		}
	}
}

func TestReplayBadLinesAreCountedAndSkipped(t *testing.T) {
	in := sample(t)
	lines := bytes.SplitAfter(in, []byte("\n"))
	var buf bytes.Buffer
	buf.Write(lines[0])
	buf.WriteString("{not json\n")                                                                  // malformed
	buf.WriteString(`{"id":"zz","type":"order","time":"2025-03-01T08:00:00","account":"A"}` + "\n") // no offset
	buf.Write(lines[0])                                                                             // duplicate id
	for _, l := range lines[1:] {
		buf.Write(l)
	}
	buf.WriteString(`{"id":"late","type":"logout","time":"2025-03-01T00:00:00+09:00","account":"A1","session":"x"}` + "\n")
	buf.WriteString(`{"id":"future","type":"logout","time":"2200-01-01T00:00:00+09:00","account":"A1","session":"x"}` + "\n")
	sum, dec, _ := replay(t, buf.Bytes(), nil)
	want := map[string]int64{"malformed_json": 1, "bad_time": 1, "too_late": 1, "in_future": 1}
	for code, n := range want {
		if sum.Errors[code] != n {
			t.Errorf("errors[%s] = %d, want %d (all: %v)", code, sum.Errors[code], n, sum.Errors)
		}
	}
	if sum.Duplicates != 1 {
		t.Errorf("got %d duplicates, want 1", sum.Duplicates)
	}
	if !strings.Contains(strings.Join(sum.FirstErrors, "\n"), "line 2:") || !strings.Contains(strings.Join(sum.FirstErrors, "\n"), `field "time"`) {
		t.Errorf("errors do not name line and field: %v", sum.FirstErrors)
	}
	_, clean, _ := replay(t, in, nil)
	if dec != clean {
		t.Error("bad lines changed the decisions on good ones")
	}
}

func TestReplayPutsLateEventsInOrder(t *testing.T) {
	in := sample(t)
	lines := bytes.SplitAfter(in, []byte("\n"))
	// Swap two neighbouring events a few minutes apart: within the lateness they are reordered.
	i := -1
	for k := 1; k+1 < len(lines); k++ {
		if bytes.Contains(lines[k], []byte(`"id":"x2"`)) {
			i = k
		}
	}
	if i < 0 {
		t.Fatal("sample has no x2")
	}
	swapped := append([][]byte{}, lines...)
	swapped[i], swapped[i+1] = swapped[i+1], swapped[i]
	_, a, _ := replay(t, in, nil)
	sum, b, _ := replay(t, bytes.Join(swapped, nil), nil)
	if a != b || sum.ErrorCount() != 0 {
		t.Errorf("an event a few seconds late changed the output (errors %v)", sum.Errors)
	}
}

// TestShadowRulesAreRecordedNotActedOn runs a shadow set that holds every order beside the live pack.
func TestShadowRulesAreRecordedNotActedOn(t *testing.T) {
	shadow, err := rules.Parse([]byte("version: hold-all-1\nrules:\n  - name: hold-all\n    on: [order]\n    when: 'true'\n    action: hold\n    reason: {code: HOLD_ALL}\n"), "shadow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := detect.New(detect.Options{Shadow: shadow})
	if err != nil {
		t.Fatal(err)
	}
	st := openSQLite(t)
	var live, sh bytes.Buffer
	sum, err := Replay(context.Background(), bytes.NewReader(sample(t)), ReplayOptions{Engine: eng, Store: st,
		Decisions: &live, Shadow: &sh, ShadowVersion: shadow.Version, Timing: Timing{Lateness: 5 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	_, clean, _ := replay(t, sample(t), nil)
	if live.String() != clean {
		t.Error("the shadow set changed the live decisions")
	}
	orders := strings.Count(string(sample(t)), `"type":"order"`)
	if got := strings.Count(sh.String(), `"action":"hold"`); got < orders {
		t.Errorf("got %d held shadow decisions, want at least the %d orders", got, orders)
	}
	if sum.Shadow["hold"] < int64(orders) {
		t.Errorf("summary counts %v shadow decisions", sum.Shadow)
	}
	stored, err := st.ShadowDecisions(context.Background(), store.DecisionQuery{Action: "hold", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) < orders || stored[0].RuleSet != "hold-all-1" {
		t.Errorf("stored %d shadow holds (first %+v), want %d of rule set hold-all-1", len(stored), stored, orders)
	}
}

// TestReplayHeldEventsAreDuplicates replays logs into a store that holds part of them from an earlier
// run: the stored events are counted as duplicates and not decided again, and only events up to the
// store's latest are looked up.
func TestReplayHeldEventsAreDuplicates(t *testing.T) {
	in := sample(t)
	lines := bytes.SplitAfter(in, []byte("\n"))
	lines = lines[:len(lines)-1] // the empty string after the last newline
	cases := []struct {
		name      string
		stored    int // the first lines, replayed before
		wantDup   int64
		wantAccpt int64
	}{
		{"the same log again", len(lines), int64(len(lines)), 0},
		{"a log that continues the stored one", 20, 20, int64(len(lines) - 20)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := openSQLite(t)
			replay(t, bytes.Join(lines[:tc.stored], nil), st)
			ext, err := st.Extent(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var looked []string
			held := func(ctx context.Context, ids []string) ([]bool, error) {
				looked = append(looked, ids...)
				return st.EventsHeld(ctx, ids)
			}
			var dec bytes.Buffer
			sum, err := Replay(context.Background(), bytes.NewReader(in), ReplayOptions{Engine: newEngine(t), Store: st, Decisions: &dec,
				Timing: Timing{Lateness: 5 * time.Minute}, Held: held, HeldUntil: ext.Last})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Duplicates != tc.wantDup || sum.Accepted != tc.wantAccpt || sum.ErrorCount() != 0 {
				t.Errorf("got %d duplicates, %d accepted, %d errors; want %d, %d, 0", sum.Duplicates, sum.Accepted, sum.ErrorCount(), tc.wantDup, tc.wantAccpt)
			}
			if tc.wantAccpt == 0 && dec.Len() != 0 {
				t.Errorf("stored events were decided again:\n%s", dec.String())
			}
			// Events after the store's latest are not looked up (the sample is in time order; events
			// at the same instant as the latest are).
			for _, id := range looked {
				ev, err := event.Decode(findLine(t, lines, id))
				if err != nil {
					t.Fatal(err)
				}
				if ev.Time.After(ext.Last) {
					t.Errorf("event %s at %s was looked up, after the store's latest %s", id, ev.Time, ext.Last)
				}
			}
			if int64(len(looked)) < tc.wantDup {
				t.Errorf("looked up %d ids, want at least the %d stored", len(looked), tc.wantDup)
			}
		})
	}

	t.Run("a failing lookup stops the run", func(t *testing.T) {
		fail := errors.New("store gone")
		_, err := Replay(context.Background(), bytes.NewReader(in), ReplayOptions{Engine: newEngine(t), Timing: Timing{Lateness: 5 * time.Minute},
			Held:      func(context.Context, []string) ([]bool, error) { return nil, fail },
			HeldUntil: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)})
		if !errors.Is(err, fail) {
			t.Errorf("got %v, want %v", err, fail)
		}
	})
}

func findLine(t *testing.T, lines [][]byte, id string) []byte {
	t.Helper()
	for _, l := range lines {
		if bytes.Contains(l, []byte(`"id":"`+id+`"`)) {
			return bytes.TrimSpace(l)
		}
	}
	t.Fatalf("no line with id %s", id)
	return nil
}
