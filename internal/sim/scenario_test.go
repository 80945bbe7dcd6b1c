package sim

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestBuiltinScenarios(t *testing.T) {
	want := []string{"cross-firm", "demo", "quiet-month", "small", "stealthy-wave", "wave-2025"}
	got := BuiltinScenarios()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("built-in scenarios = %v, want %v", got, want)
	}
	for _, name := range got {
		sc, err := BuiltinScenario(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if sc.Name != name {
			t.Errorf("%s: name is %q", name, sc.Name)
		}
	}
	if _, err := BuiltinScenario("nope"); err == nil || !strings.Contains(err.Error(), "wave-2025") {
		t.Errorf("unknown scenario: got %v, want an error listing the scenarios", err)
	}
	demo, _ := BuiltinScenario("demo")
	if demo.Accounts != 10000 || len(demo.Campaigns) != 1 {
		t.Errorf("demo: %d accounts, %d campaigns; want 10000 and 1", demo.Accounts, len(demo.Campaigns))
	}
	quiet, _ := BuiltinScenario("quiet-month")
	if len(quiet.Campaigns) != 0 || len(quiet.StuffingWaves) != 0 || quiet.Standalone.Count != 0 {
		t.Error("quiet-month must have no attack")
	}
}

func TestLoadScenarioGood(t *testing.T) {
	sc, err := LoadScenario(filepath.Join("testdata", "good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Accounts != 500 || sc.TradingDays != 2 {
		t.Errorf("got %d accounts, %d days", sc.Accounts, sc.TradingDays)
	}
	c := sc.Campaigns[0]
	if c.ID != "cmp-1" || c.Victims != 3 || c.RampStart.String() != "10:15" {
		t.Errorf("campaign = %+v", c)
	}
	if c.VolumeMultiple != (Range{150, 150}) || c.PriceRise != (Range{0.20, 0.40}) || c.FraudReport != 0.6 {
		t.Errorf("campaign defaults not applied: %+v", c)
	}
	if w := sc.StuffingWaves[0]; w.ID != "cs-1" || w.Style != "careless" || w.Hours != 3 {
		t.Errorf("wave = %+v", w)
	}
	if sc.Surprises.TravelAbroad != DefaultScenario().Surprises.TravelAbroad {
		t.Error("surprise defaults not applied")
	}
}

func TestLoadScenarioBad(t *testing.T) {
	for file, wants := range map[string][]string{
		"bad-unknown-key.yaml": {"line 6", `unknown key "victim_count"`, "campaigns[0]"},
		"bad-values.yaml": {"line 4: customers.notifications_off", "line 7: campaigns[0].victims",
			"line 8: campaigns[0].price_rise"},
		"bad-ramp-time.yaml":   {"line 3: campaigns[0].ramp_start", "trading hours"},
		"bad-time-format.yaml": {"line 3", "HH:MM"},
		"missing.yaml":         {"read scenario"},
	} {
		_, err := LoadScenario(filepath.Join("testdata", file))
		if err == nil {
			t.Errorf("%s: no error", file)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", file, err, w)
			}
		}
	}
}

func TestParseScenarioErrors(t *testing.T) {
	for name, c := range map[string]struct{ yaml, want string }{
		"empty":          {"", "empty scenario"},
		"not a map":      {"- 1\n- 2\n", "want a mapping"},
		"bad yaml":       {"name: [\n", "yaml"},
		"bad commission": {"market:\n  commission: free\n", "line 2: market.commission"},
		"bad style":      {"stuffing_waves:\n  - style: loud\n", "stuffing_waves[0].style"},
		"duplicate id":   {"campaigns:\n  - id: x\n  - id: x\n", "duplicate id"},
		"bad range":      {"campaigns:\n  - price_rise: [1, 2, 3]\n", "want [min, max]"},
		"bad date":       {"start: 2025-13-01\n", "start"},
	} {
		_, err := ParseScenario([]byte(c.yaml), "test.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, c.want)
		}
	}
}
