package compensation

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/brokerguard/brokerguard/internal/money"
)

func TestGoodPolicyFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yaml")
	if len(files) < 2 {
		t.Fatalf("found %d good policy files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := LoadPolicy(f); err != nil {
				t.Fatalf("got %v, want a valid policy", err)
			}
		})
	}
	p, _ := LoadPolicy("testdata/firm.good.yaml")
	if p.Name != "example-securities-2025" || p.Base != BaseRestore || len(p.Factors) != 7 {
		t.Errorf("got %s, base %s, %d factors; want example-securities-2025, restore, 7", p.Name, p.Base, len(p.Factors))
	}
	if f := p.Factors[6]; f.Key != FactorNoDetection || f.Multiplier == nil || f.Multiplier.String() != "1.25" || f.Points != nil {
		t.Errorf("factor 6: got %+v, want no_detection × 1.25", f)
	}
	m, _ := LoadPolicy("testdata/minimal.good.yaml")
	if m.Name != "minimal.good" || m.Base != BaseHalfPurchased {
		t.Errorf("minimal: got name %q base %q, want the file's name and half_purchased", m.Name, m.Base)
	}
}

func TestBadPolicyFiles(t *testing.T) {
	tests := map[string][]string{
		"unknown-key.bad.yaml": {`line 5: factors[0]: unknown key "percent"`},
		"bad-values.bad.yaml": {
			`line 2: base: got "half", want one of restore, half_purchased, half_total`,
			`line 4: factors[0] (Reuse).key: got "Reuse"`,
			`line 9: factors[1] (mfa_not_offered).side: got "bank", want customer or firm`,
			`line 10: factors[1] (mfa_not_offered).points: want percentage points between -100 and 100, got 150`,
			`line 15: factors[2] (no_notice_sent): give points or multiplier, not both`,
			`line 19: factors[3] (no_detection).multiplier: want a multiplier between 0 and 10, got "x"`,
			`line 17: factors[3] (no_detection).wording: required`,
			`line 20: factors[4] (no_notice_sent).key: "no_notice_sent" is already factors[2]`,
		},
	}
	for file, wants := range tests {
		t.Run(file, func(t *testing.T) {
			_, err := LoadPolicy(filepath.Join("testdata", file))
			if err == nil {
				t.Fatal("got a valid policy, want errors")
			}
			for _, w := range wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	if _, err := LoadPolicy("testdata/missing.yaml"); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: got %v, want an error naming it", err)
	}
	if _, err := ParsePolicy([]byte("name: x\n"), "p.yaml"); err == nil || !strings.Contains(err.Error(), "base: required") {
		t.Errorf("no base: got %v", err)
	}
}

func TestDecideFactors(t *testing.T) {
	p, err := LoadPolicy("testdata/firm.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v := &Valuation{Date: "2025-04-11", RestoreLoss: money.MustYen("100001.4"), Fees: money.YenOf(500),
		Amounts: Amounts{Restore: money.YenOf(100001), HalfPurchased: money.YenOf(60000), HalfTotal: money.YenOf(50000)}}
	// Named in another order than the policy lists them; the policy's order applies:
	// −50 points of 100,001 = −50,000.5; +10 points = +10,000.1; then × 1.25 on 60,000.6 = +15,000.15.
	// 75,000.75 → 75,000.
	d, err := p.Decide(v, []string{FactorNoDetection, FactorCredentialsShared, FactorNoNoticeSent})
	if err != nil {
		t.Fatal(err)
	}
	var effects []string
	for _, f := range d.Factors {
		effects = append(effects, f.Key+"="+f.Effect.String())
	}
	want := []string{"credentials_shared=-50000.5", "no_notice_sent=10000.1", "no_detection=15000.15"}
	if !reflect.DeepEqual(effects, want) {
		t.Errorf("effects: got %v, want %v", effects, want)
	}
	if d.PolicyAmount.String() != "100001" || d.Recommended.String() != "75000" {
		t.Errorf("got policy amount %s, recommended %s; want 100001, 75000", d.PolicyAmount, d.Recommended)
	}
	for _, s := range []string{"Policy example-securities-2025", "100,001.4 yen", "Restoring the account: 100,001 yen",
		"Customer's side: You gave your password and one-time code to a third party (-50 points: -50,000.5 yen)",
		"Firm's side: The firm had no detection of unusual orders in place (× 1.25: +15,000.15 yen)", "Recommended: 75,000 yen"} {
		if !strings.Contains(d.Explanation, s) {
			t.Errorf("explanation lacks %q:\n%s", s, d.Explanation)
		}
	}
	// The decision is a plain value that survives a trip through JSON.
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back Decision
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Recommended.Equal(d.Recommended) || len(back.Factors) != 3 || !back.Factors[0].Effect.Equal(d.Factors[0].Effect) {
		t.Errorf("JSON round trip: got %+v from %s", back, b)
	}
	if !strings.Contains(string(b), `"recommended":"75000"`) {
		t.Errorf("JSON: want yen as strings, got %s", b)
	}

	if _, err := p.Decide(v, []string{"left_phone_unlocked"}); err == nil || !strings.Contains(err.Error(), `factor "left_phone_unlocked"`) {
		t.Errorf("unknown factor: got %v", err)
	}
	restore, _ := Builtin(BaseRestore)
	if _, err := restore.Decide(v, []string{FactorReuseAdmitted}); err == nil || !strings.Contains(err.Error(), "no factors") {
		t.Errorf("factor on a built-in: got %v", err)
	}
	d, _ = restore.Decide(v, nil)
	if d.Recommended.String() != "100001" || len(d.Factors) != 0 {
		t.Errorf("built-in restore: got %+v", d)
	}
}

func TestDecideNeverBelowZero(t *testing.T) {
	p, err := ParsePolicy([]byte(`base: half_total
factors:
  - {key: a, side: customer, points: -80, wording: A.}
  - {key: b, side: customer, points: -40, wording: B.}
`), "strict.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Decide(&Valuation{Amounts: Amounts{HalfTotal: money.YenOf(1000)}}, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Recommended.String() != "0" || !strings.Contains(d.Explanation, "below zero") {
		t.Errorf("got %s: %s", d.Recommended, d.Explanation)
	}
}

func TestBuiltins(t *testing.T) {
	for _, name := range Builtins() {
		p, ok := Builtin(name)
		if !ok || p.Base != name || len(p.Factors) != 0 {
			t.Errorf("built-in %s: got %+v, %v", name, p, ok)
		}
	}
	if _, ok := Builtin("firm.yaml"); ok {
		t.Error("a file name is not a built-in policy")
	}
}
