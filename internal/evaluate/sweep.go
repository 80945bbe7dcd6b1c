package evaluate

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// A sweep evaluates one scenario over many seeds (and, with the simulator's Vary, many draws of its
// attack and market parameters) and reports, for each measure, the median over the seeds and the worst
// case with the seed that gave it. Worst is the lowest value of a measure that should be high (takeovers
// stopped, recall) and the highest of one that should be low (delays, false alerts, customers
// challenged). A seed on which a measure has nothing to measure (no careful attacker, no campaign) is
// left out of that measure.

// Units of a measure.
const (
	UnitShare     = "share"       // a fraction in [0, 1]
	UnitSeconds   = "seconds"     // a delay
	UnitPer20Days = "per_20_days" // a count per 20 trading days
)

// Directions of a measure.
const (
	HigherIsBetter = "higher"
	LowerIsBetter  = "lower"
)

// SeedValue is one seed's figure of a measure; Value is nil when the seed had nothing to measure.
type SeedValue struct {
	Seed  int64    `json:"seed"`
	Value *float64 `json:"value"`
}

// MeasureSummary is one measure over the seeds of a sweep. Median, Worst and WorstSeed are nil when
// no seed had anything to measure; WorstSeed is the first seed (in sweep order) with the worst value.
type MeasureSummary struct {
	Measure   string      `json:"measure"`
	Name      string      `json:"name"`
	Unit      string      `json:"unit"`
	Better    string      `json:"better"`
	Seeds     int         `json:"seeds"` // seeds with a value
	Median    *float64    `json:"median"`
	Worst     *float64    `json:"worst"`
	WorstSeed *int64      `json:"worst_seed"`
	Values    []SeedValue `json:"values"`
}

// ScenarioSweep is the summary of one scenario's sweep.
type ScenarioSweep struct {
	Scenario    string           `json:"scenario"`
	Vary        bool             `json:"vary"`
	Accounts    int              `json:"accounts"`
	TradingDays int              `json:"trading_days"`
	Seeds       []int64          `json:"seeds"`
	Measures    []MeasureSummary `json:"measures"`
}

// Sweep is the summary of a sweep over one or more scenarios. It marshals to JSON as is.
type Sweep struct {
	Scenarios []ScenarioSweep `json:"scenarios"`
}

// measure is how one figure is read from a report.
type measure struct {
	key, name, unit, better string
	get                     func(*Report) (float64, bool)
}

func stoppedShare(s TakeoverStats, ok bool) (float64, bool) {
	if !ok || s.Takeovers == 0 {
		return 0, false
	}
	return float64(s.Stopped) / float64(s.Takeovers), true
}

func byStyle(style string) func(*Report) (float64, bool) {
	return func(r *Report) (float64, bool) { s, ok := r.ByStyle[style]; return stoppedShare(s, ok) }
}

func byKind(kind string) func(*Report) (float64, bool) {
	return func(r *Report) (float64, bool) { s, ok := r.ByKind[kind]; return stoppedShare(s, ok) }
}

// campaignDelays are the delays of the detected campaigns that had a hijacked buy executed, an alert
// before the first execution counting as zero.
func campaignDelays(r *Report) []float64 {
	var ds []float64
	for _, c := range r.Campaigns {
		if c.Detected && c.DelaySeconds != nil {
			ds = append(ds, max(0, *c.DelaySeconds))
		}
	}
	return ds
}

func ptrValue(p *float64) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return *p, true
}

// measures are the figures of a sweep, in the order they are printed.
var measures = []measure{
	{"takeovers_stopped", "takeovers stopped before the 1st order", UnitShare, HigherIsBetter,
		func(r *Report) (float64, bool) { return stoppedShare(r.Takeovers, true) }},
	{"stopped_careful", "  style careful", UnitShare, HigherIsBetter, byStyle("careful")},
	{"stopped_careless", "  style careless", UnitShare, HigherIsBetter, byStyle("careless")},
	{"stopped_phishing_relay", "  kind phishing_relay", UnitShare, HigherIsBetter, byKind("phishing_relay")},
	{"stopped_stolen_session", "  kind stolen_session", UnitShare, HigherIsBetter, byKind("stolen_session")},
	{"stopped_credential_stuffing", "  kind credential_stuffing", UnitShare, HigherIsBetter, byKind("credential_stuffing")},
	{"order_value_stopped", "attacker order value stopped", UnitShare, HigherIsBetter,
		func(r *Report) (float64, bool) {
			if r.Takeovers.OrderYen <= 0 {
				return 0, false
			}
			return r.Takeovers.StoppedYen / r.Takeovers.OrderYen, true
		}},
	{"campaigns_detected", "campaigns detected", UnitShare, HigherIsBetter,
		func(r *Report) (float64, bool) {
			if len(r.Campaigns) == 0 {
				return 0, false
			}
			return float64(r.CampaignsDetected) / float64(len(r.Campaigns)), true
		}},
	{"campaign_delay_median", "campaign alert delay, median (early = 0)", UnitSeconds, LowerIsBetter,
		func(r *Report) (float64, bool) {
			ds := campaignDelays(r)
			if len(ds) == 0 {
				return 0, false
			}
			return median(ds), true
		}},
	{"campaign_delay_max", "campaign alert delay, max", UnitSeconds, LowerIsBetter,
		func(r *Report) (float64, bool) {
			ds := campaignDelays(r)
			if len(ds) == 0 {
				return 0, false
			}
			m := ds[0]
			for _, d := range ds[1:] {
				m = max(m, d)
			}
			return m, true
		}},
	{"false_campaign_alerts", "false campaign alerts per 20 trading days", UnitPer20Days, LowerIsBetter,
		func(r *Report) (float64, bool) {
			if r.TradingDays <= 0 {
				return 0, false
			}
			return 20 * float64(r.FalseCampaignAlerts) / float64(r.TradingDays), true
		}},
	{"beneficiaries_precision", "beneficiaries precision", UnitShare, HigherIsBetter,
		func(r *Report) (float64, bool) { return ptrValue(r.Beneficiaries.Precision) }},
	{"beneficiaries_recall", "beneficiaries recall", UnitShare, HigherIsBetter,
		func(r *Report) (float64, bool) { return ptrValue(r.Beneficiaries.Recall) }},
	{"legit_logins_challenged", "legitimate logins challenged", UnitShare, LowerIsBetter,
		func(r *Report) (float64, bool) {
			if r.Legitimate.Logins == 0 {
				return 0, false
			}
			return float64(r.Legitimate.LoginsChallenged) / float64(r.Legitimate.Logins), true
		}},
	{"legit_orders_held", "legitimate orders held", UnitShare, LowerIsBetter,
		func(r *Report) (float64, bool) {
			if r.Legitimate.Orders == 0 {
				return 0, false
			}
			return float64(r.Legitimate.OrdersHeld) / float64(r.Legitimate.Orders), true
		}},
}

