package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/brokerguard/brokerguard/internal/evaluate"
)

// TestSweepCommand runs a small sweep in process and checks it against the same seeds run one by one
// through simulate, replay and evaluate, as a user would: every seed's figure is the one evaluate
// gives, the median and the worst case are those of the seeds' figures, and the table names the seed
// that gave the worst.
func TestSweepCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates and replays three small firms twice")
	}
	ipdb := ipdataOrEmbedded(t)
	const seeds = 3
	args := []string{"sweep", "--scenario", "small", "--seeds", fmt.Sprint(seeds), "--accounts", "400", "--ipdb", ipdb}
	out, errOut, err := run(t, append(args, "--json")...)
	if err != nil {
		t.Fatalf("sweep: %v\n%s", err, errOut)
	}
	if got := strings.Count(errOut, "scenario small seed"); got != seeds {
		t.Errorf("progress lines: got %d, want %d:\n%s", got, seeds, errOut)
	}
	var sw evaluate.Sweep
	if err := json.Unmarshal([]byte(out), &sw); err != nil {
		t.Fatalf("sweep --json: %v\n%s", err, out)
	}
	if len(sw.Scenarios) != 1 {
		t.Fatalf("scenarios: got %d, want 1", len(sw.Scenarios))
	}
	s := sw.Scenarios[0]
	if s.Scenario != "small" || s.Accounts != 400 || s.TradingDays != 3 || !slices.Equal(s.Seeds, []int64{1, 2, 3}) || s.Vary {
		t.Errorf("header: got %s, %d accounts, %d days, seeds %v, vary %v; want small, 400, 3, [1 2 3], false",
			s.Scenario, s.Accounts, s.TradingDays, s.Seeds, s.Vary)
	}

	// The same seeds, one by one, through the commands.
	dir := t.TempDir()
	reps := make([]evaluate.Report, seeds)
	for i := range reps {
		p := func(name string) string { return filepath.Join(dir, fmt.Sprintf("%d-%s", i+1, name)) }
		if _, e, err := run(t, "simulate", "--scenario", "small", "--accounts", "400", "--seed", fmt.Sprint(i+1), "--out", p("events.jsonl"), "--truth", p("truth.json")); err != nil {
			t.Fatalf("simulate: %v\n%s", err, e)
		}
		if _, e, err := run(t, "replay", "--events", p("events.jsonl"), "--decisions", p("decisions.jsonl"), "--alerts", p("alerts.jsonl"), "--no-store", "--ipdb", ipdb); err != nil {
			t.Fatalf("replay: %v\n%s", err, e)
		}
		o, _, err := run(t, "evaluate", "--truth", p("truth.json"), "--decisions", p("decisions.jsonl"), "--alerts", p("alerts.jsonl"), "--json")
		if err != nil {
			t.Fatalf("evaluate: %v", err)
		}
		if err := json.Unmarshal([]byte(o), &reps[i]); err != nil {
			t.Fatal(err)
		}
	}
	share := func(n, d int64) *float64 {
		if d == 0 {
			return nil
		}
		v := float64(n) / float64(d)
		return &v
	}
	perSeed := map[string]func(r *evaluate.Report) *float64{
		"takeovers_stopped": func(r *evaluate.Report) *float64 {
			return share(int64(r.Takeovers.Stopped), int64(r.Takeovers.Takeovers))
		},
		"stopped_careful": func(r *evaluate.Report) *float64 {
			return share(int64(r.ByStyle["careful"].Stopped), int64(r.ByStyle["careful"].Takeovers))
		},
		"order_value_stopped":  func(r *evaluate.Report) *float64 { v := r.Takeovers.StoppedYenShare; return &v },
		"beneficiaries_recall": func(r *evaluate.Report) *float64 { return r.Beneficiaries.Recall },
		"legit_logins_challenged": func(r *evaluate.Report) *float64 {
			return share(r.Legitimate.LoginsChallenged, r.Legitimate.Logins)
		},
		"legit_orders_held": func(r *evaluate.Report) *float64 { return share(r.Legitimate.OrdersHeld, r.Legitimate.Orders) },
	}
	for key, get := range perSeed {
		m, ok := s.Measure(key)
		if !ok {
			t.Errorf("%s: missing from the sweep", key)
			continue
		}
		var vals []float64
		for i := range reps {
			want := get(&reps[i])
			got := m.Values[i].Value
			if (got == nil) != (want == nil) || (got != nil && math.Abs(*got-*want) > 1e-12) {
				t.Errorf("%s seed %d: got %v, want %v (evaluate's)", key, i+1, deref(got), deref(want))
			}
			if want != nil {
				vals = append(vals, *want)
			}
		}
		if len(vals) != seeds {
			t.Fatalf("%s: %d of %d seeds with a figure; the scenario should have takeovers, orders and beneficiaries", key, len(vals), seeds)
		}
		sorted := slices.Clone(vals)
		slices.Sort(sorted)
		worst, better := sorted[0], "higher"
		if strings.HasPrefix(key, "legit_") {
			worst, better = sorted[seeds-1], "lower"
		}
		worstSeed := int64(slices.Index(vals, worst) + 1)
		if m.Better != better || m.Median == nil || *m.Median != sorted[1] || m.Worst == nil || *m.Worst != worst || m.WorstSeed == nil || *m.WorstSeed != worstSeed {
			t.Errorf("%s: got %s is better, median %v, worst %v (seed %v); want %s, %v, %v (seed %d)", key, m.Better,
				deref(m.Median), deref(m.Worst), derefSeed(m.WorstSeed), better, sorted[1], worst, worstSeed)
		}
	}

	// The table names the worst seed on the measure's row.
	table, errOut, err := run(t, args...)
	if err != nil {
		t.Fatalf("sweep: %v\n%s", err, errOut)
	}
	t.Logf("\n%s", table)
	m, _ := s.Measure("legit_logins_challenged")
	row := regexp.MustCompile(`(?m)^  legitimate logins challenged +(\S+) +(\S+) +(\d+) +3 of 3$`).FindStringSubmatch(table)
	if row == nil || row[3] != fmt.Sprint(*m.WorstSeed) {
		t.Errorf("table: got\n%s\nwant the logins row to name seed %d as the worst", table, *m.WorstSeed)
	}
	if !strings.Contains(table, `Sweep of scenario "small": 3 seeds (1-3), 400 accounts, 3 trading days`) {
		t.Errorf("table: got\n%s\nwant the scenario's header", table)
	}

	// Two runs at a time give the same answer: the summary does not depend on which run ends first.
	par, _, err := run(t, append(args, "--json", "--parallel", "2")...)
	if err != nil {
		t.Fatal(err)
	}
	if par != out {
		t.Errorf("--parallel 2 changed the summary:\n%s\nwant\n%s", par, out)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func derefSeed(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestSweepUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no scenario", []string{"--scenario", " , "}, "--scenario names no scenario"},
		{"no seeds", []string{"--seeds", "0"}, "--seeds 0: want 1 or more"},
		{"no parallel", []string{"--parallel", "0"}, "--parallel 0: want 1 or more"},
		{"negative accounts", []string{"--accounts", "-5"}, "--accounts -5"},
		{"argument", []string{"--json", "yes"}, `unexpected argument "yes"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, err := run(t, append([]string{"sweep"}, c.args...)...)
			if !errors.Is(err, ErrUsage) || !strings.Contains(errOut, c.want) {
				t.Errorf("got %v, %q; want a usage error saying %q", err, errOut, c.want)
			}
		})
	}
	if _, _, err := run(t, "sweep", "--scenario", "no-such-scenario", "--seeds", "1"); err == nil || !strings.Contains(err.Error(), `scenario "no-such-scenario"`) {
		t.Errorf("unknown scenario: got %v, want an error naming it", err)
	}
}
