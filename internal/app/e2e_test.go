package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brokerguard/brokerguard/internal/evaluate"
)

// TestSimulateReplayEvaluate runs the three commands as a user would, on the small scenario, and holds
// the engine to the detection targets: at least 90% of takeovers stopped before the attacker's first
// order, at most 3% of legitimate logins challenged and 0.5% of legitimate orders held.
func TestSimulateReplayEvaluate(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates and replays 80,000 events")
	}
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	if _, errOut, err := run(t, "simulate", "--scenario", "small", "--seed", "1", "--out", p("events.jsonl"), "--truth", p("truth.json")); err != nil {
		t.Fatalf("simulate: %v\n%s", err, errOut)
	}
	// IP intelligence from the shared data beside the repository, as a firm would configure it.
	if _, errOut, err := run(t, "replay", "--events", p("events.jsonl"), "--decisions", p("decisions.jsonl"),
		"--alerts", p("alerts.jsonl"), "--no-store", "--ipdb", ipdataOrEmbedded(t)); err != nil {
		t.Fatalf("replay: %v\n%s", err, errOut)
	}
	out, _, err := run(t, "evaluate", "--truth", p("truth.json"), "--decisions", p("decisions.jsonl"), "--alerts", p("alerts.jsonl"), "--json")
	if err != nil {
		t.Fatalf("evaluate: %v", err)
	}
	var rep evaluate.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
	if rep.Takeovers.Takeovers == 0 {
		t.Fatal("the scenario has no takeovers")
	}
	if got := rep.Takeovers.StoppedShare; got < 0.90 {
		t.Errorf("takeovers stopped before the first order: got %.1f%%, want ≥ 90%%", 100*got)
	}
	if got := rep.Legitimate.LoginChallengeRate; got > 0.03 {
		t.Errorf("legitimate logins challenged: got %.2f%%, want ≤ 3%%", 100*got)
	}
	if got := rep.Legitimate.OrderHoldRate; got > 0.005 {
		t.Errorf("legitimate orders held: got %.2f%%, want ≤ 0.5%%", 100*got)
	}
	if rep.Legitimate.AccountsBlocked != 0 {
		t.Errorf("legitimate accounts blocked: got %d, want 0", rep.Legitimate.AccountsBlocked)
	}
	// The campaign layer: every campaign found within two minutes of its first hijacked buy, no false
	// campaign, the beneficiaries named and nobody else.
	if rep.CampaignsDetected != len(rep.Campaigns) || len(rep.Campaigns) == 0 {
		t.Errorf("campaigns detected: %d of %d", rep.CampaignsDetected, len(rep.Campaigns))
	}
	if d := rep.MedianDelaySeconds; d == nil || *d > 120 {
		t.Errorf("median campaign alert delay: %v, want ≤ 120 s", d)
	}
	if rep.FalseCampaignAlertsPerDay > 1 {
		t.Errorf("false campaign alerts: %.2f a day, want ≤ 1", rep.FalseCampaignAlertsPerDay)
	}
	if b := rep.Beneficiaries; b.Precision == nil || *b.Precision < 0.8 || b.Recall == nil || *b.Recall < 0.8 {
		t.Errorf("beneficiaries: %+v, want precision and recall ≥ 80%%", b)
	}
}

// ipdataOrEmbedded returns the shared IP data folder when present. Without it the test cannot tell
// hosting networks apart, so it fails under CI and skips elsewhere.
func ipdataOrEmbedded(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("BROKERGUARD_IPDATA"); d != "" {
		return d
	}
	d, _ := filepath.Abs("../../../shared/ipdata")
	if _, err := os.Stat(filepath.Join(d, "asn-ipv4.mmdb")); err == nil {
		return d
	}
	if os.Getenv("CI") != "" {
		t.Fatal("shared/ipdata not found beside the repository")
	}
	t.Skip("shared/ipdata not found beside the repository")
	return ""
}