// Summarize aggregates the reports of one scenario, one a seed, in sweep order: every measure's
// per-seed values, their median and their worst case. TradingDays is the first report's; Vary and
// Accounts are left for the caller, who knows them.
func Summarize(scenario string, reports []*Report) ScenarioSweep {
	sw := ScenarioSweep{Scenario: scenario, Seeds: make([]int64, len(reports)), Measures: make([]MeasureSummary, 0, len(measures))}
	for i, r := range reports {
		sw.Seeds[i] = r.Seed
	}
	if len(reports) > 0 {
		sw.TradingDays = reports[0].TradingDays
	}
	for _, m := range measures {
		ms := MeasureSummary{Measure: m.key, Name: strings.TrimSpace(m.name), Unit: m.unit, Better: m.better, Values: make([]SeedValue, len(reports))}
		var vals []float64
		for i, r := range reports {
			ms.Values[i].Seed = r.Seed
			v, ok := m.get(r)
			if !ok {
				continue
			}
			ms.Values[i].Value = &v
			vals = append(vals, v)
			if ms.Worst == nil || worse(m.better, v, *ms.Worst) {
				w, s := v, r.Seed
				ms.Worst, ms.WorstSeed = &w, &s
			}
		}
		ms.Seeds = len(vals)
		if len(vals) > 0 {
			med := median(vals)
			ms.Median = &med
		}
		sw.Measures = append(sw.Measures, ms)
	}
	return sw
}

// worse reports whether v is strictly worse than w for a measure of the given direction.
func worse(better string, v, w float64) bool {
	if better == HigherIsBetter {
		return v < w
	}
	return v > w
}

// Measure returns the summary of the measure with the given key (see the JSON's "measure").
func (s *ScenarioSweep) Measure(key string) (MeasureSummary, bool) {
	for _, m := range s.Measures {
		if m.Measure == key {
			return m, true
		}
	}
	return MeasureSummary{}, false
}

// WriteTable prints each scenario's sweep as an aligned text table.
func (sw *Sweep) WriteTable(w io.Writer) error {
	var b strings.Builder
	for i := range sw.Scenarios {
		if i > 0 {
			b.WriteString("\n")
		}
		sw.Scenarios[i].writeTable(&b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (s *ScenarioSweep) writeTable(b *strings.Builder) {
	draw := "the scenario's parameters"
	if s.Vary {
		draw = "parameters drawn per seed (vary)"
	}
	fmt.Fprintf(b, "Sweep of scenario %q: %s, %s accounts, %d trading days, %s\n",
		s.Scenario, seedRange(s.Seeds), group(int64(s.Accounts)), s.TradingDays, draw)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  measure\tmedian\tworst\tworst seed\tseeds")
	names := map[string]string{}
	for _, m := range measures {
		names[m.key] = m.name
	}
	for _, m := range s.Measures {
		name := names[m.Measure]
		if name == "" {
			name = m.Name
		}
		seed := "-"
		if m.WorstSeed != nil {
			seed = strconv.FormatInt(*m.WorstSeed, 10)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d of %d\n", name, formatValue(m.Unit, m.Median), formatValue(m.Unit, m.Worst),
			seed, m.Seeds, len(m.Values))
	}
	tw.Flush()
}

// seedRange describes the seeds: "seeds 1-5" when consecutive, else the list.
func seedRange(seeds []int64) string {
	switch len(seeds) {
	case 0:
		return "no seeds"
	case 1:
		return "seed " + strconv.FormatInt(seeds[0], 10)
	}
	consecutive := true
	for i := 1; i < len(seeds); i++ {
		consecutive = consecutive && seeds[i] == seeds[i-1]+1
	}
	if consecutive {
		return fmt.Sprintf("%d seeds (%d-%d)", len(seeds), seeds[0], seeds[len(seeds)-1])
	}
	parts := make([]string, len(seeds))
	for i, s := range seeds {
		parts[i] = strconv.FormatInt(s, 10)
	}
	return fmt.Sprintf("%d seeds (%s)", len(seeds), strings.Join(parts, ", "))
}

func formatValue(unit string, v *float64) string {
	if v == nil {
		return "-"
	}
	switch unit {
	case UnitShare:
		return percent(*v)
	case UnitSeconds:
		if math.Abs(*v) < 120 {
			return fmt.Sprintf("%.0f s", *v)
		}
		return fmt.Sprintf("%s s", group(int64(math.Round(*v))))
	}
	return fmt.Sprintf("%.2f", *v)
}
