// Package evaluate scores brokerguard's decisions and alerts against the ground truth that the
// simulator (package sim) writes next to its events.
//
// The figures:
//
//   - takeovers stopped: a takeover counts as stopped when a decision on one of the attacker's events
//     at or before its first order is challenge, hold or block (a challenged or blocked login, a held or
//     blocked change, withdrawal or order). For a stolen session the attacker's events are the requests
//     on the stolen session, so the victim's own login never counts;
//   - attacker order value stopped: the yen value of attacker orders that were held, challenged or
//     blocked themselves or came after an earlier stopping decision in the same takeover;
//   - legitimate logins challenged (challenge or block) and legitimate orders held (hold or block),
//     over the truth's counts of legitimate events; legitimate accounts with any block decision;
//   - per campaign, the delay from the first execution of a hijacked buy of the target to the first
//     campaign alert naming the symbol (negative when the alert came first; missing = not detected),
//     and campaign alerts naming no campaign's symbol (false alerts);
//   - beneficiary precision and recall from the accounts named by beneficiary alerts;
//   - credential-stuffing waves with a credential_stuffing alert during the wave or the hour after.
//
// Takeover figures are broken down by attacker style (careless, careful) and attack kind
// (phishing_relay, stolen_session, credential_stuffing).
package evaluate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/sim"
)

// Report holds every figure of an evaluation. It marshals to JSON as is.
type Report struct {
	Scenario    string `json:"scenario"`
	Seed        int64  `json:"seed"`
	TradingDays int    `json:"trading_days"`

	Takeovers TakeoverStats            `json:"takeovers"`
	ByStyle   map[string]TakeoverStats `json:"by_style"`
	ByKind    map[string]TakeoverStats `json:"by_kind"`

	Legitimate LegitStats `json:"legitimate"`

	Campaigns []CampaignResult `json:"campaigns"`
	// CampaignsDetected counts campaigns with a campaign alert naming their symbol.
	CampaignsDetected int `json:"campaigns_detected"`
	// MedianDelaySeconds is the median delay over detected campaigns (nil when none was detected).
	MedianDelaySeconds *float64 `json:"median_delay_seconds"`
	// FalseCampaignAlerts are campaign alerts that name no campaign's symbol.
	FalseCampaignAlerts       int     `json:"false_campaign_alerts"`
	FalseCampaignAlertsPerDay float64 `json:"false_campaign_alerts_per_day"`

	Beneficiaries BeneficiaryStats `json:"beneficiaries"`
	Waves         []WaveResult     `json:"stuffing_waves"`

	Decisions DecisionCounts `json:"decisions"`
	Alerts    map[string]int `json:"alerts"` // by kind
}

// TakeoverStats are the takeover figures of one group.
type TakeoverStats struct {
	Takeovers int `json:"takeovers"`
	// Stopped counts takeovers stopped at or before the attacker's first order.
	Stopped      int     `json:"stopped"`
	StoppedShare float64 `json:"stopped_share"`
	// OrderYen is the value of every attacker order; StoppedYen the part stopped.
	OrderYen        float64 `json:"order_yen"`
	StoppedYen      float64 `json:"stopped_yen"`
	StoppedYenShare float64 `json:"stopped_yen_share"`
	// Detected counts takeovers with any decision above allow (review or worse) on an attacker event.
	Detected int `json:"detected"`
}

// LegitStats are the costs to legitimate customers.
type LegitStats struct {
	Logins             int64    `json:"logins"`
	LoginsChallenged   int64    `json:"logins_challenged"` // challenge or block
	LoginChallengeRate float64  `json:"login_challenge_rate"`
	Orders             int64    `json:"orders"`
	OrdersHeld         int64    `json:"orders_held"` // hold or block
	OrderHoldRate      float64  `json:"order_hold_rate"`
	Decisions          int64    `json:"decisions"`
	Reviews            int64    `json:"reviews"` // decisions sent to analysts (review)
	ReviewRate         float64  `json:"review_rate"`
	Accounts           int      `json:"accounts"`
	AccountsBlocked    int      `json:"accounts_blocked"`
	BlockedAccounts    []string `json:"blocked_accounts"` // up to 20, sorted
}

