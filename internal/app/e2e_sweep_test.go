package app

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/brokerguard/brokerguard/internal/evaluate"
)

// TestSweepFloors runs a small varied sweep as a user would (brokerguard sweep --vary) and holds its
// worst case and median to floors a little under the figures the engine reaches today: a change that
// makes detection worse on any seed fails here. Floors only, never timings.
func TestSweepFloors(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates and replays three small firms")
	}
	out, errOut, err := run(t, "sweep", "--scenario", "small", "--seeds", "3", "--vary", "--json")
	if err != nil {
		t.Fatalf("sweep: %v\n%s", err, errOut)
	}
	var sw evaluate.Sweep
	if err := json.Unmarshal([]byte(out), &sw); err != nil {
		t.Fatal(err)
	}
	if len(sw.Scenarios) != 1 || !sw.Scenarios[0].Vary {
		t.Fatalf("sweep: got %+v, want one varied scenario", sw.Scenarios)
	}
	s := sw.Scenarios[0]
	var table strings.Builder
	if err := sw.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())

	// The careful attackers of these three draws are not stopped today (0%): no floor is held for
	// them until detection stops some, since a floor of zero cannot fail.
	// Figures that should be high (shares stopped, detected, found): the worst seed and the median at
	// least the floors. Figures that should be low (delays in seconds, false campaign alerts per 20
	// trading days, customers' costs): the worst seed and the median at most the ceilings.
	cases := []struct {
		measure         string
		worst, median   float64
		higherIsBetter  bool
		seedsWithFigure int
	}{
		{"takeovers_stopped", 0.45, 0.75, true, 3},
		{"order_value_stopped", 0.75, 0.8, true, 3},
		{"campaigns_detected", 1, 1, true, 3},
		{"beneficiaries_precision", 0.9, 0.9, true, 3},
		{"beneficiaries_recall", 0.9, 0.9, true, 3},
		{"campaign_delay_max", 7000, 4000, false, 3},
		{"false_campaign_alerts", 1, 1, false, 3},
		{"legit_logins_challenged", 0.065, 0.055, false, 3},
		{"legit_orders_held", 0.021, 0.018, false, 3},
	}
	for _, c := range cases {
		m, ok := s.Measure(c.measure)
		if !ok || m.Worst == nil || m.Median == nil {
			t.Errorf("%s: no figure (%+v)", c.measure, m)
			continue
		}
		if m.Seeds < c.seedsWithFigure {
			t.Errorf("%s: got a figure on %d seeds, want %d", c.measure, m.Seeds, c.seedsWithFigure)
		}
		if c.higherIsBetter {
			if *m.Worst < c.worst || *m.Median < c.median {
				t.Errorf("%s: got worst %.4f (seed %d), median %.4f; want worst ≥ %.4f, median ≥ %.4f",
					c.measure, *m.Worst, *m.WorstSeed, *m.Median, c.worst, c.median)
			}
			continue
		}
		if *m.Worst > c.worst || *m.Median > c.median {
			t.Errorf("%s: got worst %.4f (seed %d), median %.4f; want worst ≤ %.4f, median ≤ %.4f",
				c.measure, *m.Worst, *m.WorstSeed, *m.Median, c.worst, c.median)
		}
	}
}
