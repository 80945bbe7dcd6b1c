package report

import (
	"bytes"
	"context"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/compensation"
	"github.com/brokerguard/brokerguard/internal/money"
	"github.com/brokerguard/brokerguard/internal/reconstruct"
	"github.com/brokerguard/brokerguard/internal/sim"
)

// simulated generates the small scenario in memory and returns its event log and ground truth.
func simulated(t testing.TB) ([]byte, *sim.Truth) {
	t.Helper()
	sc, err := sim.BuiltinScenario("small")
	if err != nil {
		t.Fatal(err)
	}
	var events, truth bytes.Buffer
	if _, err := sim.Generate(context.Background(), sc, sim.Options{Seed: 1}, &events, &truth); err != nil {
		t.Fatal(err)
	}
	tr, err := sim.ReadTruth(&truth)
	if err != nil {
		t.Fatal(err)
	}
	return events.Bytes(), tr
}

// incidentsFromTruth names each takeover's account, the attacker's orders and sessions.
func incidentsFromTruth(tr *sim.Truth) []reconstruct.Claim {
	var incs []reconstruct.Claim
	for i, tk := range tr.Takeovers {
		inc := reconstruct.Claim{Line: int64(i + 1), Account: tk.Account, Orders: []string{}, Sessions: tk.Sessions}
		for _, e := range tk.Events {
			if e.Type == "order" {
				inc.Orders = append(inc.Orders, e.OrderID)
			}
		}
		incs = append(incs, inc)
	}
	return incs
}

// truthTally counts the tally's figures from the ground truth alone: accesses are the attacker's
// successful logins plus, for each attacker session it did not log into, the session's first use by
// the attacker; trades are the executions of the attacker's orders.
func truthTally(t *testing.T, tr *sim.Truth) (map[string]*TallyRow, map[string]float64, map[string]float64, map[string]int) {
	rows := map[string]*TallyRow{}
	sold, bought := map[string]float64{}, map[string]float64{}
	fills := map[string]int{}
	accounts := map[string]map[string]bool{}
	month := func(s, account string) *TallyRow {
		m := reconstruct.DayOf(mustTime(t, s)).Month()
		if rows[m] == nil {
			rows[m] = &TallyRow{Month: m}
			accounts[m] = map[string]bool{}
		}
		if !accounts[m][account] {
			accounts[m][account] = true
			rows[m].Accounts++
		}
		return rows[m]
	}
	for _, tk := range tr.Takeovers {
		loggedIn := map[string]bool{}
		for _, e := range tk.Events {
			if e.Type == "login" && e.Result == "success" {
				loggedIn[e.Session] = true
				month(e.Time, tk.Account).Accesses++
			}
		}
		used := map[string]bool{}
		for _, e := range tk.Events {
			if e.Session != "" && !loggedIn[e.Session] && !used[e.Session] {
				used[e.Session] = true
				month(e.Time, tk.Account).Accesses++
			}
		}
		for _, e := range tk.Events {
			if e.Type != "execution" {
				continue
			}
			m := month(e.Time, tk.Account)
			m.Trades++ // each execution
			if e.Side == "sell" {
				sold[m.Month] += e.Yen
			} else {
				bought[m.Month] += e.Yen
			}
			fills[m.Month]++
		}
	}
	return rows, sold, bought, fills
}

func TestTallyOnSimulatedScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates 80,000 events")
	}
	events, tr := simulated(t)
	incs := incidentsFromTruth(tr)
	if len(incs) == 0 {
		t.Fatal("the scenario has no takeovers")
	}
	b, err := reconstruct.Collect(context.Background(), bytes.NewReader(events), incs)
	if err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Bad > 0 {
		t.Fatalf("bad lines in the simulated log: %v", st.Errors)
	}
	var recs []*reconstruct.Reconstruction
	for i := range incs {
		rec, ierr := b.Reconstruct(&incs[i])
		if ierr != nil {
			t.Fatal(ierr)
		}
		recs = append(recs, rec)
	}
	got := Tally(recs)
	want, sold, bought, fills := truthTally(t, tr)
	if len(got) != len(want) {
		t.Fatalf("got %d months, want %d: %+v", len(got), len(want), got)
	}
	var accesses, trades int64
	for _, g := range got {
		w := want[g.Month]
		if w == nil {
			t.Fatalf("month %s not in the truth", g.Month)
		}
		if g.Accesses != w.Accesses || g.Trades != w.Trades || g.Accounts != w.Accounts {
			t.Errorf("%s: got accesses %d, trades %d, accounts %d; truth %d, %d, %d",
				g.Month, g.Accesses, g.Trades, g.Accounts, w.Accesses, w.Trades, w.Accounts)
		}
		// The truth rounds each execution's value to whole yen; the tally rounds the sum down.
		tol := 0.5*float64(fills[g.Month]) + 1 + 1e-6
		if !g.SoldYen.Equal(g.SoldYenExact.Floor()) || !g.BoughtYen.Equal(g.BoughtYenExact.Floor()) || g.Counting != TallyCounting {
			t.Errorf("%s: got sold %s (exact %s), bought %s (exact %s), counting %q; want the exact sums rounded down, %q",
				g.Month, g.SoldYen, g.SoldYenExact, g.BoughtYen, g.BoughtYenExact, g.Counting, TallyCounting)
		}
		if d := math.Abs(float(g.SoldYen) - sold[g.Month]); d > tol {
			t.Errorf("%s: sold yen %s, truth %.0f", g.Month, g.SoldYen, sold[g.Month])
		}
		if d := math.Abs(float(g.BoughtYen) - bought[g.Month]); d > tol {
			t.Errorf("%s: bought yen %s, truth %.0f", g.Month, g.BoughtYen, bought[g.Month])
		}
		accesses += g.Accesses
		trades += g.Trades
		t.Logf("%+v", g)
	}
	if accesses == 0 || trades == 0 {
		t.Fatalf("got %d accesses and %d trades: the check proves nothing", accesses, trades)
	}

	// Every incident can be valued, and the valuations' sold and bought yen add up to the tally's.
	var vSold, tSold money.Yen
	restore, _ := compensation.Builtin(compensation.BaseRestore)
	for _, rec := range recs {
		res, err := compensation.Assess(rec, b, restore, nil)
		if err != nil {
			t.Fatalf("%s: %v", rec.Incident.Account, err)
		}
		vSold = vSold.Add(res.SoldYen)
		if res.BasisTime == nil || res.Valuation.Date <= res.BasisTime.Format(time.DateOnly) {
			t.Errorf("%s: valuation date %s is not after its basis %v", rec.Incident.Account, res.Valuation.Date, res.BasisTime)
		}
	}
	for _, g := range got {
		tSold = tSold.Add(*g.SoldYenExact)
	}
	if !vSold.Equal(tSold) {
		t.Errorf("valuations sold %s yen, the tally %s", vSold, tSold)
	}
}

