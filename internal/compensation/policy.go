package compensation

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/brokerguard/brokerguard/internal/money"
)

// Base policies: how the policy amount follows from the valuation (see Value).
const (
	// BaseRestore restores the account to its state before the incident: max(0, restore loss).
	BaseRestore = "restore"
	// BaseHalfPurchased pays 50% of the loss on the stocks the attacker bought, refunds every
	// commission and adds 10,000 yen; forced sales of holdings are not compensated.
	BaseHalfPurchased = "half_purchased"
	// BaseHalfTotal pays 50% of the whole loss, forced sales included.
	BaseHalfTotal = "half_total"
)

var baseWording = map[string]string{
	BaseRestore:       "the account is restored to its state before the incident",
	BaseHalfPurchased: "50% of the loss on the stocks the attacker bought, all commissions refunded and 10,000 yen added; forced sales of holdings are not compensated",
	BaseHalfTotal:     "50% of the whole loss, forced sales included",
}

// Sides of a case factor.
const (
	SideCustomer = "customer"
	SideFirm     = "firm"
)

// Factor keys that policy files commonly use; a policy may define others.
const (
	FactorCredentialsShared = "credentials_shared" // customer: gave the password or codes to a third party
	FactorReuseAdmitted     = "reuse_admitted"     // customer: admitted reusing the password elsewhere
	FactorMFANotUsed        = "mfa_not_used"       // customer: passkey or MFA offered and not used
	FactorNoticesIgnored    = "notices_ignored"    // customer: ignored the firm's login or trade notices
	FactorMFANotOffered     = "mfa_not_offered"    // firm: no phishing-resistant MFA offered at the time
	FactorNoNoticeSent      = "no_notice_sent"     // firm: sent no notice of the login or trades
	FactorNoDetection       = "no_detection"       // firm: no detection of unusual logins or orders in place
)

// Policy is a firm's compensation policy: a base rule and the case factors that adjust it.
type Policy struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Base        string   `json:"base"` // BaseRestore, BaseHalfPurchased or BaseHalfTotal
	Factors     []Factor `json:"factors"`
}

// Factor is one circumstance of a case that adjusts the policy amount. Exactly one of Points and
// Multiplier is set. Points are percentage points of the policy amount (-30: less 30% of the policy
// amount). A multiplier scales the amount reached so far (0.5: half of it). Factors apply in the
// order the policy lists them, whatever order the incident names them in.
type Factor struct {
	Key        string     `json:"key"`
	Side       string     `json:"side"` // SideCustomer or SideFirm
	Points     *money.Yen `json:"points,omitempty"`
	Multiplier *money.Yen `json:"multiplier,omitempty"`
	Wording    string     `json:"wording"` // the sentence the explanation shows
}

// Builtin returns the built-in policy of that name (restore, half_purchased, half_total): the base rule
// with no case factors.
func Builtin(name string) (*Policy, bool) {
	w, ok := baseWording[name]
	if !ok {
		return nil, false
	}
	return &Policy{Name: name, Description: w, Base: name, Factors: []Factor{}}, true
}

// Builtins lists the built-in policies' names.
func Builtins() []string { return []string{BaseRestore, BaseHalfPurchased, BaseHalfTotal} }

// LoadPolicy reads a policy file (YAML):
//
//	name: example-securities-2025
//	description: restore, reduced where the customer shared credentials
//	base: restore                # restore | half_purchased | half_total
//	factors:
//	  - key: credentials_shared
//	    side: customer           # customer | firm
//	    points: -50              # percentage points of the policy amount, or:
//	    # multiplier: 0.5        # a factor on the amount reached so far
//	    wording: You gave your password to a third party.
//
// Unknown keys and bad values are errors that name the line and the key.
func LoadPolicy(file string) (*Policy, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return ParsePolicy(b, file)
}

// ParsePolicy parses and validates a policy file's contents; file names it in errors and gives the
// default name.
func ParsePolicy(b []byte, file string) (*Policy, error) {
	fail := func(err error) (*Policy, error) { return nil, fmt.Errorf("policy %s: %w", file, err) }
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fail(err)
	}
	if len(doc.Content) == 0 {
		return fail(fmt.Errorf("empty file"))
	}
	pp := policyParser{}
	p := pp.policy(doc.Content[0])
	if p != nil && p.Name == "" {
		p.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	if len(pp.errs) > 0 {
		return fail(fmt.Errorf("%s", strings.Join(pp.errs, "\n  ")))
	}
	return p, nil
}

type policyParser struct{ errs []string }

func (pp *policyParser) fail(n *yaml.Node, at, format string, args ...any) {
	pp.errs = append(pp.errs, fmt.Sprintf("line %d: %s: %s", n.Line, at, fmt.Sprintf(format, args...)))
}

