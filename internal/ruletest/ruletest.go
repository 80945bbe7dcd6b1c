// Package ruletest runs detection tests written as data: small timelines of events in the contract with
// the decisions and alerts they must produce. Analysts use it through `brokerguard rules test` for their
// own rules; brokerguard's own tests of the shipped rules and model use the same files.
package ruletest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/links"
	"github.com/brokerguard/brokerguard/internal/rules"
)

// File is a test file.
type File struct {
	// Rules names the rules file under test, relative to the test file; empty for the caller's choice.
	Rules string `yaml:"rules"`
	Tests []Test `yaml:"tests"`
}

// Test is one timeline with its expectations.
type Test struct {
	Name string `yaml:"name"`
	// NeedsIPDB marks tests whose signals need IP intelligence; they are skipped without it.
	NeedsIPDB bool     `yaml:"needs_ipdb"`
	Events    string   `yaml:"events"` // JSON Lines
	Expect    []Expect `yaml:"expect"`
	Alerts    []Alert  `yaml:"alerts"`
	// NoAlerts requires that the timeline raises no alert at all.
	NoAlerts bool `yaml:"no_alerts"`
}

// Expect is what the decision on one event must be. Empty fields are not checked.
type Expect struct {
	ID         string   `yaml:"id"`
	Action     string   `yaml:"action"`
	AtLeast    string   `yaml:"at_least"`
	AtMost     string   `yaml:"at_most"`
	MinScore   *int     `yaml:"min_score"`
	MaxScore   *int     `yaml:"max_score"`
	Reasons    []string `yaml:"reasons"`
	NotReasons []string `yaml:"not_reasons"`
}

// Alert is an alert that must be raised.
type Alert struct {
	Kind     string   `yaml:"kind"`
	Accounts []string `yaml:"accounts"`
	Symbols  []string `yaml:"symbols"`
}

// Options say what the tests run with.
type Options struct {
	Rules *rules.Set // nil: the file's rules, else the shipped pack
	Model detect.Scorer
	IP    detect.IPIntel // nil: tests that need it are skipped
	HasIP bool
}

// Result is the outcome of one test.
type Result struct {
	Name     string
	Skipped  string
	Failures []string
}

// Passed reports whether the test passed (a skipped test did not fail).
func (r *Result) Passed() bool { return len(r.Failures) == 0 }

// Load reads a test file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Tests) == 0 {
		return nil, fmt.Errorf("%s: tests: none", path)
	}
	for i, t := range f.Tests {
		if t.Name == "" {
			return nil, fmt.Errorf("%s: tests[%d].name: required", path, i)
		}
		for j, e := range t.Expect {
			if e.ID == "" {
				return nil, fmt.Errorf("%s: test %q: expect[%d].id: required", path, t.Name, j)
			}
			for _, a := range []string{e.Action, e.AtLeast, e.AtMost} {
				if _, ok := event.ParseAction(a); a != "" && !ok {
					return nil, fmt.Errorf("%s: test %q: expect[%d]: unknown action %q", path, t.Name, j, a)
				}
			}
		}
	}
	if f.Rules != "" && !filepath.IsAbs(f.Rules) {
		f.Rules = filepath.Join(filepath.Dir(path), f.Rules)
	}
	return &f, nil
}

// Run runs every test of f.
func Run(f *File, o Options) ([]Result, error) {
	rs := o.Rules
	if rs == nil && f.Rules != "" {
		s, err := rules.Load(f.Rules)
		if err != nil {
			return nil, err
		}
		rs = s
	}
	out := make([]Result, 0, len(f.Tests))
	for _, t := range f.Tests {
		out = append(out, runOne(&t, rs, o))
	}
	return out, nil
}

