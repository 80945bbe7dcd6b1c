package evaluate

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func fp(v float64) *float64 { return &v }

func campaignsOf(delays ...*float64) []CampaignResult {
	cs := make([]CampaignResult, len(delays))
	for i, d := range delays {
		cs[i] = CampaignResult{ID: "C", Symbol: "9999", Detected: d != nil, DelaySeconds: d}
	}
	return cs
}

func ts(n, stopped int) TakeoverStats { return TakeoverStats{Takeovers: n, Stopped: stopped} }

// sweepReports are three hand-made seeds' reports; the figures expected of them are worked out in
// TestSummarize.
func sweepReports() []*Report {
	r7 := &Report{Scenario: "hand", Seed: 7, TradingDays: 5,
		Takeovers: TakeoverStats{Takeovers: 10, Stopped: 9, OrderYen: 1000, StoppedYen: 900},
		ByStyle:   map[string]TakeoverStats{"careful": ts(4, 3), "careless": ts(6, 6)},
		ByKind:    map[string]TakeoverStats{"phishing_relay": ts(5, 5), "stolen_session": ts(3, 2), "credential_stuffing": ts(2, 2)},
		// One alert 30 s before the first hijacked buy (counts as 0), one 60 s after.
		Campaigns: campaignsOf(fp(-30), fp(60)), CampaignsDetected: 2, FalseCampaignAlerts: 1,
		Beneficiaries: BeneficiaryStats{Precision: fp(0.5), Recall: fp(1)},
		Legitimate:    LegitStats{Logins: 1000, LoginsChallenged: 20, Orders: 500, OrdersHeld: 1},
	}
	r8 := &Report{Scenario: "hand", Seed: 8, TradingDays: 5,
		Takeovers: TakeoverStats{Takeovers: 10, Stopped: 10, OrderYen: 2000, StoppedYen: 2000},
		ByStyle:   map[string]TakeoverStats{"careful": ts(2, 2), "careless": ts(8, 8)},
		ByKind:    map[string]TakeoverStats{"phishing_relay": ts(10, 10)},
		// One campaign, not detected: no delay; no beneficiary alert: no precision.
		Campaigns:     campaignsOf(nil),
		Beneficiaries: BeneficiaryStats{Recall: fp(0)},
		Legitimate:    LegitStats{Logins: 1000, LoginsChallenged: 10, Orders: 500, OrdersHeld: 0},
	}
	r9 := &Report{Scenario: "hand", Seed: 9, TradingDays: 5,
		Takeovers: TakeoverStats{Takeovers: 4, Stopped: 2, OrderYen: 1000, StoppedYen: 100},
		ByStyle:   map[string]TakeoverStats{"careful": ts(2, 0), "careless": ts(2, 2)},
		ByKind:    map[string]TakeoverStats{"phishing_relay": ts(2, 1), "stolen_session": ts(2, 1)},
		Campaigns: campaignsOf(fp(100), fp(300), fp(200)), CampaignsDetected: 3, FalseCampaignAlerts: 2,
		Beneficiaries: BeneficiaryStats{Precision: fp(1), Recall: fp(0.5)},
		Legitimate:    LegitStats{Logins: 1000, LoginsChallenged: 30, Orders: 500, OrdersHeld: 5},
	}
	return []*Report{r7, r8, r9}
}

func TestSummarize(t *testing.T) {
	sw := Summarize("hand", sweepReports())
	if got, want := sw.Seeds, []int64{7, 8, 9}; len(got) != 3 || got[0] != want[0] || got[2] != want[2] {
		t.Errorf("seeds: got %v, want %v", got, want)
	}
	if sw.TradingDays != 5 {
		t.Errorf("trading days: got %d, want 5", sw.TradingDays)
	}
	cases := []struct {
		key           string
		seeds         int
		median, worst float64
		worstSeed     int64
	}{
		{"takeovers_stopped", 3, 0.9, 0.5, 9},           // 0.9, 1, 0.5
		{"stopped_careful", 3, 0.75, 0, 9},              // 0.75, 1, 0
		{"stopped_careless", 3, 1, 1, 7},                // all 1: the first seed is named
		{"stopped_phishing_relay", 3, 1, 0.5, 9},        // 1, 1, 0.5
		{"stopped_stolen_session", 2, 7.0 / 12, 0.5, 9}, // 2/3, -, 1/2: the median of two is their mean
		{"stopped_credential_stuffing", 1, 1, 1, 7},     // 1, -, -
		{"order_value_stopped", 3, 0.9, 0.1, 9},         // 0.9, 1, 0.1
		{"campaigns_detected", 3, 1, 0, 8},              // 1, 0, 1
		{"campaign_delay_median", 2, 115, 200, 9},       // median(0, 60) = 30, -, median(100, 300, 200) = 200
		{"campaign_delay_max", 2, 180, 300, 9},          // 60, -, 300
		{"false_campaign_alerts", 3, 4, 8, 9},           // per 20 of 5 days: 4, 0, 8
		{"beneficiaries_precision", 2, 0.75, 0.5, 7},    // 0.5, -, 1
		{"beneficiaries_recall", 3, 0.5, 0, 8},          // 1, 0, 0.5
		{"legit_logins_challenged", 3, 0.02, 0.03, 9},   // 0.02, 0.01, 0.03
		{"legit_orders_held", 3, 0.002, 0.01, 9},        // 0.002, 0, 0.01
	}
	if len(sw.Measures) != len(cases) {
		t.Errorf("measures: got %d, want %d", len(sw.Measures), len(cases))
	}
	for _, c := range cases {
		m, ok := sw.Measure(c.key)
		if !ok {
			t.Errorf("%s: missing", c.key)
			continue
		}
		if m.Seeds != c.seeds || len(m.Values) != 3 {
			t.Errorf("%s: got %d seeds of %d, want %d of 3", c.key, m.Seeds, len(m.Values), c.seeds)
		}
		if m.Median == nil || !near(*m.Median, c.median) {
			t.Errorf("%s median: got %v, want %v", c.key, val(m.Median), c.median)
		}
		if m.Worst == nil || !near(*m.Worst, c.worst) {
			t.Errorf("%s worst: got %v, want %v", c.key, val(m.Worst), c.worst)
		}
		if m.WorstSeed == nil || *m.WorstSeed != c.worstSeed {
			t.Errorf("%s worst seed: got %v, want %d", c.key, m.WorstSeed, c.worstSeed)
		}
	}
}

