package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
)

type testFacts struct {
	ev      EventVars
	prof    ProfileVars
	signals map[string]float64
	score   int64
	asked   map[string]int
}

func (f *testFacts) EventVars() *EventVars     { f.asked["event"]++; return &f.ev }
func (f *testFacts) ProfileVars() *ProfileVars { f.asked["profile"]++; return &f.prof }
func (f *testFacts) InstrumentVars() *InstrumentVars {
	f.asked["instrument"]++
	return &InstrumentVars{}
}
func (f *testFacts) SignalVars() map[string]float64 { f.asked["signals"]++; return f.signals }
func (f *testFacts) ScoreVar() int64                { f.asked["score"]++; return f.score }

func TestDefaultPackCompiles(t *testing.T) {
	s := Default()
	if s.Len() < 5 || s.Version == "" {
		t.Fatalf("got %d rules, version %q", s.Len(), s.Version)
	}
}

func TestParseErrorsNameRuleAndKey(t *testing.T) {
	src := `version: v1
rules:
  - name: a
    when: event.nope == 1
    action: hold
    reason: {code: A1}
  - name: a
    on: [quote]
    when: "true"
    action: smite
    reason: {code: lower}
  - name: c
    when: "1 + 1"
    reason: {code: C1}
`
	_, err := Parse([]byte(src), "r.yaml")
	if err == nil {
		t.Fatal("got no error")
	}
	for _, want := range []string{
		"r.yaml: rules[0] (a): when:", "nope",
		"rules[1] (a): name: duplicate",
		`rules[1] (a): action: "smite"`,
		`rules[1] (a): reason.code: "lower"`,
		`rules[1] (a): on: "quote"`,
		"rules[2] (c): a rule must set action or score",
		"rules[2] (c): when: evaluates to int, want bool",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := Parse([]byte("rules: []\n"), "r.yaml"); err == nil || !strings.Contains(err.Error(), "version: required") {
		t.Errorf("got %v, want version required", err)
	}
	if _, err := Parse([]byte("version: x\nrulez: []\n"), "r.yaml"); err == nil || !strings.Contains(err.Error(), "rulez") {
		t.Errorf("got %v, want the unknown key named", err)
	}
}

func TestEvalHitsOnlyItsTypesAndAsksLazily(t *testing.T) {
	s, err := Parse([]byte(`version: v1
rules:
  - name: big-buy
    on: [order]
    when: event.side == "buy" && event.order_value > 1e6 && "NEW_DEVICE" in signals
    action: hold
    score: 50
    reason: {code: BIG_BUY, detail_expr: '"buy of " + event.symbol'}
  - name: locked
    when: profile.locked
    action: block
    reason: {code: LOCKED}
`), "r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := &testFacts{ev: EventVars{Side: "buy", OrderValue: 2e6, Symbol: "7992", Time: time.Now()},
		signals: map[string]float64{"NEW_DEVICE": 1}, asked: map[string]int{}}
	hits := s.Eval(event.TypeOrder, f, nil)
	if len(hits) != 1 || hits[0].Rule != "big-buy" || hits[0].MinAction != event.ActionHold || hits[0].AddScore != 50 ||
		hits[0].Reason.Detail != "buy of 7992" {
		t.Fatalf("got %+v", hits)
	}
	if f.asked["event"] != 1 || f.asked["signals"] != 1 || f.asked["profile"] != 1 || f.asked["instrument"] != 0 {
		t.Errorf("variables asked %v, want each needed one once and instrument never", f.asked)
	}
	f.ev.Side = "sell"
	if hits := s.Eval(event.TypeOrder, f, nil); len(hits) != 0 {
		t.Errorf("a sell hit: %+v", hits)
	}
	if hits := s.Eval(event.TypeLogin, f, nil); len(hits) != 0 {
		t.Errorf("an order rule ran on a login: %+v", hits)
	}
	st := s.Stats()
	if st[0].Evals != 2 || st[0].Hits != 1 {
		t.Errorf("stats %+v, want 2 evaluations and 1 hit of big-buy", st[0])
	}
}
