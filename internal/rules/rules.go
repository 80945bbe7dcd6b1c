// Package rules runs a firm's policies, written as CEL expressions over the event, the account's profile,
// the instrument and the signals, on top of brokerguard's score. A rule set is versioned data: it is
// parsed, validated and compiled once when loaded, never edited in place, and can run in shadow beside
// the live set (its decisions recorded, never acted on). Each rule counts its hits, errors and time.
package rules

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
	"go.yaml.in/yaml/v3"

	"github.com/brokerguard/brokerguard/internal/event"
)

// Facts supplies the variables of a rule on demand; each is asked for at most once per evaluation.
type Facts interface {
	EventVars() *EventVars
	ProfileVars() *ProfileVars
	InstrumentVars() *InstrumentVars
	SignalVars() map[string]float64
	ScoreVar() int64
}

// EventVars is the `event` variable of a rule: the event with what brokerguard derived from it.
type EventVars struct {
	ID          string    `cel:"id"`
	Type        string    `cel:"type"`
	Account     string    `cel:"account"`
	Time        time.Time `cel:"time"`
	IP          string    `cel:"ip"`
	Device      string    `cel:"device"`
	Channel     string    `cel:"channel"`
	Method      string    `cel:"method"`
	Result      string    `cel:"result"`
	Field       string    `cel:"field"`
	Value       string    `cel:"value"`
	Symbol      string    `cel:"symbol"`
	Side        string    `cel:"side"`
	Quantity    int64     `cel:"quantity"`
	Price       float64   `cel:"price"` // 0 for a market order
	OrderValue  float64   `cel:"order_value"`
	AccountType string    `cel:"account_type"`
	Amount      float64   `cel:"amount"`
	Destination string    `cel:"destination"`
	Country     string    `cel:"country"`
	ASN         int64     `cel:"asn"`
	Hosting     bool      `cel:"hosting"`
	VPN         bool      `cel:"vpn"`
}

// ProfileVars is the `profile` variable: the account as brokerguard knew it before the event.
type ProfileVars struct {
	MFA               string  `cel:"mfa"`
	Notifications     bool    `cel:"notifications"`
	MarginEnabled     bool    `cel:"margin_enabled"`
	MarginUsed        bool    `cel:"margin_used"`
	AccountAgeDays    int64   `cel:"account_age_days"` // -1 when unknown
	Logins            int64   `cel:"logins"`
	Orders            int64   `cel:"orders"`
	HoldingsValue     float64 `cel:"holdings_value"`
	Cash              float64 `cel:"cash"`
	KnownDevices      int64   `cel:"known_devices"`
	DaysSinceActivity int64   `cel:"days_since_activity"` // -1 when unknown
	Locked            bool    `cel:"locked"`
}

// InstrumentVars is the `instrument` variable: the order's symbol in the market (zeros when unknown).
type InstrumentVars struct {
	Symbol         string  `cel:"symbol"`
	Market         string  `cel:"market"`
	Price          float64 `cel:"price"`
	MarketCap      float64 `cel:"market_cap"`
	ADVValue       float64 `cel:"adv_value"`
	DayVolumeRatio float64 `cel:"day_volume_ratio"`
	DayChange      float64 `cel:"day_change"`
}

// Hit is what one matching rule asks for.
type Hit struct {
	Rule      string
	MinAction event.Action
	HasAction bool
	AddScore  int
	Reason    event.Reason
}

// Stats are one rule's counters since load.
type Stats struct {
	Rule   string
	Evals  int64
	Hits   int64
	Errors int64
	Nanos  int64
}

// Set is a compiled, immutable rule set.
type Set struct {
	Version string
	Source  string
	// Clock, when set, times each rule's evaluation (Stats' Nanos; brokerguard_rule_seconds_total);
	// nil leaves the time unmeasured. The rules themselves never read it.
	Clock  func() time.Time
	rules  []*rule
	byType [event.TypeFraudReport + 1][]*rule
}

