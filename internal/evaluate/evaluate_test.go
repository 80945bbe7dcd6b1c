package evaluate

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func open(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func handReport(t *testing.T) *Report {
	t.Helper()
	rep, err := Evaluate(open(t, "truth.json"), open(t, "decisions.jsonl"), open(t, "alerts.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// The expected figures below are worked out by hand from testdata (see the comments).
func TestTakeoverFigures(t *testing.T) {
	rep := handReport(t)
	// A1: login challenged before its first order: stopped; both orders after it count as stopped.
	// A2: first order reviewed (not stopping), second held: not stopped; 500k + 300k of 1m stopped.
	// A3: email change held before its first order: stopped; its order (no decision) counts as stopped.
	// A4: withdrawal blocked after its first order: not stopped; nothing of its 1m stopped.
	cases := []struct {
		name            string
		got             TakeoverStats
		n, stopped      int
		yen, stoppedYen float64
		detected        int
	}{
		{"all", rep.Takeovers, 4, 2, 2_450_000, 1_250_000, 4},
		{"careless", rep.ByStyle["careless"], 2, 1, 1_400_000, 400_000, 2},
		{"careful", rep.ByStyle["careful"], 2, 1, 1_050_000, 850_000, 2},
		{"phishing_relay", rep.ByKind["phishing_relay"], 2, 1, 1_400_000, 1_200_000, 2},
		{"stolen_session", rep.ByKind["stolen_session"], 1, 1, 50_000, 50_000, 1},
		{"credential_stuffing", rep.ByKind["credential_stuffing"], 1, 0, 1_000_000, 0, 1},
	}
	for _, c := range cases {
		g := c.got
		if g.Takeovers != c.n || g.Stopped != c.stopped || g.OrderYen != c.yen || g.StoppedYen != c.stoppedYen || g.Detected != c.detected {
			t.Errorf("%s: got %+v, want %d takeovers, %d stopped, %g of %g yen, %d detected", c.name, g, c.n, c.stopped,
				c.stoppedYen, c.yen, c.detected)
		}
		if !near(g.StoppedShare, float64(c.stopped)/float64(c.n)) || !near(g.StoppedYenShare, c.stoppedYen/c.yen) {
			t.Errorf("%s: shares %g and %g", c.name, g.StoppedShare, g.StoppedYenShare)
		}
	}
	if rep.Decisions.MissingAttacker != 1 { // e31
		t.Errorf("missing attacker decisions = %d, want 1", rep.Decisions.MissingAttacker)
	}
}

func TestLegitimateFigures(t *testing.T) {
	rep := handReport(t)
	l := rep.Legitimate
	// Logins: e100 challenge, e101 block, e301 block (the victim's own later login) of 10 in the truth.
	if l.Logins != 10 || l.LoginsChallenged != 3 || !near(l.LoginChallengeRate, 0.3) {
		t.Errorf("logins: got %d of %d (%g), want 3 of 10", l.LoginsChallenged, l.Logins, l.LoginChallengeRate)
	}
	// Orders: e200 hold, e201 block of 20; the beneficiary's blocked order e300 does not count.
	if l.Orders != 20 || l.OrdersHeld != 2 || !near(l.OrderHoldRate, 0.1) {
		t.Errorf("orders: got %d of %d (%g), want 2 of 20", l.OrdersHeld, l.Orders, l.OrderHoldRate)
	}
	// Blocked: L2 (login), L1 (order); A1 is a victim, B1 a beneficiary.
	if l.Accounts != 5 || l.AccountsBlocked != 2 || strings.Join(l.BlockedAccounts, ",") != "L1,L2" {
		t.Errorf("blocked: got %d of %d %v, want L1,L2 of 5", l.AccountsBlocked, l.Accounts, l.BlockedAccounts)
	}
	// 9 login + 20 order decisions are legitimate; two of them are reviews.
	if l.Decisions != 29 || l.Reviews != 2 {
		t.Errorf("reviews: got %d of %d, want 2 of 29", l.Reviews, l.Decisions)
	}
	if rep.Decisions.MissingLegitimate != 1 {
		t.Errorf("missing legitimate = %d, want 1", rep.Decisions.MissingLegitimate)
	}
	// 44 lines: one blank, one repeated id.
	if rep.Decisions.Read != 42 || rep.Decisions.ByAction["block"] != 5 || rep.Decisions.ByAction["challenge"] != 2 {
		t.Errorf("decisions read %d by action %v, want 42 with 5 blocks and 2 challenges", rep.Decisions.Read, rep.Decisions.ByAction)
	}
}

func TestCampaignFigures(t *testing.T) {
	rep := handReport(t)
	if len(rep.Campaigns) != 2 || rep.CampaignsDetected != 1 {
		t.Fatalf("campaigns %+v, want 2 with 1 detected", rep.Campaigns)
	}
	c1, c2 := rep.Campaigns[0], rep.Campaigns[1]
	// al-1 is before the campaign's first attacker event; al-2 at 09:41:30 is 90 s after the first buy.
	if !c1.Detected || c1.FirstAlert != "al-2" || c1.DelaySeconds == nil || *c1.DelaySeconds != 90 {
		t.Errorf("c1 = %+v, want detected by al-2 after 90 s", c1)
	}
	if c2.Detected || c2.DelaySeconds != nil {
		t.Errorf("c2 = %+v, want not detected", c2)
	}
	if rep.MedianDelaySeconds == nil || *rep.MedianDelaySeconds != 90 {
		t.Errorf("median delay = %v, want 90", rep.MedianDelaySeconds)
	}
	// al-4 and al-5 name no campaign's symbol: 2 false alerts over 2 trading days.
	if rep.FalseCampaignAlerts != 2 || rep.FalseCampaignAlertsPerDay != 1 {
		t.Errorf("false campaign alerts = %d (%g a day), want 2 (1 a day)", rep.FalseCampaignAlerts, rep.FalseCampaignAlertsPerDay)
	}
	// Beneficiary alerts name B1 and L4: precision 1/2, recall 1/2.
	b := rep.Beneficiaries
	if b.Actual != 2 || b.Predicted != 2 || b.TruePositives != 1 || *b.Precision != 0.5 || *b.Recall != 0.5 {
		t.Errorf("beneficiaries = %+v", b)
	}
	// w1 has al-8 inside it; al-9 comes 90 minutes after w2 ended.
	if len(rep.Waves) != 2 || !rep.Waves[0].Detected || rep.Waves[1].Detected {
		t.Errorf("waves = %+v, want w1 detected, w2 not", rep.Waves)
	}
	if rep.Alerts["campaign"] != 5 || rep.Alerts["beneficiary"] != 2 || rep.Alerts["account_takeover"] != 1 {
		t.Errorf("alerts by kind = %v", rep.Alerts)
	}
}

func TestNoDecisionsNoAlerts(t *testing.T) {
	rep, err := Evaluate(open(t, "truth.json"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Takeovers.Stopped != 0 || rep.Takeovers.StoppedYen != 0 || rep.CampaignsDetected != 0 {
		t.Errorf("without decisions nothing is stopped: %+v", rep.Takeovers)
	}
	if rep.Beneficiaries.Precision != nil || rep.MedianDelaySeconds != nil {
		t.Error("undefined figures must be nil")
	}
	// 13 attacker events need a decision (the failed login e39 does not); 10 logins and 20 orders.
	if rep.Decisions.MissingAttacker != 13 || rep.Decisions.MissingLegitimate != 30 {
		t.Errorf("missing = %d attacker, %d legitimate; want 13 and 30", rep.Decisions.MissingAttacker, rep.Decisions.MissingLegitimate)
	}
}

func TestBadInput(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	truth, decisions, alerts := read("truth.json"), read("decisions.jsonl"), read("alerts.jsonl")
	for _, c := range []struct {
		name                     string
		truth, decisions, alerts string
		input                    string
		line                     int64
		want                     []string
	}{
		{"empty truth", "", decisions, alerts, InputTruth, 0, []string{"the file is empty", "brokerguard simulate --truth"}},
		{"blank truth", " \n\n", decisions, alerts, InputTruth, 0, []string{"the file is empty"}},
		{"truth cut short", "{", decisions, alerts, InputTruth, 0, []string{"not JSON"}},
		{"truth not JSON", "hello", decisions, alerts, InputTruth, 0, []string{"not JSON", "want the ground truth"}},
		{"decisions as truth", decisions, decisions, alerts, InputTruth, 0, []string{"more than one JSON value", "looks like a decisions file"}},
		{"one decision as truth", `{"id":"e1","account":"A1","type":"login","action":"allow","score":0,"reasons":[]}`, decisions, alerts,
			InputTruth, 0, []string{"not a ground truth", "looks like a decisions file"}},
		{"random JSON as truth", `{"hello":"world"}`, decisions, alerts, InputTruth, 0, []string{"not a ground truth (no version, scenario and takeovers)"}},
		{"array as truth", `[1,2]`, decisions, alerts, InputTruth, 0, []string{"not a JSON object"}},
		{"later version", strings.Replace(truth, `"version": 1`, `"version": 2`, 1), decisions, alerts, InputTruth, 0, []string{"version 2", "reads version 1"}},
		{"two truths", truth + truth, decisions, alerts, InputTruth, 0, []string{"more than one JSON value", "looks like a ground truth file"}},

		{"truth as decisions", truth, truth, alerts, InputDecisions, 1, []string{"not a JSON object", `"action"`}},
		{"alerts as decisions", truth, alerts, alerts, InputDecisions, 1, []string{`no "action": not a decision`, "looks like an alerts file"}},
		{"random JSON as decisions", truth, `{"a":1}`, alerts, InputDecisions, 1, []string{`no "action"`}},
		{"empty decisions", truth, "", alerts, InputDecisions, 0, []string{"no decisions", "30 logins and orders"}},
		{"bad decision", truth, `{"id":"e1","action":"allow"}` + "\n" + `{"id":`, alerts, InputDecisions, 2, []string{"not a JSON object"}},
		{"unknown action", truth, `{"id":"e1","action":"maybe"}`, alerts, InputDecisions, 1, []string{`unknown action "maybe"`}},
		{"no id", truth, `{"action":"allow"}`, alerts, InputDecisions, 1, []string{"no id"}},

		{"decisions as alerts", truth, decisions, decisions, InputAlerts, 1, []string{`no "time": not an alert`, "looks like a decisions file"}},
		{"truth as alerts", truth, decisions, truth, InputAlerts, 1, []string{"not a JSON object"}},
		{"random JSON as alerts", truth, decisions, "\n" + `{"a":1}`, InputAlerts, 2, []string{`no "id"`, "want the alerts that replay writes"}},
		{"bad alert time", truth, decisions, `{"id":"x","time":"yesterday","kind":"campaign"}`, InputAlerts, 1, []string{"yesterday"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Evaluate(strings.NewReader(c.truth), strings.NewReader(c.decisions), strings.NewReader(c.alerts))
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want an InputError", err)
			}
			if ie.Input != c.input || ie.Line != c.line {
				t.Errorf("got input %s line %d, want %s line %d (%v)", ie.Input, ie.Line, c.input, c.line, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %v, want an error containing %q", err, w)
				}
			}
		})
	}
	// An empty alerts file is a run without alerts; the caller names the file.
	if _, err := Evaluate(strings.NewReader(truth), strings.NewReader(decisions), strings.NewReader("")); err != nil {
		t.Errorf("no alerts: got %v, want none", err)
	}
	e := &InputError{Input: InputDecisions, Path: "d.jsonl", Line: 3, Msg: "no id"}
	if got, want := e.Error(), "decisions file d.jsonl, line 3: no id"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestReportOutputs(t *testing.T) {
	rep := handReport(t)
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"takeovers", "by_style", "by_kind", "legitimate", "campaigns", "beneficiaries", "stuffing_waves"} {
		if _, ok := back[k]; !ok {
			t.Errorf("JSON report has no %q", k)
		}
	}
	var out bytes.Buffer
	if err := rep.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"2 of 4 (50.0%)",       // takeovers stopped
		"1.25 m of 2.45 m yen", // no: written below as m values
		"3 of 10 (30.0%)",      // logins challenged
		"2 of 20 (10.0%)",      // orders held
		"1 of 2 detected",      // campaigns
		"precision 50.0%",      // beneficiaries
		"Credential-stuffing waves: 1 of 2 detected",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
}
