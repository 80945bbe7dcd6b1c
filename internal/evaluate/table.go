package evaluate

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the report as aligned text tables.
func (rep *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Evaluation of scenario %q (seed %d, %d trading days)\n\n", rep.Scenario, rep.Seed, rep.TradingDays)

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Takeovers\tcount\tstopped before 1st order\torder value stopped\tdetected (review or more)")
	row := func(name string, s TakeoverStats) {
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\n", name, s.Takeovers, ratio(int64(s.Stopped), int64(s.Takeovers)),
			yenRatio(s.StoppedYen, s.OrderYen), ratio(int64(s.Detected), int64(s.Takeovers)))
	}
	row("all", rep.Takeovers)
	for _, k := range []string{"careless", "careful"} {
		if s, ok := rep.ByStyle[k]; ok {
			row("style "+k, s)
		}
	}
	for _, k := range sortedKeys(rep.ByStyle) {
		if k != "careless" && k != "careful" {
			row("style "+k, rep.ByStyle[k])
		}
	}
	for _, k := range sortedKeys(rep.ByKind) {
		row("kind "+k, rep.ByKind[k])
	}
	tw.Flush()

	l := rep.Legitimate
	fmt.Fprintln(&b)
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Legitimate customers\t")
	fmt.Fprintf(tw, "  logins challenged or blocked\t%s\n", ratio(l.LoginsChallenged, l.Logins))
	fmt.Fprintf(tw, "  orders held or blocked\t%s\n", ratio(l.OrdersHeld, l.Orders))
	fmt.Fprintf(tw, "  accounts blocked\t%s\n", ratio(int64(l.AccountsBlocked), int64(l.Accounts)))
	fmt.Fprintf(tw, "  decisions sent to review\t%s\n", ratio(l.Reviews, l.Decisions))
	tw.Flush()

	fmt.Fprintln(&b)
	med := "-"
	if rep.MedianDelaySeconds != nil {
		med = seconds(*rep.MedianDelaySeconds)
	}
	fmt.Fprintf(&b, "Campaigns: %d of %d detected, median delay from the first hijacked buy %s; false campaign alerts %d (%.2f per trading day)\n",
		rep.CampaignsDetected, len(rep.Campaigns), med, rep.FalseCampaignAlerts, rep.FalseCampaignAlertsPerDay)
	if len(rep.Campaigns) > 0 {
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  campaign\tsymbol\tvictims\tfirst hijacked buy\tfirst campaign alert\tdelay")
		for _, c := range rep.Campaigns {
			alertAt, delay := "not detected", "-"
			if c.Detected {
				alertAt = c.FirstAlertTime
			}
			if c.DelaySeconds != nil {
				delay = seconds(*c.DelaySeconds)
			}
			first := c.FirstHijackedBuy
			if first == "" {
				first = "none"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\n", c.ID, c.Symbol, c.Victims, first, alertAt, delay)
		}
		tw.Flush()
	}

	bn := rep.Beneficiaries
	fmt.Fprintf(&b, "\nBeneficiaries: precision %s (%d of %d flagged), recall %s (%d of %d)\n",
		pct(bn.Precision), bn.TruePositives, bn.Predicted, pct(bn.Recall), bn.TruePositives, bn.Actual)
	if len(rep.Waves) > 0 {
		det := 0
		for _, w := range rep.Waves {
			if w.Detected {
				det++
			}
		}
		fmt.Fprintf(&b, "Credential-stuffing waves: %d of %d detected\n", det, len(rep.Waves))
	}
	d := rep.Decisions
	fmt.Fprintf(&b, "\nDecisions read: %s (allow %s, review %s, challenge %s, hold %s, block %s)",
		group(d.Read), group(d.ByAction["allow"]), group(d.ByAction["review"]), group(d.ByAction["challenge"]),
		group(d.ByAction["hold"]), group(d.ByAction["block"]))
	if d.MissingAttacker > 0 || d.MissingLegitimate > 0 {
		fmt.Fprintf(&b, "; without a decision: %d attacker events, %d legitimate logins and orders (counted as allow)",
			d.MissingAttacker, d.MissingLegitimate)
	}
	b.WriteString("\n")
	if len(rep.Alerts) > 0 {
		var parts []string
		for _, k := range sortedKeys(rep.Alerts) {
			parts = append(parts, k+" "+strconv.Itoa(rep.Alerts[k]))
		}
		fmt.Fprintf(&b, "Alerts read: %s\n", strings.Join(parts, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func ratio(n, d int64) string {
	if d == 0 {
		return group(n) + " of 0"
	}
	return fmt.Sprintf("%s of %s (%s)", group(n), group(d), percent(float64(n)/float64(d)))
}

func yenRatio(n, d float64) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%s of %s yen (%s)", yen(n), yen(d), percent(n/d))
}

func percent(x float64) string {
	switch {
	case x == 0 || x == 1:
		return fmt.Sprintf("%.0f%%", x*100)
	case x < 0.001:
		return fmt.Sprintf("%.3f%%", x*100)
	case x < 0.1:
		return fmt.Sprintf("%.2f%%", x*100)
	}
	return fmt.Sprintf("%.1f%%", x*100)
}

func pct(p *float64) string {
	if p == nil {
		return "-"
	}
	return percent(*p)
}

func yen(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e9:
		return fmt.Sprintf("%.2f bn", v/1e9)
	case a >= 1e8:
		return fmt.Sprintf("%.0f m", v/1e6)
	case a >= 1e6:
		return fmt.Sprintf("%.2f m", v/1e6)
	}
	return group(int64(math.Round(v)))
}

// group writes n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func seconds(s float64) string {
	sign := "+"
	if s < 0 {
		sign = "-"
		s = -s
	}
	if s < 120 {
		return fmt.Sprintf("%s%.0f s", sign, s)
	}
	return fmt.Sprintf("%s%.1f min", sign, s/60)
}
