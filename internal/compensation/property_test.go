package compensation

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/brokerguard/brokerguard/internal/reconstruct"
)

// TestRestoreLossIsCounterfactualMinusActual checks the restore formula against its meaning on random
// accounts: replay the account's cash and holdings with every execution (actual) and without the
// unauthorized ones (counterfactual), value both at the valuation prices, and the difference must be
// the restore loss, exactly. The replay uses math/big rationals, not this package's arithmetic.
func TestRestoreLossIsCounterfactualMinusActual(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 2025))
	symbols := []string{"1301", "7992", "8012", "0497486A"}
	for iter := range 300 {
		var tl timeline
		holdings := map[string]int64{}
		var hs []string
		for _, s := range symbols {
			if rng.IntN(2) == 0 {
				q := int64(rng.IntN(50)+1) * 100
				holdings[s] = q
				hs = append(hs, fmt.Sprintf("%s:%d", s, q))
			}
		}
		tl.Snapshot("04-10 06:00", "A1", hs...)
		cash := new(big.Rat)
		actual := map[string]*big.Rat{}
		counter := map[string]*big.Rat{}
		cfCash := new(big.Rat)
		for _, s := range symbols {
			actual[s] = new(big.Rat).SetInt64(holdings[s])
			counter[s] = new(big.Rat).SetInt64(holdings[s])
		}
		var unauthorized []string
		n := rng.IntN(12) + 1
		for i := range n {
			s := symbols[rng.IntN(len(symbols))]
			side := []string{"buy", "sell"}[rng.IntN(2)]
			qty := int64(rng.IntN(3000) + 1)
			price := decimal(rng, 3, 1+rng.IntN(4)) // up to 999.9999
			fee := decimal(rng, 4, rng.IntN(2))
			id := fmt.Sprintf("o%d", i)
			session := "own"
			attacker := rng.IntN(3) > 0
			if attacker {
				session = "attacker"
				unauthorized = append(unauthorized, id)
			}
			when := fmt.Sprintf("04-10 %02d:%02d", 9+i/6, (i%6)*10)
			accountType := []string{"cash", "margin", "nisa"}[rng.IntN(3)]
			tl.Trade(when, "A1", id, session, s, side, qty, price, fee, accountType)

			value := new(big.Rat).Mul(rat(price), new(big.Rat).SetInt64(qty))
			books := []struct {
				cash *big.Rat
				held map[string]*big.Rat
			}{{cash, actual}}
			if !attacker {
				books = append(books, struct {
					cash *big.Rat
					held map[string]*big.Rat
				}{cfCash, counter})
			}
			for _, bk := range books {
				q := new(big.Rat).SetInt64(qty)
				if side == "buy" {
					bk.cash.Sub(bk.cash, value)
					bk.held[s].Add(bk.held[s], q)
				} else {
					bk.cash.Add(bk.cash, value)
					bk.held[s].Sub(bk.held[s], q)
				}
				bk.cash.Sub(bk.cash, rat(fee))
			}
		}
		if len(unauthorized) == 0 {
			continue
		}
		prices := map[string]string{}
		for _, s := range symbols {
			prices[s] = decimal(rng, 3, 1+rng.IntN(2))
			tl.Quote("04-11 15:00", s, prices[s])
		}
		worth := func(cash *big.Rat, held map[string]*big.Rat) *big.Rat {
			w := new(big.Rat).Set(cash)
			for _, s := range symbols {
				w.Add(w, new(big.Rat).Mul(held[s], rat(prices[s])))
			}
			return w
		}
		want := new(big.Rat).Sub(worth(cfCash, counter), worth(cash, actual))

		inc := reconstruct.Claim{Account: "A1", Orders: unauthorized}
		b := collect(t, &tl, inc)
		v, err := Value(reconstructOf(t, b, inc), b, day(t, "2025-04-11"))
		if err != nil {
			t.Fatal(err)
		}
		if got := rat(v.RestoreLoss.String()); got.Cmp(want) != 0 {
			t.Fatalf("case %d: restore loss %s, want counterfactual − actual = %s\n%s", iter, v.RestoreLoss, want.FloatString(6), tl.String())
		}
		wantRestore := new(big.Rat)
		if want.Sign() > 0 {
			wantRestore.Set(want)
		}
		floor := new(big.Int).Quo(wantRestore.Num(), wantRestore.Denom()) // non-negative: truncation is floor
		if v.Amounts.Restore.String() != floor.String() {
			t.Fatalf("case %d: restore amount %s, want %s", iter, v.Amounts.Restore, floor)
		}
	}
}

// decimal returns a random positive decimal literal with up to intDigits digits before the point and
// fracDigits after it.
func decimal(rng *rand.Rand, intDigits, fracDigits int) string {
	whole := rng.IntN(pow10(intDigits)-1) + 1
	if fracDigits == 0 {
		return fmt.Sprint(whole)
	}
	return fmt.Sprintf("%d.%0*d", whole, fracDigits, rng.IntN(pow10(fracDigits)))
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("not a decimal: " + s)
	}
	return r
}