func TestTallyCountsSharedItemsOnce(t *testing.T) {
	var tl timeline
	tl.Login("03-31 23:50", "A1", "s1")
	tl.Order("03-31 23:55", "A1", "o1", "s1", "X", "sell", 300, "cash")
	tl.Fill("04-01 09:00", "A1", "o1", "X", "sell", 100, "100", "0")
	tl.Fill("04-01 09:01", "A1", "o1", "X", "sell", 200, "100.5", "0")
	tl.Order("04-01 09:05", "A1", "o2", "s1", "Y", "buy", 100, "cash") // never executed
	tl.Change("04-01 10:00", "A1", "s2")                               // a stolen session: no login in the log
	incs := []reconstruct.Claim{
		{Account: "A1", Orders: []string{"o1", "o2"}, Sessions: []string{"s2"}},
		{Account: "A1", Orders: []string{"o1"}}, // the same order again
	}
	b := collect(t, &tl, incs...)
	var recs []*reconstruct.Reconstruction
	for _, inc := range incs {
		recs = append(recs, reconstructOf(t, b, inc))
	}
	var accesses []string
	for _, a := range recs[0].Accesses {
		accesses = append(accesses, a.Session+"="+a.Kind+"@"+a.EventID)
	}
	if got, want := strings.Join(accesses, " "), "s1=login@e1 s2=first_use@e6"; got != want {
		t.Errorf("accesses: got %s, want %s", got, want)
	}
	got := Tally(recs)
	want := []TallyRow{
		{Month: "2025-03", Accesses: 1, Accounts: 1},
		{Month: "2025-04", Accesses: 1, Trades: 2, SoldYen: money.MustYen("30100"), Accounts: 1}, // two executions of o1
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Month != w.Month || g.Accesses != w.Accesses || g.Trades != w.Trades || g.Accounts != w.Accounts ||
			!g.SoldYen.Equal(w.SoldYen) || !g.BoughtYen.Equal(w.BoughtYen) {
			t.Errorf("row %d: got %+v, want %+v", i, g, w)
		}
	}
	var buf bytes.Buffer
	if err := WriteTallyCSV(&buf, got); err != nil {
		t.Fatal(err)
	}
	wantCSV := "month,unauthorized_accesses,unauthorized_trades,sold_yen,bought_yen,accounts_affected\n" +
		"2025-03,1,0,0,0,1\n2025-04,1,2,30100,0,1\n"
	if buf.String() != wantCSV {
		t.Errorf("CSV:\n%s\nwant:\n%s", buf.String(), wantCSV)
	}
}

func float(y money.Yen) float64 {
	f, err := strconv.ParseFloat(y.String(), 64)
	if err != nil {
		panic(err)
	}
	return f
}

// TestAccessesFromOrdersAlone reconstructs the simulated takeovers from their unauthorized orders
// only, as an incident opened by a fraud report names them: every access found must be one of the
// attacker's events (a login of the attacker, or the attacker's first request in a session it did not
// log into), and the attacker's own sessions are found without being named.
func TestAccessesFromOrdersAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates 80,000 events")
	}
	events, tr := simulated(t)
	incs := incidentsFromTruth(tr)
	for i := range incs {
		incs[i].Sessions = nil
	}
	b, err := reconstruct.Collect(context.Background(), bytes.NewReader(events), incs)
	if err != nil {
		t.Fatal(err)
	}
	var found, truth, named int
	for i, tk := range tr.Takeovers {
		if len(incs[i].Orders) == 0 {
			continue
		}
		rec, ierr := b.Reconstruct(&incs[i])
		if ierr != nil {
			t.Fatal(ierr)
		}
		// The truth's accesses: the attacker's logins and, per session it did not log into, its first event.
		want := map[string]string{}
		loggedIn := map[string]bool{}
		for _, e := range tk.Events {
			if e.Type == "login" && e.Result == "success" {
				loggedIn[e.Session] = true
				want[e.ID] = reconstruct.AccessLogin
			}
		}
		used := map[string]bool{}
		for _, e := range tk.Events {
			if e.Session != "" && !loggedIn[e.Session] && !used[e.Session] {
				used[e.Session] = true
				want[e.ID] = reconstruct.AccessFirstUse
			}
		}
		truth += len(want)
		for _, a := range rec.Accesses {
			if kind, ok := want[a.EventID]; !ok || kind != a.Kind {
				t.Errorf("%s: access %s (%s of session %s, %s) is not one of the attacker's: truth %q", tk.Account, a.EventID, a.Kind, a.Session, a.Match, kind)
				continue
			}
			found++
			if a.Match == reconstruct.MatchAddress || a.Match == reconstruct.MatchDevice {
				named++
			}
		}
	}
	t.Logf("accesses found from the orders alone: %d of %d (%d beyond the orders' sessions)", found, truth, named)
	if truth == 0 || found < truth*9/10 {
		t.Errorf("got %d of the truth's %d accesses, want at least 90%%", found, truth)
	}
}