// mapping returns the key and value nodes of a mapping, reporting unknown keys and repeats.
func (pp *policyParser) mapping(n *yaml.Node, at string, known ...string) map[string][2]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		pp.fail(n, at, "want a mapping of %s", strings.Join(known, ", "))
		return nil
	}
	out := map[string][2]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !contains(known, k.Value):
			pp.fail(k, at, "unknown key %q (known: %s)", k.Value, strings.Join(known, ", "))
		case out[k.Value][0] != nil:
			pp.fail(k, at, "key %q given twice", k.Value)
		default:
			out[k.Value] = [2]*yaml.Node{k, v}
		}
	}
	return out
}

func (pp *policyParser) text(kv [2]*yaml.Node, at string) string {
	if kv[1] == nil {
		return ""
	}
	if kv[1].Kind != yaml.ScalarNode || kv[1].Tag == "!!null" {
		pp.fail(kv[0], at, "want text")
		return ""
	}
	return kv[1].Value
}

var factorKey = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func (pp *policyParser) policy(n *yaml.Node) *Policy {
	m := pp.mapping(n, "policy", "name", "description", "base", "factors")
	if m == nil {
		return nil
	}
	p := &Policy{Name: pp.text(m["name"], "name"), Description: pp.text(m["description"], "description"),
		Base: pp.text(m["base"], "base"), Factors: []Factor{}}
	switch {
	case m["base"][0] == nil:
		pp.fail(n, "base", "required: one of %s", strings.Join(Builtins(), ", "))
	case baseWording[p.Base] == "":
		pp.fail(m["base"][0], "base", "got %q, want one of %s", p.Base, strings.Join(Builtins(), ", "))
	}
	if p.Description == "" {
		p.Description = baseWording[p.Base]
	}
	fs := m["factors"]
	if fs[1] == nil || fs[1].Tag == "!!null" {
		return p
	}
	if fs[1].Kind != yaml.SequenceNode {
		pp.fail(fs[0], "factors", "want a list of factors")
		return p
	}
	seen := map[string]int{}
	for i, fn := range fs[1].Content {
		at := "factors[" + strconv.Itoa(i) + "]"
		fm := pp.mapping(fn, at, "key", "side", "points", "multiplier", "wording")
		if fm == nil {
			continue
		}
		f := Factor{Key: pp.text(fm["key"], at+".key"), Side: pp.text(fm["side"], at+".side"), Wording: pp.text(fm["wording"], at+".wording")}
		if f.Key != "" {
			at += " (" + f.Key + ")"
		}
		switch {
		case fm["key"][0] == nil:
			pp.fail(fn, at+".key", "required")
		case !factorKey.MatchString(f.Key):
			pp.fail(fm["key"][0], at+".key", "got %q, want lower-case letters, digits and _", f.Key)
		case seen[f.Key] > 0:
			pp.fail(fm["key"][0], at+".key", "%q is already factors[%d]", f.Key, seen[f.Key]-1)
		}
		seen[f.Key] = i + 1
		if f.Side != SideCustomer && f.Side != SideFirm {
			node := fn
			if fm["side"][0] != nil {
				node = fm["side"][0]
			}
			pp.fail(node, at+".side", "got %q, want customer or firm", f.Side)
		}
		if f.Wording == "" {
			pp.fail(fn, at+".wording", "required: the sentence the explanation shows")
		}
		f.Points = pp.number(fm["points"], at+".points", money.MustYen("-100"), money.MustYen("100"), "percentage points between -100 and 100")
		f.Multiplier = pp.number(fm["multiplier"], at+".multiplier", money.Yen{}, money.YenOf(10), "a multiplier between 0 and 10")
		if fm["points"][0] == nil && fm["multiplier"][0] == nil {
			pp.fail(fn, at, "give one of points or multiplier")
		} else if fm["points"][0] != nil && fm["multiplier"][0] != nil {
			pp.fail(fm["multiplier"][0], at, "give points or multiplier, not both")
		}
		p.Factors = append(p.Factors, f)
	}
	return p
}