type rule struct {
	name      string
	action    event.Action
	hasAction bool
	score     int
	reason    event.Reason
	when      cel.Program
	detail    cel.Program // optional dynamic detail
	evals     atomic.Int64
	hits      atomic.Int64
	errs      atomic.Int64
	nanos     atomic.Int64
}

// file is the YAML layout of a rules file.
type file struct {
	Version string     `yaml:"version"`
	Rules   []ruleFile `yaml:"rules"`
}

type ruleFile struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	On          []string `yaml:"on"`
	When        string   `yaml:"when"`
	Action      string   `yaml:"action"`
	Score       int      `yaml:"score"`
	Reason      struct {
		Code       string `yaml:"code"`
		Detail     string `yaml:"detail"`
		DetailExpr string `yaml:"detail_expr"`
	} `yaml:"reason"`
}

var codeRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]{1,63}$`)

//go:embed default.yaml
var defaultRules []byte

// Default returns the shipped rule pack.
func Default() *Set {
	s, err := Parse(defaultRules, "default rules (embedded)")
	if err != nil {
		panic(err) // the embedded pack is tested
	}
	return s
}

// DefaultSource returns the text of the shipped rule pack.
func DefaultSource() []byte { return append([]byte(nil), defaultRules...) }

// Load reads and compiles a rules file.
func Load(path string) (*Set, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	return Parse(b, path)
}

var env = mustEnv()

func mustEnv() *cel.Env {
	e, err := cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[EventVars](), reflect.TypeFor[ProfileVars](), reflect.TypeFor[InstrumentVars](), ext.ParseStructTags(true)),
		cel.Variable("event", cel.ObjectType("rules.EventVars")),
		cel.Variable("profile", cel.ObjectType("rules.ProfileVars")),
		cel.Variable("instrument", cel.ObjectType("rules.InstrumentVars")),
		cel.Variable("signals", cel.MapType(cel.StringType, cel.DoubleType)),
		cel.Variable("score", cel.IntType),
	)
	if err != nil {
		panic(err)
	}
	return e
}

// Parse validates and compiles a rules file's contents; name is used in errors. Every problem found is
// reported, each naming the rule and the key.
func Parse(b []byte, name string) (*Set, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(name+": "+format, args...)) }
	if strings.TrimSpace(f.Version) == "" {
		fail("version: required (rule sets are versioned; give each published set a new version)")
	}
	s := &Set{Version: f.Version, Source: name}
	seen := map[string]bool{}
	for i, rf := range f.Rules {
		where := fmt.Sprintf("rules[%d]", i)
		if rf.Name != "" {
			where += " (" + rf.Name + ")"
		}
		if rf.Name == "" {
			fail("%s: name: required", where)
		} else if seen[rf.Name] {
			fail("%s: name: duplicate", where)
		}
		seen[rf.Name] = true
		r := &rule{name: rf.Name, score: rf.Score}
		if rf.Action != "" {
			a, ok := event.ParseAction(rf.Action)
			if !ok {
				fail("%s: action: %q, want allow | review | challenge | hold | block", where, rf.Action)
			}
			r.action, r.hasAction = a, true
		}
		if rf.Score < -1000 || rf.Score > 1000 {
			fail("%s: score: %d, want -1000..1000", where, rf.Score)
		}
		if !codeRE.MatchString(rf.Reason.Code) {
			fail("%s: reason.code: %q, want an upper-case code such as LIQUIDATE_THEN_BUY_ILLIQUID", where, rf.Reason.Code)
		}
		if rf.Reason.Detail != "" && rf.Reason.DetailExpr != "" {
			fail("%s: reason: give detail or detail_expr, not both", where)
		}
		if !r.hasAction && rf.Score == 0 {
			fail("%s: a rule must set action or score (or both)", where)
		}
		r.reason = event.Reason{Code: rf.Reason.Code, Detail: rf.Reason.Detail}
		types := rf.On
		if len(types) == 0 {
			types = []string{"login", "profile_change", "order", "withdrawal"}
		}
		for _, t := range types {
			typ := event.ParseType(t)
			if typ == event.TypeUnknown || !decided(typ) {
				fail("%s: on: %q, want login | profile_change | order | withdrawal", where, t)
				continue
			}
			s.byType[typ] = append(s.byType[typ], r)
		}
		if strings.TrimSpace(rf.When) == "" {
			fail("%s: when: required", where)
		} else if prg, err := compile(rf.When, cel.BoolType); err != nil {
			fail("%s: when: %v", where, err)
		} else {
			r.when = prg
		}
		if rf.Reason.DetailExpr != "" {
			if prg, err := compile(rf.Reason.DetailExpr, cel.StringType); err != nil {
				fail("%s: reason.detail_expr: %v", where, err)
			} else {
				r.detail = prg
			}
		}
		s.rules = append(s.rules, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

func decided(t event.Type) bool {
	return t == event.TypeLogin || t == event.TypeProfileChange || t == event.TypeOrder || t == event.TypeWithdrawal
}

func compile(expr string, want *cel.Type) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if !ast.OutputType().IsExactType(want) && !ast.OutputType().IsExactType(cel.DynType) {
		return nil, fmt.Errorf("evaluates to %s, want %s", ast.OutputType(), want)
	}
	return env.Program(ast, cel.EvalOptions(cel.OptOptimize))
}

// Len returns the number of rules.
func (s *Set) Len() int { return len(s.rules) }

// activation resolves variables lazily from Facts, asking for each at most once.
type activation struct {
	f         Facts
	ev        *EventVars
	prof      *ProfileVars
	ins       *InstrumentVars
	sig       map[string]float64
	haveScore bool
	score     int64
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "event":
		if a.ev == nil {
			a.ev = a.f.EventVars()
		}
		return a.ev, true
	case "profile":
		if a.prof == nil {
			a.prof = a.f.ProfileVars()
		}
		return a.prof, true
	case "instrument":
		if a.ins == nil {
			a.ins = a.f.InstrumentVars()
		}
		return a.ins, true
	case "signals":
		if a.sig == nil {
			a.sig = a.f.SignalVars()
		}
		return a.sig, true
	case "score":
		if !a.haveScore {
			a.score, a.haveScore = a.f.ScoreVar(), true
		}
		return a.score, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// Eval runs the rules that apply to events of type t and appends the hits to hits. A rule whose
// expression fails (a missing key, a type error) counts an error and does not hit.
func (s *Set) Eval(t event.Type, f Facts, hits []Hit) []Hit {
	if s == nil || int(t) >= len(s.byType) {
		return hits
	}
	rs := s.byType[t]
	if len(rs) == 0 {
		return hits
	}
	act := &activation{f: f}
	for _, r := range rs {
		var start time.Time
		if s.Clock != nil {
			start = s.Clock()
		}
		out, _, err := r.when.Eval(act)
		r.evals.Add(1)
		if err != nil {
			r.errs.Add(1)
			s.took(r, start)
			continue
		}
		if out != types.True {
			s.took(r, start)
			continue
		}
		r.hits.Add(1)
		h := Hit{Rule: r.name, MinAction: r.action, HasAction: r.hasAction, AddScore: r.score, Reason: r.reason}
		if r.detail != nil {
			if d, _, err := r.detail.Eval(act); err == nil {
				if str, ok := d.Value().(string); ok {
					h.Reason.Detail = str
				}
			} else {
				r.errs.Add(1)
			}
		}
		s.took(r, start)
		hits = append(hits, h)
	}
	return hits
}

// took adds the time since start to the rule's evaluation time, when the set is timed.
func (s *Set) took(r *rule, start time.Time) {
	if s.Clock != nil {
		r.nanos.Add(int64(s.Clock().Sub(start)))
	}
}

// Stats returns every rule's counters.
func (s *Set) Stats() []Stats {
	if s == nil {
		return nil
	}
	out := make([]Stats, 0, len(s.rules))
	for _, r := range s.rules {
		out = append(out, Stats{Rule: r.name, Evals: r.evals.Load(), Hits: r.hits.Load(), Errors: r.errs.Load(), Nanos: r.nanos.Load()})
	}
	return out
}