// CampaignResult is one campaign's detection.
type CampaignResult struct {
	ID               string   `json:"id"`
	Symbol           string   `json:"symbol"`
	Victims          int      `json:"victims"`
	FirstHijackedBuy string   `json:"first_hijacked_buy,omitempty"`
	Detected         bool     `json:"detected"`
	FirstAlert       string   `json:"first_alert,omitempty"`
	FirstAlertTime   string   `json:"first_alert_time,omitempty"`
	DelaySeconds     *float64 `json:"delay_seconds"`
}

// BeneficiaryStats compares beneficiary alerts with the truth. Precision is nil without any
// beneficiary alert; recall is nil when the truth has no beneficiary.
type BeneficiaryStats struct {
	Actual        int      `json:"actual"`
	Predicted     int      `json:"predicted"`
	TruePositives int      `json:"true_positives"`
	Precision     *float64 `json:"precision"`
	Recall        *float64 `json:"recall"`
}

// WaveResult is one credential-stuffing wave's detection.
type WaveResult struct {
	ID         string `json:"id"`
	Style      string `json:"style"`
	Attempts   int    `json:"attempts"`
	Detected   bool   `json:"detected"`
	FirstAlert string `json:"first_alert_time,omitempty"`
}

// DecisionCounts describe the decisions read.
type DecisionCounts struct {
	Read     int64            `json:"read"`
	ByAction map[string]int64 `json:"by_action"`
	// MissingAttacker counts attacker events that need a decision but have none (treated as allow).
	MissingAttacker int `json:"missing_attacker"`
	// MissingLegitimate is the truth's legitimate logins and orders minus those decided.
	MissingLegitimate int64 `json:"missing_legitimate"`
}

type decision struct {
	ID      string `json:"id"`
	Account string `json:"account"`
	Type    string `json:"type"`
	Action  string `json:"action"`
}

type alert struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	Symbols  []string  `json:"symbols"`
	Accounts []string  `json:"accounts"`
}

// stopping reports whether an action keeps the attacker from going on.
func stopping(a event.Action) bool { return a >= event.ActionChallenge }

// needsDecision reports whether an attacker event of the truth gets a decision.
func needsDecision(e *sim.AttackerEvent) bool {
	switch e.Type {
	case "login":
		return e.Result == "success"
	case "profile_change", "order", "withdrawal":
		return true
	}
	return false
}

// Inputs of an evaluation, as InputError names them.
const (
	InputTruth     = "truth"
	InputDecisions = "decisions"
	InputAlerts    = "alerts"
)

// InputError is an input that is not what evaluate reads: a truth file that is not the ground truth
// simulate writes, a decisions or alerts file with a line that is not a decision or an alert. The
// caller that knows the file's name sets Path.
type InputError struct {
	Input string // InputTruth, InputDecisions or InputAlerts
	Path  string // the file ("" when not known)
	Line  int64  // the line (0: the input as a whole)
	Msg   string
}