func (pp *policyParser) number(kv [2]*yaml.Node, at string, lo, hi money.Yen, want string) *money.Yen {
	if kv[0] == nil {
		return nil
	}
	v := kv[1]
	if v.Kind != yaml.ScalarNode || (v.Tag != "!!int" && v.Tag != "!!float") {
		pp.fail(kv[0], at, "want %s, got %q", want, v.Value)
		return nil
	}
	y, err := money.ParseYen(strings.ReplaceAll(v.Value, "_", ""))
	if err != nil || y.Cmp(lo) < 0 || y.Cmp(hi) > 0 {
		pp.fail(kv[0], at, "want %s, got %s", want, v.Value)
		return nil
	}
	return &y
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Decision is a policy applied to one valuation: the policy amount, each factor's effect in yen, the
// recommended amount and its explanation. It is a plain value, ready to be stored as JSON and approved.
type Decision struct {
	Policy       string         `json:"policy"`
	Base         string         `json:"base"`
	PolicyAmount money.Yen      `json:"policy_amount"` // whole yen
	Factors      []FactorEffect `json:"factors"`
	// Recommended is the policy amount plus the factors' effects, at least 0, rounded down to whole yen.
	Recommended money.Yen `json:"recommended"`
	Explanation string    `json:"explanation"`
}

// FactorEffect is what one case factor did to the amount.
type FactorEffect struct {
	Key        string    `json:"key"`
	Side       string    `json:"side"`
	Adjustment string    `json:"adjustment"` // "-50 points" or "× 0.5"
	Effect     money.Yen `json:"effect"`     // exact yen, negative when it reduces the amount
	Wording    string    `json:"wording"`
}

var (
	one       = money.YenOf(1)
	hundredth = money.MustYen("0.01")
)

// Decide applies the policy to a valuation with the case factors named (keys of the policy's factors).
// A key the policy does not define is an error.
func (p *Policy) Decide(v *Valuation, keys []string) (*Decision, error) {
	on := map[string]bool{}
	for _, k := range keys {
		if !p.has(k) {
			return nil, fmt.Errorf("factor %q: policy %q does not define it (%s)", k, p.Name, p.factorList())
		}
		on[k] = true
	}
	amount, ok := v.Amounts.Of(p.Base)
	if !ok {
		return nil, fmt.Errorf("policy %q: unknown base %q", p.Name, p.Base)
	}
	d := &Decision{Policy: p.Name, Base: p.Base, PolicyAmount: amount, Factors: []FactorEffect{}}
	running := amount
	for _, f := range p.Factors {
		if !on[f.Key] {
			continue
		}
		fe := FactorEffect{Key: f.Key, Side: f.Side, Wording: f.Wording}
		if f.Points != nil {
			fe.Effect = amount.Mul(*f.Points).Mul(hundredth)
			fe.Adjustment = signed(*f.Points) + " points"
		} else {
			fe.Effect = running.Mul(f.Multiplier.Sub(one))
			fe.Adjustment = "× " + f.Multiplier.String()
		}
		running = running.Add(fe.Effect)
		d.Factors = append(d.Factors, fe)
	}
	d.Recommended = money.Max(money.Yen{}, running).Floor()
	d.Explanation = p.explain(v, d, running)
	return d, nil
}

func (p *Policy) has(key string) bool {
	for _, f := range p.Factors {
		if f.Key == key {
			return true
		}
	}
	return false
}

func (p *Policy) factorList() string {
	if len(p.Factors) == 0 {
		return "it has no factors; case factors need a policy file"
	}
	keys := make([]string, len(p.Factors))
	for i, f := range p.Factors {
		keys[i] = f.Key
	}
	sort.Strings(keys)
	return "it has " + strings.Join(keys, ", ")
}

func signed(y money.Yen) string {
	if y.Sign() > 0 {
		return "+" + y.Grouped()
	}
	return y.Grouped()
}

// explain writes the decision in sentences a customer can follow.
func (p *Policy) explain(v *Valuation, d *Decision, running money.Yen) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Policy %s: %s. ", p.Name, p.Description)
	if v.RestoreLoss.Sign() >= 0 {
		fmt.Fprintf(&b, "Valued at the prices of %s (JST), the unauthorized trades cost the account %s yen", v.Date, v.RestoreLoss.Grouped())
	} else {
		fmt.Fprintf(&b, "Valued at the prices of %s (JST), the unauthorized trades left the account %s yen better off", v.Date, v.RestoreLoss.Neg().Grouped())
	}
	fmt.Fprintf(&b, " (commissions of %s yen included). ", v.Fees.Grouped())
	switch p.Base {
	case BaseRestore:
		fmt.Fprintf(&b, "Restoring the account: %s yen.", d.PolicyAmount.Grouped())
	case BaseHalfPurchased:
		var bought money.Yen
		for _, s := range v.Symbols {
			if s.PurchasedLoss != nil {
				bought = bought.Add(money.Max(money.Yen{}, *s.PurchasedLoss))
			}
		}
		fmt.Fprintf(&b, "Loss on the stocks the attacker bought: %s yen; half of it plus commissions of %s yen and 10,000 yen: %s yen.",
			bought.Grouped(), v.Fees.Grouped(), d.PolicyAmount.Grouped())
	case BaseHalfTotal:
		fmt.Fprintf(&b, "Half of the loss: %s yen.", d.PolicyAmount.Grouped())
	}
	for _, f := range d.Factors {
		side := "Customer's side"
		if f.Side == SideFirm {
			side = "Firm's side"
		}
		fmt.Fprintf(&b, " %s: %s (%s: %s yen).", side, strings.TrimSuffix(f.Wording, "."), f.Adjustment, signed(f.Effect))
	}
	if running.Sign() < 0 {
		b.WriteString(" The factors would take the amount below zero.")
	}
	fmt.Fprintf(&b, " Recommended: %s yen (rounded down to whole yen).", d.Recommended.Grouped())
	return b.String()
}