func val(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// A measure no seed has anything for has no median, worst or worst seed, and prints as "-".
func TestSummarizeNothingToMeasure(t *testing.T) {
	quiet := []*Report{
		{Scenario: "quiet", Seed: 1, TradingDays: 20, FalseCampaignAlerts: 1, Legitimate: LegitStats{Logins: 100, LoginsChallenged: 1}},
		{Scenario: "quiet", Seed: 2, TradingDays: 20, Legitimate: LegitStats{Logins: 100, LoginsChallenged: 3}},
	}
	sw := Summarize("quiet", quiet)
	for _, key := range []string{"takeovers_stopped", "stopped_careful", "campaign_delay_median", "beneficiaries_precision", "legit_orders_held"} {
		m, _ := sw.Measure(key)
		if m.Seeds != 0 || m.Median != nil || m.Worst != nil || m.WorstSeed != nil {
			t.Errorf("%s: got %+v, want nothing measured", key, m)
		}
	}
	if m, _ := sw.Measure("false_campaign_alerts"); m.Worst == nil || *m.Worst != 1 || *m.WorstSeed != 1 || *m.Median != 0.5 {
		t.Errorf("false campaign alerts: got median %v, worst %v (seed %v), want 0.5, 1 (seed 1)", val(m.Median), val(m.Worst), m.WorstSeed)
	}
	var b strings.Builder
	all := Sweep{Scenarios: []ScenarioSweep{sw}}
	if err := all.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^  takeovers stopped before the 1st order +- +- +- +0 of 2$`).MatchString(b.String()) {
		t.Errorf("table: got\n%s\nwant the takeovers row with no figures", b.String())
	}
}

func TestSweepTable(t *testing.T) {
	sw := Summarize("hand", sweepReports())
	sw.Accounts, sw.Vary = 1200, true
	all := Sweep{Scenarios: []ScenarioSweep{sw, Summarize("hand", sweepReports()[:1])}}
	var b strings.Builder
	if err := all.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`Sweep of scenario "hand": 3 seeds (7-9), 1,200 accounts, 5 trading days, parameters drawn per seed (vary)`,
		`Sweep of scenario "hand": seed 7, 0 accounts, 5 trading days, the scenario's parameters`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table: got\n%s\nwant a line %q", out, want)
		}
	}
	rows := []string{
		`  takeovers stopped before the 1st order +90\.0% +50\.0% +9 +3 of 3`,
		`    style careful +75\.0% +0% +9 +3 of 3`,
		`  campaigns detected +100% +0% +8 +3 of 3`,
		`  campaign alert delay, median \(early = 0\) +115 s +200 s +9 +2 of 3`,
		`  campaign alert delay, max +180 s +300 s +9 +2 of 3`,
		`  false campaign alerts per 20 trading days +4\.00 +8\.00 +9 +3 of 3`,
		`  legitimate orders held +0\.20% +1\.00% +9 +3 of 3`,
	}
	for _, r := range rows {
		if !regexp.MustCompile(`(?m)^` + r + `$`).MatchString(out) {
			t.Errorf("table: got\n%s\nwant a row matching %q", out, r)
		}
	}
	// The JSON names each measure, its direction and every seed's value.
	js, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	var back Sweep
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	m, _ := back.Scenarios[0].Measure("campaigns_detected")
	if m.Better != HigherIsBetter || m.Unit != UnitShare || m.Name != "campaigns detected" || *m.WorstSeed != 8 ||
		m.Values[1].Seed != 8 || *m.Values[1].Value != 0 {
		t.Errorf("JSON campaigns_detected: got %+v", m)
	}
	if m, _ := back.Scenarios[0].Measure("campaign_delay_max"); m.Better != LowerIsBetter || m.Values[1].Value != nil {
		t.Errorf("JSON campaign_delay_max: got %+v, want lower is better and no value for seed 8", m)
	}
}