func runOne(t *Test, rs *rules.Set, o Options) Result {
	res := Result{Name: t.Name}
	if t.NeedsIPDB && !o.HasIP {
		res.Skipped = "needs IP intelligence (--ipdb)"
		return res
	}
	eng, err := detect.New(detect.Options{Rules: rs, Scorer: o.Model, IP: o.IP, Links: links.New(24 * 3600)})
	if err != nil {
		res.Failures = append(res.Failures, err.Error())
		return res
	}
	decisions := map[string]event.Decision{}
	var alerts []event.Alert
	rd, _ := event.NewReader(strings.NewReader(t.Events))
	for {
		line, n, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			res.Failures = append(res.Failures, err.Error())
			return res
		}
		ev, err := event.Decode(append([]byte(nil), line...))
		if err != nil {
			res.Failures = append(res.Failures, fmt.Sprintf("events line %d: %v", n, err))
			return res
		}
		outc := eng.Process(&ev)
		if outc.Decided {
			decisions[ev.ID] = outc.Decision
		}
		alerts = append(alerts, outc.Alerts...)
	}
	for _, e := range t.Expect {
		d, ok := decisions[e.ID]
		if !ok {
			res.Failures = append(res.Failures, fmt.Sprintf("%s: no decision (only successful logins, profile changes, orders and withdrawals get one)", e.ID))
			continue
		}
		res.Failures = append(res.Failures, check(&e, &d)...)
	}
	for _, want := range t.Alerts {
		if !slices.ContainsFunc(alerts, func(a event.Alert) bool { return matches(&want, &a) }) {
			res.Failures = append(res.Failures, fmt.Sprintf("no %s alert naming accounts %v symbols %v (got %d alerts)", want.Kind, want.Accounts, want.Symbols, len(alerts)))
		}
	}
	if t.NoAlerts && len(alerts) > 0 {
		res.Failures = append(res.Failures, fmt.Sprintf("want no alerts, got %d (first: %s %v)", len(alerts), alerts[0].Kind, alerts[0].Accounts))
	}
	return res
}

func check(e *Expect, d *event.Decision) []string {
	var fails []string
	got := func() string {
		codes := make([]string, len(d.Reasons))
		for i, r := range d.Reasons {
			codes[i] = r.Code
		}
		return fmt.Sprintf("got %s score %d reasons %v", d.Action, d.Score, codes)
	}
	if e.Action != "" {
		if a, _ := event.ParseAction(e.Action); d.Action != a {
			fails = append(fails, fmt.Sprintf("%s: want action %s, %s", e.ID, e.Action, got()))
		}
	}
	if e.AtLeast != "" {
		if a, _ := event.ParseAction(e.AtLeast); d.Action < a {
			fails = append(fails, fmt.Sprintf("%s: want at least %s, %s", e.ID, e.AtLeast, got()))
		}
	}
	if e.AtMost != "" {
		if a, _ := event.ParseAction(e.AtMost); d.Action > a {
			fails = append(fails, fmt.Sprintf("%s: want at most %s, %s", e.ID, e.AtMost, got()))
		}
	}
	if e.MinScore != nil && d.Score < *e.MinScore {
		fails = append(fails, fmt.Sprintf("%s: want score ≥ %d, %s", e.ID, *e.MinScore, got()))
	}
	if e.MaxScore != nil && d.Score > *e.MaxScore {
		fails = append(fails, fmt.Sprintf("%s: want score ≤ %d, %s", e.ID, *e.MaxScore, got()))
	}
	for _, c := range e.Reasons {
		if !slices.ContainsFunc(d.Reasons, func(r event.Reason) bool { return r.Code == c }) {
			fails = append(fails, fmt.Sprintf("%s: want reason %s, %s", e.ID, c, got()))
		}
	}
	for _, c := range e.NotReasons {
		if slices.ContainsFunc(d.Reasons, func(r event.Reason) bool { return r.Code == c }) {
			fails = append(fails, fmt.Sprintf("%s: want no reason %s, %s", e.ID, c, got()))
		}
	}
	return fails
}

func matches(want *Alert, a *event.Alert) bool {
	if want.Kind != a.Kind {
		return false
	}
	for _, acct := range want.Accounts {
		if !slices.Contains(a.Accounts, acct) {
			return false
		}
	}
	for _, s := range want.Symbols {
		if !slices.Contains(a.Symbols, s) {
			return false
		}
	}
	return true
}
