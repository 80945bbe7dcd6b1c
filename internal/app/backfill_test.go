package app

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/backfill"
	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/ingest"
	"github.com/brokerguard/brokerguard/internal/reconstruct"
	"github.com/brokerguard/brokerguard/internal/sim"
)

// simulatedLog generates a built-in scenario in memory: its event log and ground truth.
func simulatedLog(t testing.TB, scenario string) ([]byte, *sim.Truth) {
	t.Helper()
	sc, err := sim.BuiltinScenario(scenario)
	if err != nil {
		t.Fatal(err)
	}
	var events, truth bytes.Buffer
	if _, err := sim.Generate(context.Background(), sc, sim.Options{Seed: 1}, &events, &truth); err != nil {
		t.Fatal(err)
	}
	tr, err := sim.ReadTruth(&truth)
	if err != nil {
		t.Fatal(err)
	}
	return events.Bytes(), tr
}

// withoutReports drops the fraud_report events: the takeovers nobody reported.
func withoutReports(log []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(log, []byte("\n")) {
		if !bytes.Contains(line, []byte(`"type":"fraud_report"`)) {
			out.Write(line)
		}
	}
	return out.Bytes()
}

// splitLog writes the log as two files in time order: the first day plain, the rest gzip.
func splitLog(t *testing.T, dir string, log []byte, at string) (string, string) {
	t.Helper()
	i := bytes.Index(log, []byte(`"time":"`+at))
	i = bytes.LastIndexByte(log[:i], '\n') + 1
	first, second := filepath.Join(dir, "events-1.jsonl"), filepath.Join(dir, "events-2.jsonl.gz")
	if err := os.WriteFile(first, log[:i], 0o600); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(log[i:])
	zw.Close()
	if err := os.WriteFile(second, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return first, second
}

func readProposals(t *testing.T, file string) []backfill.Proposal {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []backfill.Proposal
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var p backfill.Proposal
		if err := json.Unmarshal(line, &p); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		out = append(out, p)
	}
	return out
}