func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString(e.Input)
	if e.Path != "" {
		b.WriteString(" file ")
		b.WriteString(e.Path)
	}
	if e.Line > 0 {
		if e.Path != "" {
			b.WriteString(",")
		}
		b.WriteString(" line ")
		b.WriteString(strconv.FormatInt(e.Line, 10))
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

func inputErr(input string, line int64, format string, args ...any) *InputError {
	return &InputError{Input: input, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// What each input should be, for the messages.
const (
	wantTruth     = "want the ground truth that `brokerguard simulate --truth` writes: one JSON document with version, scenario and takeovers"
	wantDecisions = `want the decisions that replay writes: one JSON object a line with "id", "type" and "action"`
	wantAlerts    = `want the alerts that replay writes: one JSON object a line with "id", "time" and "kind"`
)

// looksLike guesses what a JSON object is from its keys, for the messages ("" when nothing fits).
func looksLike(keys map[string]json.RawMessage) string {
	has := func(ks ...string) bool {
		for _, k := range ks {
			if _, ok := keys[k]; !ok {
				return false
			}
		}
		return true
	}
	switch {
	case has("action", "id"):
		return "it looks like a decisions file"
	case has("kind", "time", "id"):
		return "it looks like an alerts file"
	case has("type", "time", "id"):
		return "it looks like an event log"
	case has("version", "scenario", "takeovers"):
		return "it looks like a ground truth file"
	case has("account", "orders"):
		return "it looks like an incidents file"
	}
	return ""
}

func withGuess(msg, guess string) string {
	if guess == "" {
		return msg
	}
	return msg + "; " + guess
}

// readTruth reads and checks the ground truth: one JSON object of a known version, with a scenario
// and the list of takeovers, and nothing after it.
func readTruth(r io.Reader) (*sim.Truth, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, inputErr(InputTruth, 0, "the file is empty; %s", wantTruth)
		}
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, inputErr(InputTruth, 0, "not JSON (%v); %s", err, wantTruth)
		}
		return nil, inputErr(InputTruth, 0, "%v", err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, inputErr(InputTruth, 0, "not a JSON object; %s", wantTruth)
	}
	var second json.RawMessage
	if err := dec.Decode(&second); !errors.Is(err, io.EOF) {
		return nil, inputErr(InputTruth, 0, "%s", withGuess("more than one JSON value (JSON Lines?); "+wantTruth, looksLike(keys)))
	}
	var version int
	if v, ok := keys["version"]; ok {
		json.Unmarshal(v, &version)
	}
	_, hasScenario := keys["scenario"]
	_, hasTakeovers := keys["takeovers"]
	if version == 0 || !hasScenario || !hasTakeovers {
		return nil, inputErr(InputTruth, 0, "%s", withGuess("not a ground truth (no version, scenario and takeovers); "+wantTruth, looksLike(keys)))
	}
	if version != 1 {
		return nil, inputErr(InputTruth, 0, "ground truth version %d: this brokerguard reads version 1", version)
	}
	var tr sim.Truth
	if err := json.Unmarshal(raw, &tr); err != nil {
		return nil, inputErr(InputTruth, 0, "not a ground truth of version 1: %v", err)
	}
	return &tr, nil
}

// Evaluate reads the truth (one JSON document), decisions and alerts (JSON Lines; either may be nil
// for none) and computes the report. An input that is not what it should be is an *InputError: a truth
// that is not simulate's ground truth, a line that is not a decision or an alert, or a decisions file
// without any decision although the truth has events that need one.
func Evaluate(truth io.Reader, decisions io.Reader, alerts io.Reader) (*Report, error) {
	if truth == nil {
		return nil, errors.New("evaluate: no truth")
	}
	tr, err := readTruth(truth)
	if err != nil {
		return nil, err
	}
	rep := &Report{Scenario: tr.Scenario, Seed: tr.Seed, TradingDays: tr.TradingDays,
		ByStyle: map[string]TakeoverStats{}, ByKind: map[string]TakeoverStats{}, Alerts: map[string]int{},
		Decisions: DecisionCounts{ByAction: map[string]int64{}}}
	for _, a := range event.Actions() {
		rep.Decisions.ByAction[a.String()] = 0
	}
	attackerIDs := map[string]bool{}
	taken := map[string]bool{}
	for _, tk := range tr.Takeovers {
		taken[tk.Account] = true
		for i := range tk.Events {
			attackerIDs[tk.Events[i].ID] = true
		}
	}
	benef := map[string]bool{}
	for _, b := range tr.Beneficiaries {
		benef[b] = true
	}
	// Decisions are streamed: only those on attacker events are kept; the rest are counted.
	decs := map[string]event.Action{}
	lc := &legitCounter{taken: taken, blocked: map[string]bool{}}
	if decisions != nil {
		seen := map[uint64]struct{}{}
		err := readLines(decisions, func(line int64, b []byte) error {
			var keys map[string]json.RawMessage
			if err := json.Unmarshal(b, &keys); err != nil {
				return inputErr(InputDecisions, line, "not a JSON object; %s", wantDecisions)
			}
			var d decision
			if err := json.Unmarshal(b, &d); err != nil {
				return inputErr(InputDecisions, line, "%v; %s", err, wantDecisions)
			}
			if _, ok := keys["action"]; !ok {
				return inputErr(InputDecisions, line, "%s", withGuess(`no "action": not a decision; `+wantDecisions, looksLike(keys)))
			}
			a, ok := event.ParseAction(d.Action)
			if !ok {
				return inputErr(InputDecisions, line, "unknown action %q", d.Action)
			}
			if d.ID == "" {
				return inputErr(InputDecisions, line, "no id")
			}
			h := fnv.New64a()
			h.Write([]byte(d.ID))
			key := h.Sum64()
			if _, dup := seen[key]; dup {
				return nil // one decision per event: the first one stands
			}
			seen[key] = struct{}{}
			rep.Decisions.Read++
			rep.Decisions.ByAction[d.Action]++
			switch {
			case attackerIDs[d.ID]:
				decs[d.ID] = a
			case !benef[d.Account]:
				lc.add(d.Type, d.Account, a)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if need := tr.Legitimate.Logins + tr.Legitimate.Orders + int64(len(attackerIDs)); rep.Decisions.Read == 0 && need > 0 {
			return nil, inputErr(InputDecisions, 0, "no decisions, but the truth's events need some (%d logins and orders of customers alone): "+
				"is it the decisions file that replay wrote for this simulation's events?", tr.Legitimate.Logins+tr.Legitimate.Orders)
		}
	}
	var als []alert
	if alerts != nil {
		err := readLines(alerts, func(line int64, b []byte) error {
			var keys map[string]json.RawMessage
			if err := json.Unmarshal(b, &keys); err != nil {
				return inputErr(InputAlerts, line, "not a JSON object; %s", wantAlerts)
			}
			var a alert
			if err := json.Unmarshal(b, &a); err != nil {
				return inputErr(InputAlerts, line, "%v; %s", err, wantAlerts)
			}
			for _, k := range []string{"id", "time", "kind"} {
				if _, ok := keys[k]; !ok {
					return inputErr(InputAlerts, line, "%s", withGuess(fmt.Sprintf("no %q: not an alert; %s", k, wantAlerts), looksLike(keys)))
				}
			}
			if a.ID == "" || a.Kind == "" {
				return inputErr(InputAlerts, line, "empty id or kind; %s", wantAlerts)
			}
			als = append(als, a)
			rep.Alerts[a.Kind]++
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.SliceStable(als, func(i, j int) bool { return als[i].Time.Before(als[j].Time) })

	rep.takeovers(tr, decs)
	rep.legitimate(tr, lc)
	if err := rep.campaigns(tr, als); err != nil {
		return nil, err
	}
	rep.beneficiaries(tr, als)
	if err := rep.waves(tr, als); err != nil {
		return nil, err
	}
	return rep, nil
}

func readLines(r io.Reader, fn func(line int64, b []byte) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var line int64
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			line++
			if t := bytes.TrimSpace(b); len(t) > 0 {
				if ferr := fn(line, t); ferr != nil {
					return ferr
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (s *TakeoverStats) finish() {
	if s.Takeovers > 0 {
		s.StoppedShare = float64(s.Stopped) / float64(s.Takeovers)
	}
	if s.OrderYen > 0 {
		s.StoppedYenShare = s.StoppedYen / s.OrderYen
	}
}

func (s *TakeoverStats) add(o TakeoverStats) {
	s.Takeovers += o.Takeovers
	s.Stopped += o.Stopped
	s.OrderYen += o.OrderYen
	s.StoppedYen += o.StoppedYen
	s.Detected += o.Detected
}

func (rep *Report) takeovers(tr *sim.Truth, decs map[string]event.Action) {
	for _, tk := range tr.Takeovers {
		one := TakeoverStats{Takeovers: 1}
		first := -1
		for i := range tk.Events {
			if tk.Events[i].Type == "order" {
				first = i
				break
			}
		}
		if first < 0 {
			first = len(tk.Events) - 1 // no order: any stop counts
		}
		halted := false
		detected := false
		for i := range tk.Events {
			e := &tk.Events[i]
			if !needsDecision(e) {
				continue
			}
			act, ok := decs[e.ID]
			if !ok {
				rep.Decisions.MissingAttacker++
			}
			if act > event.ActionAllow {
				detected = true
			}
			if e.Type == "order" {
				one.OrderYen += e.Yen
				if halted || stopping(act) {
					one.StoppedYen += e.Yen
				}
			}
			if stopping(act) {
				if !halted && i <= first {
					one.Stopped = 1
				}
				halted = true
			}
		}
		if detected {
			one.Detected = 1
		}
		rep.Takeovers.add(one)
		st := rep.ByStyle[tk.Style]
		st.add(one)
		rep.ByStyle[tk.Style] = st
		k := rep.ByKind[tk.Kind]
		k.add(one)
		rep.ByKind[tk.Kind] = k
	}
	rep.Takeovers.finish()
	for key, s := range rep.ByStyle {
		s.finish()
		rep.ByStyle[key] = s
	}
	for key, s := range rep.ByKind {
		s.finish()
		rep.ByKind[key] = s
	}
}

// legitCounter adds up the decisions on legitimate events as they stream by.
type legitCounter struct {
	logins, challenged, orders, held, decisions, reviews int64
	taken, blocked                                       map[string]bool
}

func (c *legitCounter) add(typ, account string, a event.Action) {
	c.decisions++
	if a == event.ActionReview {
		c.reviews++
	}
	switch typ {
	case "login":
		c.logins++
		if a == event.ActionChallenge || a == event.ActionBlock {
			c.challenged++
		}
	case "order":
		c.orders++
		if a == event.ActionHold || a == event.ActionBlock {
			c.held++
		}
	}
	if a == event.ActionBlock && !c.taken[account] {
		c.blocked[account] = true
	}
}

func (rep *Report) legitimate(tr *sim.Truth, c *legitCounter) {
	l := &rep.Legitimate
	l.Logins, l.Orders, l.Accounts = tr.Legitimate.Logins, tr.Legitimate.Orders, tr.Legitimate.Accounts
	l.LoginsChallenged, l.OrdersHeld, l.Decisions, l.Reviews = c.challenged, c.held, c.decisions, c.reviews
	if l.Logins > 0 {
		l.LoginChallengeRate = float64(l.LoginsChallenged) / float64(l.Logins)
	}
	if l.Orders > 0 {
		l.OrderHoldRate = float64(l.OrdersHeld) / float64(l.Orders)
	}
	if l.Decisions > 0 {
		l.ReviewRate = float64(l.Reviews) / float64(l.Decisions)
	}
	if miss := (l.Logins - c.logins) + (l.Orders - c.orders); miss > 0 {
		rep.Decisions.MissingLegitimate = miss
	}
	l.AccountsBlocked = len(c.blocked)
	l.BlockedAccounts = []string{}
	for a := range c.blocked {
		l.BlockedAccounts = append(l.BlockedAccounts, a)
	}
	sort.Strings(l.BlockedAccounts)
	if len(l.BlockedAccounts) > 20 {
		l.BlockedAccounts = l.BlockedAccounts[:20]
	}
}

func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("evaluate: truth %s: %w", field, err)
	}
	return t, nil
}

func (rep *Report) campaigns(tr *sim.Truth, als []alert) error {
	targets := map[string]bool{}
	for _, c := range tr.Campaigns {
		targets[c.Symbol] = true
	}
	// The earliest attacker event of each campaign opens its detection window.
	opens := map[string]time.Time{}
	for _, tk := range tr.Takeovers {
		if tk.Campaign == "" || tk.Start == "" {
			continue
		}
		t, err := parseTime("takeover start", tk.Start)
		if err != nil {
			return err
		}
		if o, ok := opens[tk.Campaign]; !ok || t.Before(o) {
			opens[tk.Campaign] = t
		}
	}
	var delays []float64
	rep.Campaigns = []CampaignResult{}
	for _, c := range tr.Campaigns {
		res := CampaignResult{ID: c.ID, Symbol: c.Symbol, Victims: len(c.Victims), FirstHijackedBuy: c.FirstHijackedBuyTime}
		open, err := parseTime("ramp start", c.RampStart)
		if err != nil {
			return err
		}
		if o, ok := opens[c.ID]; ok && o.Before(open) {
			open = o
		}
		for _, a := range als {
			if a.Kind != event.AlertCampaign || a.Time.Before(open) || !slices.Contains(a.Symbols, c.Symbol) {
				continue
			}
			res.Detected = true
			res.FirstAlert = a.ID
			res.FirstAlertTime = a.Time.Format(time.RFC3339Nano)
			if c.FirstHijackedBuyTime != "" {
				fb, err := parseTime("first hijacked buy", c.FirstHijackedBuyTime)
				if err != nil {
					return err
				}
				d := a.Time.Sub(fb).Seconds()
				res.DelaySeconds = &d
				delays = append(delays, d)
			}
			break
		}
		if res.Detected {
			rep.CampaignsDetected++
		}
		rep.Campaigns = append(rep.Campaigns, res)
	}
	if len(delays) > 0 {
		m := median(delays)
		rep.MedianDelaySeconds = &m
	}
	for _, a := range als {
		if a.Kind != event.AlertCampaign {
			continue
		}
		hit := false
		for _, s := range a.Symbols {
			hit = hit || targets[s]
		}
		if !hit {
			rep.FalseCampaignAlerts++
		}
	}
	if tr.TradingDays > 0 {
		rep.FalseCampaignAlertsPerDay = float64(rep.FalseCampaignAlerts) / float64(tr.TradingDays)
	}
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func (rep *Report) beneficiaries(tr *sim.Truth, als []alert) {
	actual := map[string]bool{}
	for _, b := range tr.Beneficiaries {
		actual[b] = true
	}
	pred := map[string]bool{}
	for _, a := range als {
		if a.Kind == event.AlertBeneficiary {
			for _, acc := range a.Accounts {
				pred[acc] = true
			}
		}
	}
	b := &rep.Beneficiaries
	b.Actual, b.Predicted = len(actual), len(pred)
	for acc := range pred {
		if actual[acc] {
			b.TruePositives++
		}
	}
	if b.Predicted > 0 {
		p := float64(b.TruePositives) / float64(b.Predicted)
		b.Precision = &p
	}
	if b.Actual > 0 {
		r := float64(b.TruePositives) / float64(b.Actual)
		b.Recall = &r
	}
}

func (rep *Report) waves(tr *sim.Truth, als []alert) error {
	rep.Waves = []WaveResult{}
	for _, w := range tr.StuffingWaves {
		start, err := parseTime("wave start", w.Start)
		if err != nil {
			return err
		}
		end, err := parseTime("wave end", w.End)
		if err != nil {
			return err
		}
		res := WaveResult{ID: w.ID, Style: w.Style, Attempts: w.Attempts}
		for _, a := range als {
			if a.Kind == event.AlertCredentialStuffing && !a.Time.Before(start) && !a.Time.After(end.Add(time.Hour)) {
				res.Detected = true
				res.FirstAlert = a.Time.Format(time.RFC3339Nano)
				break
			}
		}
		rep.Waves = append(rep.Waves, res)
	}
	return nil
}
