package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
)

// varyScenario has enough victims per campaign that every drawn behaviour shows in a few seeds.
const varyScenario = `
name: vary-test
start: "2025-04-07"
trading_days: 5
accounts: 2500
vary: true
campaigns:
  - id: c1
    day: 3
    victims: 14
    beneficiaries: 2
  - id: c2
    day: 4
    victims: 14
    beneficiaries: 2
stuffing_waves:
  - day: 2
    attempts: 300
    successes: 1
standalone:
  count: 3
`

var (
	varyMu   sync.Mutex
	varyRuns = map[int64]*run{}
)

// varied returns the vary-test scenario generated with seed, decoded (cached per seed).
func varied(t *testing.T, seed int64) *run {
	t.Helper()
	varyMu.Lock()
	defer varyMu.Unlock()
	if r := varyRuns[seed]; r != nil {
		return r
	}
	sc, err := ParseScenario([]byte(varyScenario), "vary-test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ev, tr bytes.Buffer
	st, err := Generate(context.Background(), sc, Options{Seed: seed}, &ev, &tr)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := ReadTruth(&tr)
	if err != nil {
		t.Fatal(err)
	}
	r := &run{events: ev.Bytes(), truth: truth, stats: st}
	s := bufio.NewScanner(bytes.NewReader(r.events))
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; s.Scan(); line++ {
		e, err := event.Decode(append([]byte(nil), s.Bytes()...))
		if err != nil {
			t.Fatalf("seed %d line %d: %v", seed, line, err)
		}
		r.parsed = append(r.parsed, e)
	}
	varyRuns[seed] = r
	return r
}

var varySeeds = []int64{1, 2, 3, 4}

func TestVaryDeterministic(t *testing.T) {
	opts := Options{Seed: 7, Accounts: 700, Days: 3, Vary: true}
	a := generate(t, "small", opts)
	b := generate(t, "small", opts)
	if !bytes.Equal(a.events, b.events) {
		t.Fatal("same seed with vary gave different events")
	}
	ta, _ := json.Marshal(a.truth)
	tb, _ := json.Marshal(b.truth)
	if !bytes.Equal(ta, tb) {
		t.Fatal("same seed with vary gave different truth")
	}
	if a.truth.Draws == nil {
		t.Fatal("varied truth has no draws")
	}
	opts.Seed = 8
	c := generate(t, "small", opts)
	da, _ := json.Marshal(a.truth.Draws)
	dc, _ := json.Marshal(c.truth.Draws)
	if bytes.Equal(da, dc) {
		t.Fatal("different seeds drew the same parameters")
	}
	plain := generate(t, "small", Options{Seed: 7, Accounts: 700, Days: 3})
	if plain.truth.Draws != nil {
		t.Fatalf("run without vary has draws %+v", plain.truth.Draws)
	}
	if bytes.Equal(plain.events, a.events) {
		t.Fatal("vary changed nothing")
	}
}

// TestVaryKeyMatchesOption: the scenario key vary: true and Options.Vary give the same run.
func TestVaryKeyMatchesOption(t *testing.T) {
	sc, err := ParseScenario([]byte(strings.Replace(varyScenario, "vary: true", "vary: false", 1)), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ev bytes.Buffer
	if _, err := Generate(context.Background(), sc, Options{Seed: 2, Vary: true}, &ev, nil); err != nil {
		t.Fatal(err)
	}
	if got := varied(t, 2).events; !bytes.Equal(ev.Bytes(), got) {
		t.Fatal("Options.Vary and the scenario key vary: true gave different events")
	}
}

func TestVaryDrawsInRange(t *testing.T) {
	within := func(name string, x, lo, hi float64) {
		t.Helper()
		if x < lo || x > hi {
			t.Errorf("%s = %g, want within [%g, %g]", name, x, lo, hi)
		}
	}
	distinct := map[string]map[string]bool{}
	note := func(k string, v any) {
		if distinct[k] == nil {
			distinct[k] = map[string]bool{}
		}
		b, _ := json.Marshal(v)
		distinct[k][string(b)] = true
	}
	for _, seed := range varySeeds {
		d := varied(t, seed).truth.Draws
		within("surprise_multiplier", d.SurpriseMultiplier, 1, 3)
		within("repump_share", d.RepumpShare, 0.3, 0.5)
		note("multiplier", d.SurpriseMultiplier)
		for _, name := range []string{"corporate_egress", "aggregators", "portfolio_switch", "domestic_travel"} {
			if d.Surprises[name] <= 0 {
				t.Errorf("seed %d: surprise %s not drawn: %v", seed, name, d.Surprises[name])
			}
		}
		if len(d.Campaigns) != 2 {
			t.Fatalf("seed %d: %d campaign draws, want 2", seed, len(d.Campaigns))
		}
		for _, c := range d.Campaigns {
			within("ramp_minutes", float64(c.RampMinutes), 45, 240)
			within("ramp_shape", c.RampShape, 0, 1)
			within("burstiness", c.Burstiness, 0, 0.9)
			within("night", c.Night, 0, 0.4)
			within("careful", c.Careful, 0.1, 1)
			within("mobile_share", c.MobileShare, 0.1, 0.6)
			within("tls_mismatch", c.TLSMismatch, 0.3, 0.9)
			within("thief_tls_change", c.ThiefTLSChange, 0.6, 0.95)
			within("beneficiary_linkage", c.BeneficiaryLinkage, 0, 0.5)
			within("victims", float64(c.Victims), 7, 21)
			within("beneficiaries", float64(c.Beneficiaries), 1, 4)
			within("beneficiary_opened_days", float64(c.BeneficiaryOpenedDays[0]), 60, 300)
			if c.HijackFrom < "07:00" || c.HijackTo > "14:45" || c.HijackFrom >= c.HijackTo {
				t.Errorf("seed %d %s: hijack window %s-%s, want within 07:00-14:45", seed, c.ID, c.HijackFrom, c.HijackTo)
			}
			if c.Timing == "stealthy" && (c.HijackFrom != "08:00" || c.HijackTo != "14:45") {
				t.Errorf("stealthy window %s-%s, want 08:00-14:45", c.HijackFrom, c.HijackTo)
			}
			if c.Repump {
				within("repump_volume", c.RepumpVolume, 0.15, 0.5)
				within("repump_rise", c.RepumpRise, 0.3*c.PriceRise-0.001, 0.6*c.PriceRise+0.001)
			}
			if len(c.Takeovers) != c.Victims {
				t.Errorf("seed %d %s: %d victim draws for %d victims", seed, c.ID, len(c.Takeovers), c.Victims)
			}
			note("ramp_minutes", c.RampMinutes)
			note("careful", c.Careful)
			note("window", c.HijackFrom+c.HijackTo)
		}
	}
	for k, vs := range distinct {
		if len(vs) < 3 {
			t.Errorf("%s took %d values over %d seeds, want draws that differ", k, len(vs), len(varySeeds))
		}
	}
}

// TestVaryNightQueued: victims hit the evening before place their sells and margin buys outside trading
// hours, and those orders execute at the ramp day's open.
func TestVaryNightQueued(t *testing.T) {
	nights := 0
	for _, seed := range varySeeds {
		r := varied(t, seed)
		byOrder := map[string][]*event.Event{}
		for i := range r.parsed {
			if e := &r.parsed[i]; e.Type == event.TypeExecution {
				byOrder[e.OrderID] = append(byOrder[e.OrderID], e)
			}
		}
		ramp := map[string]*Campaign{}
		for _, c := range r.truth.Campaigns {
			ramp[c.ID] = c
		}
		for _, tk := range r.truth.Takeovers {
			if tk.Campaign == "" || !tk.Night || tk.Kind == KindCredentialStuffing {
				continue
			}
			nights++
			day, err := time.Parse("2006-01-02", ramp[tk.Campaign].RampDay)
			if err != nil {
				t.Fatal(err)
			}
			open := day.Add(-9 * time.Hour).Add(9 * time.Hour) // 09:00 JST
			queued, buys := 0, 0
			for _, ae := range tk.Events {
				if ae.Type != "order" {
					continue
				}
				placed, _ := time.Parse(time.RFC3339Nano, ae.Time)
				if !placed.Before(open) {
					continue
				}
				for _, x := range byOrder[ae.OrderID] {
					if x.Time.Before(open) {
						t.Errorf("seed %d: night order %s of %s executed at %s, before the open", seed, ae.OrderID, tk.Account, x.Time)
					}
				}
				queued++
				if ae.Side == "buy" {
					buys++
					if ae.Symbol != ramp[tk.Campaign].Symbol {
						t.Errorf("seed %d: queued buy %s of %s is of %s, want the target", seed, ae.ID, tk.Account, ae.Symbol)
					}
				}
			}
			if queued == 0 {
				t.Errorf("seed %d: night takeover of %s has no order queued before the open", seed, tk.Account)
			}
		}
	}
	if nights == 0 {
		t.Fatal("no night takeovers in the seeds")
	}
}

// TestVaryCarefulAttackers: careful attackers come from a Japanese residential or mobile address of
// their own per victim; relay attackers send no device id; thieves keep the victim's session and device.
func TestVaryCarefulAttackers(t *testing.T) {
	table := newNetTable()
	kind := func(s string) netKind {
		a := netip.MustParseAddr(s).As4()
		ip := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
		for i := range ipTable {
			if ip >= table.base[i] && ip-table.base[i] < table.size[i] {
				return ipTable[i].Kind
			}
		}
		t.Fatalf("address %s is not in the table", s)
		return 0
	}
	careful, mismatch, copied, mobile := 0, 0, 0, 0
	for _, seed := range varySeeds {
		r := varied(t, seed)
		byID := map[string]*event.Event{}
		for i := range r.parsed {
			byID[r.parsed[i].ID] = &r.parsed[i]
		}
		owner := map[string]string{} // address -> victim
		for _, tk := range r.truth.Takeovers {
			if tk.Style != StyleCareful || tk.Kind == KindCredentialStuffing {
				continue
			}
			careful++
			for _, a := range tk.Addresses {
				k := kind(a)
				if k != kindJPFixed && k != kindJPMobile {
					t.Errorf("seed %d: careful attacker of %s used %s (%s)", seed, tk.Account, a, k)
				}
				if k == kindJPMobile {
					mobile++
				}
				if o, ok := owner[a]; ok && o != tk.Account {
					t.Errorf("seed %d: careful attackers of %s and %s share %s", seed, o, tk.Account, a)
				}
				owner[a] = tk.Account
			}
			for _, ae := range tk.Events {
				e := byID[ae.ID]
				if e == nil {
					t.Fatalf("seed %d: attacker event %s not in the events", seed, ae.ID)
				}
				switch tk.Kind {
				case KindPhishingRelay:
					if e.Type == event.TypeLogin && e.Device != "" {
						t.Errorf("seed %d: careful relay login %s of %s sends device %s", seed, e.ID, tk.Account, e.Device)
					}
				case KindStolenSession:
					if e.Type == event.TypeOrder && e.Device == "" {
						t.Errorf("seed %d: session thief's order %s of %s has no device id", seed, e.ID, tk.Account)
					}
				}
			}
		}
		for _, c := range r.truth.Draws.Campaigns {
			for _, v := range c.Takeovers {
				if v.Style == StyleCareful {
					if v.TLSMismatch {
						mismatch++
					}
					if v.UACopied {
						copied++
					}
				}
			}
		}
	}
	if careful < 5 || mismatch == 0 || copied == 0 || mobile == 0 {
		t.Fatalf("careful takeovers %d, with a TLS mismatch %d, with the victim's UA %d, mobile addresses %d: want some of each",
			careful, mismatch, copied, mobile)
	}
}

// TestVaryTruthConsistent: the truth of varied runs matches the events.
func TestVaryTruthConsistent(t *testing.T) {
	for _, seed := range varySeeds {
		r := varied(t, seed)
		byID := map[string]*event.Event{}
		orders := map[string]*event.Event{}
		benefOrders := map[string]int{}
		for i := range r.parsed {
			e := &r.parsed[i]
			byID[e.ID] = e
			if e.Type == event.TypeOrder {
				orders[e.OrderID] = e
			}
		}
		victims := map[string]string{}
		symbol := map[string]string{}
		for _, c := range r.truth.Campaigns {
			symbol[c.ID] = c.Symbol
			for _, v := range c.Victims {
				victims[v] = c.ID
			}
			for _, b := range c.Beneficiaries {
				if victims[b] != "" {
					t.Errorf("seed %d: %s is both victim and beneficiary", seed, b)
				}
			}
			if c.FirstHijackedBuy == "" {
				t.Errorf("seed %d: campaign %s has no hijacked buy", seed, c.ID)
				continue
			}
			x := byID[c.FirstHijackedBuy]
			if x == nil || x.Type != event.TypeExecution || x.Symbol != c.Symbol || x.Side != "buy" || victims[x.Account] != c.ID {
				t.Errorf("seed %d: first hijacked buy %s of %s is not a victim's buy execution of %s", seed, c.FirstHijackedBuy, c.ID, c.Symbol)
			}
		}
		for _, e := range r.parsed {
			if e.Type == event.TypeOrder && e.Account != "" {
				benefOrders[e.Account+"/"+e.Symbol]++
			}
		}
		for _, c := range r.truth.Campaigns {
			for _, b := range c.Beneficiaries {
				if benefOrders[b+"/"+c.Symbol] == 0 {
					t.Errorf("seed %d: beneficiary %s never traded %s", seed, b, c.Symbol)
				}
			}
		}
		noOrder := 0
		for _, tk := range r.truth.Takeovers {
			if tk.Campaign != "" && victims[tk.Account] != tk.Campaign {
				t.Errorf("seed %d: takeover of %s names campaign %s, which does not list it", seed, tk.Account, tk.Campaign)
			}
			for _, ae := range tk.Events {
				e := byID[ae.ID]
				if e == nil {
					t.Fatalf("seed %d: attacker event %s of %s is not in the events", seed, ae.ID, tk.Account)
				}
				if e.Account != tk.Account || e.Type.String() != ae.Type {
					t.Errorf("seed %d: attacker event %s: events say %s/%s, truth %s/%s", seed, ae.ID, e.Account, e.Type, tk.Account, ae.Type)
				}
				if ae.Type == "execution" && orders[ae.OrderID] == nil {
					t.Errorf("seed %d: attacker execution %s of an unknown order %s", seed, ae.ID, ae.OrderID)
				}
				if ae.Type == "order" && ae.Side == "buy" && tk.Campaign != "" && ae.Symbol != symbol[tk.Campaign] {
					t.Errorf("seed %d: hijacked buy %s of %s, want the target %s", seed, ae.Symbol, tk.Account, symbol[tk.Campaign])
				}
			}
			if tk.FirstOrder == "" {
				noOrder++ // the customer may have sold and spent everything before the attacker came
			}
		}
		if noOrder*10 > len(r.truth.Takeovers) {
			t.Errorf("seed %d: %d of %d takeovers placed no order", seed, noOrder, len(r.truth.Takeovers))
		}
		drawn := 0
		for _, c := range r.truth.Draws.Campaigns {
			for _, v := range c.Takeovers {
				drawn++
				if victims[v.Account] != c.ID {
					t.Errorf("seed %d: draws list %s under %s, the truth does not", seed, v.Account, c.ID)
				}
			}
		}
		if want := len(victims); drawn != want {
			t.Errorf("seed %d: %d victim draws, want %d", seed, drawn, want)
		}
	}
}

// TestVaryLegitimateKinds: varied runs add the legitimate habits that resemble attacks: offices behind
// cloud egress, household-finance services logging in nightly from Japanese clouds, portfolio switches.
func TestVaryLegitimateKinds(t *testing.T) {
	r := varied(t, 1)
	for _, name := range []string{"corporate_egress", "aggregators"} {
		if r.truth.Surprises[name].Count == 0 {
			t.Errorf("surprise %s never happened: %+v", name, r.truth.Surprises[name])
		}
	}
	if r.truth.Behaviours["aggregator.login"] == 0 || r.truth.Behaviours["corporate_egress.login"] == 0 {
		t.Errorf("aggregator logins %d, corporate egress logins %d: want both", r.truth.Behaviours["aggregator.login"],
			r.truth.Behaviours["corporate_egress.login"])
	}
	aggs := map[string]bool{}
	for _, a := range r.truth.Draws.Aggregators {
		for _, ip := range a.Addresses {
			aggs[ip] = true
		}
	}
	seen := 0
	for _, e := range r.parsed {
		if e.Type != event.TypeLogin || !aggs[e.IP] || e.Channel != "api" {
			continue
		}
		seen++
		if h := e.Time.Hour(); h < 1 || h >= 5 || e.Device != "" || e.Method != "password" {
			t.Fatalf("aggregator login %s at %s, device %q, method %s: want 01:00-05:00, none, password", e.ID, e.Time, e.Device, e.Method)
		}
	}
	if seen == 0 {
		t.Fatal("no aggregator logins in the events")
	}
}