// TestBackfillFindsUnreportedTakeovers removes the customers' fraud reports from the small scenario
// and holds backfill to finding the takeovers all the same: at least 80% of the truth's taken-over
// accounts among the first 2 × |takeovers| proposals, with most of the attacker's orders proposed,
// few of the customers' own, and proposals that compensate and tally take as incidents.
func TestBackfillFindsUnreportedTakeovers(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates and decides on 80,000 events")
	}
	log, tr := simulatedLog(t, "small")
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	first, second := splitLog(t, dir, withoutReports(log), "2025-04-10")
	args := []string{"--from", "2025-04-09", "--events", first, "--events", second,
		"--out", p("proposals.jsonl"), "--incidents-out", p("incidents.jsonl"), "--reported-out", p("reported.jsonl")}
	if d := ipdata(); d != "" {
		args = append(args, "--ipdb", d)
	}
	_, errOut, err := runCmd(t, runBackfill, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	t.Logf("\n%s", errOut)
	for _, want := range []string{"events/s", "accounts flagged", "proposed", "0 reported by the customer"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	props := readProposals(t, p("proposals.jsonl"))
	if len(tr.Takeovers) == 0 || len(props) == 0 {
		t.Fatalf("%d takeovers, %d proposals", len(tr.Takeovers), len(props))
	}
	top := 2 * len(tr.Takeovers)
	byAccount := map[string]*backfill.Proposal{}
	for i := range props {
		pr := &props[i]
		if pr.Rank != i+1 || pr.ID != "bf-"+strconv.Itoa(i+1) {
			t.Fatalf("proposal %d: rank %d id %s", i, pr.Rank, pr.ID)
		}
		if pr.Rank <= top && byAccount[pr.Account] == nil {
			byAccount[pr.Account] = pr
		}
	}
	found, attackerOrders, proposedAttacker, proposedOthers := 0, 0, 0, 0
	for _, tk := range tr.Takeovers {
		pr := byAccount[tk.Account]
		if pr == nil {
			t.Logf("takeover of %s (%s, %s) not in the first %d", tk.Account, tk.Kind, tk.Style, top)
			continue
		}
		found++
		theirs := map[string]bool{}
		for _, e := range tk.Events {
			if e.Type == "order" {
				theirs[e.OrderID] = true
				attackerOrders++
			}
		}
		for _, o := range pr.Orders {
			if theirs[o] {
				proposedAttacker++
			} else {
				proposedOthers++
			}
		}
	}
	if recall := float64(found) / float64(len(tr.Takeovers)); recall < 0.8 {
		t.Errorf("takeovers among the first %d proposals: %d of %d, want ≥ 80%%", top, found, len(tr.Takeovers))
	}
	if attackerOrders == 0 || float64(proposedAttacker) < 0.8*float64(attackerOrders) {
		t.Errorf("attacker orders proposed: %d of %d, want ≥ 80%%", proposedAttacker, attackerOrders)
	}
	if proposedOthers > proposedAttacker/5 {
		t.Errorf("orders proposed that were not the attacker's: %d (attacker's: %d)", proposedOthers, proposedAttacker)
	}
	if rep := readProposals(t, p("reported.jsonl")); len(rep) != 0 {
		t.Errorf("%d reported episodes in a log without reports", len(rep))
	}

	// The incidents file is one incident per proposal, and compensate and tally take it.
	f, err := os.Open(p("incidents.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	incs, bad, err := reconstruct.ReadIncidents(f)
	f.Close()
	if err != nil || len(bad) > 0 || len(incs) != len(props) || incs[0].ID != "bf-1" || incs[0].Account != props[0].Account {
		t.Fatalf("incidents: %v, bad %v, %d for %d proposals", err, bad, len(incs), len(props))
	}
	all := p("events.jsonl")
	os.WriteFile(all, withoutReports(log), 0o600)
	_, errOut, err = runCmd(t, runCompensate, "--events", all, "--incidents", p("incidents.jsonl"), "--policy", "restore", "--out", p("comp.jsonl"))
	if err != nil || !strings.Contains(errOut, " 0 errors") {
		t.Errorf("compensate on the proposals: %v\n%s", err, errOut)
	}
}

// TestBackfillSetsReportedApart keeps the customers' reports: the takeovers they reported are listed
// apart and not proposed.
func TestBackfillSetsReportedApart(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates and decides on 80,000 events")
	}
	log, tr := simulatedLog(t, "small")
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	os.WriteFile(p("events.jsonl"), log, 0o600)
	_, errOut, err := runCmd(t, runBackfill, "--from", "2025-04-09", "--events", p("events.jsonl"),
		"--out", p("proposals.jsonl"), "--reported-out", p("reported.jsonl"))
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	proposed, reported := map[string]bool{}, map[string]bool{}
	for _, pr := range readProposals(t, p("proposals.jsonl")) {
		proposed[pr.Account] = true
	}
	for _, pr := range readProposals(t, p("reported.jsonl")) {
		if pr.Report == nil || !strings.HasPrefix(pr.ID, "rep-") {
			t.Errorf("reported episode %s of %s without its report", pr.ID, pr.Account)
		}
		reported[pr.Account] = true
	}
	n := 0
	for _, tk := range tr.Takeovers {
		if tk.FraudReport == "" {
			continue
		}
		n++
		if proposed[tk.Account] {
			t.Errorf("%s reported the takeover (%s) and is proposed all the same", tk.Account, tk.FraudReport)
		}
		if !reported[tk.Account] {
			t.Errorf("%s reported the takeover and is not listed apart", tk.Account)
		}
	}
	if n == 0 {
		t.Fatal("the scenario has no reported takeover: the test proves nothing")
	}
}

func TestBackfillCommandErrors(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	os.WriteFile(p("e.jsonl"), []byte(remedyEvents), 0o600)
	tests := []struct {
		name    string
		args    []string
		usage   string // part of stderr for a usage error
		wantErr string // part of the error otherwise
	}{
		{"no flags", nil, "--from, --events and --out are required", ""},
		{"bad from", []string{"--from", "April", "--events", p("e.jsonl"), "--out", "-"}, `--from: want a date YYYY-MM-DD (JST) or an RFC 3339 time, got "April"`, ""},
		{"bad min score", []string{"--from", "2025-04-01", "--events", p("e.jsonl"), "--out", "-", "--min-score", "1001"}, "--min-score: want 0..1000", ""},
		{"stray argument", []string{"--from", "2025-04-01", "--events", p("e.jsonl"), "--out", "-", p("f.jsonl")}, "each events file needs its own --events", ""},
		{"stdin twice", []string{"--from", "2025-04-01", "--events", "-", "--events", "-", "--out", "-"}, "standard input (-) can be given once", ""},
		{"missing events", []string{"--from", "2025-04-01", "--events", p("e.jsonl"), "--events", p("none.jsonl"), "--out", p("o.jsonl")}, "", "none.jsonl"},
		{"bad out", []string{"--from", "2025-04-01", "--events", p("e.jsonl"), "--out", p("no/such/dir/o.jsonl")}, "", "no/such/dir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, err := runCmd(t, runBackfill, tc.args...)
			if tc.usage != "" {
				if !errors.Is(err, ErrUsage) || !strings.Contains(errOut, tc.usage) {
					t.Errorf("got %v %q, want a usage error with %q", err, errOut, tc.usage)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
	out, _, err := runCmd(t, runBackfill, "--help")
	if err != nil || !strings.Contains(out, "Usage: brokerguard backfill") || !strings.Contains(out, "--incidents-out") {
		t.Errorf("--help: %v %q", err, out)
	}
}

// TestBackfillNamesFileAndLine: a bad line is reported with its own file and line number.
func TestBackfillNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	lines := strings.SplitAfter(remedyEvents, "\n")
	os.WriteFile(p("a.jsonl"), []byte(strings.Join(lines[:6], "")), 0o600)
	os.WriteFile(p("b.jsonl"), []byte(strings.TrimSuffix(strings.Join(lines[6:], ""), "\n")), 0o600) // no final newline
	_, errOut, err := runCmd(t, runBackfill, "--from", "2025-04-01", "--events", p("a.jsonl"), "--events", p("b.jsonl"), "--out", p("o.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	// The bad line is the 9th of b.jsonl (the 15th of remedyEvents).
	if want := p("b.jsonl") + " line 9: "; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	if !strings.Contains(errOut, "backfill: 15 lines, 14 events decided on (0 before --from 2025-04-01T00:00:00+09:00 only taught the profiles), 1 rejected") {
		t.Errorf("summary: %s", errOut)
	}
}

// TestDetectHistoryMatchesReplay: backfill decides on history exactly as replay does, including the
// handling of repeated ids, late events put back in order and bad lines.
func TestDetectHistoryMatchesReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("decides on 80,000 events twice")
	}
	log, _ := simulatedLog(t, "small")
	lines := bytes.SplitAfter(log, []byte("\n"))
	// A repeated event, a bad line, and an event two minutes late.
	lines = append(lines[:5000], append([][]byte{lines[4999], []byte("{not json}\n")}, lines[5000:]...)...)
	lines[6000], lines[6010] = lines[6010], lines[6000]
	in := bytes.Join(lines, nil)

	engine := func() *detect.Engine {
		p, err := buildEngine(config.Default(), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return p.engine
	}
	var want, wantAlerts bytes.Buffer
	sum, err := ingest.Replay(context.Background(), bytes.NewReader(in), ingest.ReplayOptions{Engine: engine(),
		Decisions: &want, Alerts: &wantAlerts, Timing: ingest.Timing{Lateness: 5 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	var got, gotAlerts []byte
	hs, err := detectHistory(context.Background(), bytes.NewReader(in), engine(), 5*time.Minute, nil, func(ev *event.Event, out *detect.Outcome) {
		if out.Decided {
			got = append(event.AppendDecision(got, &out.Decision), '\n')
		}
		for i := range out.Alerts {
			gotAlerts = append(event.AppendAlert(gotAlerts, &out.Alerts[i]), '\n')
		}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("decisions differ from replay's (%d and %d bytes)", len(got), want.Len())
	}
	if !bytes.Equal(gotAlerts, wantAlerts.Bytes()) {
		t.Errorf("alerts differ from replay's")
	}
	if hs.Lines != sum.Lines || hs.Accepted != sum.Accepted || hs.Duplicates != sum.Duplicates || hs.Rejected != sum.ErrorCount() ||
		hs.Duplicates != 1 || hs.Rejected != 1 {
		t.Errorf("got lines %d accepted %d duplicates %d rejected %d; replay %d %d %d %d",
			hs.Lines, hs.Accepted, hs.Duplicates, hs.Rejected, sum.Lines, sum.Accepted, sum.Duplicates, sum.ErrorCount())
	}
}

// BenchmarkBackfillVsReplay decides on the demo scenario (245,000 events, fraud reports removed)
// with replay --no-store's path (ingest.Replay, no store, no outputs) and with backfill's
// (detectHistory and a Backfill), in process, with the shared IP data when it is there.
func BenchmarkBackfillVsReplay(b *testing.B) {
	log, _ := simulatedLog(b, "demo")
	log = withoutReports(log)
	cfg := config.Default()
	cfg.IPDB = ipdata() // as a firm runs it, when the shared IP data is there
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine := func() *detect.Engine {
		p, err := buildEngine(cfg, quiet)
		if err != nil {
			b.Fatal(err)
		}
		return p.engine
	}
	b.Run("replay", func(b *testing.B) {
		for b.Loop() {
			if _, err := ingest.Replay(context.Background(), bytes.NewReader(log), ingest.ReplayOptions{Engine: engine(),
				Timing: ingest.Timing{Lateness: cfg.Lateness, Future: cfg.FutureTolerance, Now: time.Now}}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)*float64(bytes.Count(log, []byte("\n")))/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("backfill", func(b *testing.B) {
		from := time.Date(2025, 4, 9, 0, 0, 0, 0, reconstruct.JST)
		for b.Loop() {
			bf := backfill.New(backfill.Options{From: from, MinScore: 300})
			if _, err := detectHistory(context.Background(), bytes.NewReader(log), engine(), cfg.Lateness, bf.Needs, func(ev *event.Event, out *detect.Outcome) {
				var d *event.Decision
				if out.Decided {
					d = &out.Decision
				}
				bf.Observe(ev, d)
				for i := range out.Alerts {
					bf.ObserveAlert(&out.Alerts[i])
				}
			}, nil); err != nil {
				b.Fatal(err)
			}
			bf.Proposals()
		}
		b.ReportMetric(float64(b.N)*float64(bytes.Count(log, []byte("\n")))/b.Elapsed().Seconds(), "events/s")
	})
}

// ipdata returns the shared IP data folder when present, else "".
func ipdata() string {
	if d := os.Getenv("BROKERGUARD_IPDATA"); d != "" {
		return d
	}
	d, _ := filepath.Abs("../../../shared/ipdata")
	if _, err := os.Stat(filepath.Join(d, "asn-ipv4.mmdb")); err == nil {
		return d
	}
	return ""
}
