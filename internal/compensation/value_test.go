package compensation

import (
	"strings"
	"testing"

	"github.com/brokerguard/brokerguard/internal/money"
	"github.com/brokerguard/brokerguard/internal/reconstruct"
)

// Each case is a small timeline on 10 April 2025 (attack) valued at the quotes of 11 April, with the
// figures worked out by hand in the comments.
func TestValueHandComputed(t *testing.T) {
	type want struct {
		loss                            string // exact restore loss
		restore, halfPurchased, halfTot string
	}
	tests := []struct {
		name   string
		build  func(tl *timeline)
		orders []string
		want   want
		check  func(t *testing.T, v *Valuation)
	}{
		{
			// Bought 1,000 X at 100 (fee 500), sold 400 at 90 (fee 200); V_X = 80.
			// restore = (400−1000)×80 − 36,000 + 100,000 + 700 = 16,700.
			// half_purchased: loss_X = 100,000 − 36,000 − 600×80 = 16,000 → 8,000 + 700 + 10,000.
			name: "sells part of what it bought",
			build: func(tl *timeline) {
				tl.Trade("04-10 09:10", "A1", "o1", "s1", "X", "buy", 1000, "100", "500", "cash")
				tl.Trade("04-10 09:20", "A1", "o2", "s1", "X", "sell", 400, "90", "200", "cash")
				tl.Quote("04-11 15:00", "X", "80")
			},
			orders: []string{"o1", "o2"},
			want:   want{"16700", "16700", "18700", "8350"},
		},
		{
			// Bought 500 Y at 200 and sold them at 180 (fees 100 each); no shares left, V_Y = 250 unused.
			// restore = 0 − 90,000 + 100,000 + 200 = 10,200; half_purchased: 10,000/2 + 200 + 10,000.
			name: "buys and sells the same symbol",
			build: func(tl *timeline) {
				tl.Trade("04-10 09:10", "A1", "o1", "s1", "Y", "buy", 500, "200", "100", "cash")
				tl.Trade("04-10 09:40", "A1", "o2", "s1", "Y", "sell", 500, "180", "100", "cash")
				tl.Quote("04-11 15:00", "Y", "250")
			},
			orders: []string{"o1", "o2"},
			want:   want{"10200", "10200", "15200", "5100"},
		},
		{
			// Held 300 Z; sold them at 1,000 (fee 300) and bought 300 back at 1,100 (fee 330); V_Z = 1,050.
			// restore = 0 − 300,000 + 330,000 + 630 = 30,630; half_purchased: loss_Z = 30,000 →
			// 15,000 + 630 + 10,000.
			name: "sells a pre-held symbol and buys it back",
			build: func(tl *timeline) {
				tl.Snapshot("04-10 06:00", "A1", "Z:300")
				tl.Trade("04-10 09:10", "A1", "o1", "s1", "Z", "sell", 300, "1000", "300", "cash")
				tl.Trade("04-10 09:30", "A1", "o2", "s1", "Z", "buy", 300, "1100", "330", "cash")
				tl.Quote("04-11 15:00", "Z", "1050")
			},
			orders: []string{"o1", "o2"},
			want:   want{"30630", "30630", "25630", "15315"},
			check: func(t *testing.T, v *Valuation) {
				if got := v.Symbols[0].HeldBefore; got != 300 {
					t.Errorf("held before: got %d, want 300", got)
				}
			},
		},
		{
			// Held 1,000 P; the attacker sold them at 2,000 (fee 1,000) and bought 10,000 S at 150 (fee
			// 1,500). V_P = 2,100, V_S = 100. restore = 1,000×2,100 − 10,000×100 − 2,000,000 + 1,500,000
			// + 2,500 = 602,500. half_purchased counts S only: loss_S = 1,500,000 − 1,000,000 = 500,000 →
			// 250,000 + 2,500 + 10,000 (the forced sale of P is not compensated, its fee is refunded).
			name: "forced sale of holdings and a pumped buy",
			build: func(tl *timeline) {
				tl.Snapshot("04-10 06:00", "A1", "P:1000")
				tl.Trade("04-10 09:10", "A1", "o1", "s1", "P", "sell", 1000, "2000", "1000", "nisa")
				tl.Trade("04-10 09:30", "A1", "o2", "s1", "S", "buy", 10000, "150", "1500", "cash")
				tl.Quote("04-11 15:00", "P", "2100")
				tl.Quote("04-11 15:00", "S", "100")
			},
			orders: []string{"o1", "o2"},
			want:   want{"602500", "602500", "262500", "301250"},
		},
		{
			// Bought 12,345 units of fund F at 1.0514 (V_F = 1.0415) and sold 7 pre-held G at 123.5
			// (V_G = 130.2), no fees. F: −12,345×1.0415 + 12,979.533 = 122.2155. G: 7×130.2 − 864.5 = 46.9.
			// restore = 169.1155 → 169 (rounding each symbol first would give 168); half_total =
			// floor(84.55775); half_purchased = floor(61.10775 + 10,000).
			name: "fractional prices",
			build: func(tl *timeline) {
				tl.Snapshot("04-10 06:00", "A1", "G:7")
				tl.Trade("04-10 09:10", "A1", "o1", "s1", "F", "buy", 12345, "1.0514", "0", "nisa")
				tl.Trade("04-10 09:20", "A1", "o2", "s1", "G", "sell", 7, "123.5", "0", "cash")
				tl.Quote("04-11 15:00", "F", "1.0415")
				tl.Quote("04-11 15:00", "G", "130.2")
			},
			orders: []string{"o1", "o2"},
			want:   want{"169.1155", "169", "10061", "84"},
			check: func(t *testing.T, v *Valuation) {
				if got := v.Symbols[0].BoughtYen.String(); got != "12979.533" {
					t.Errorf("F bought yen: got %s, want 12979.533", got)
				}
			},
		},
		{
			// Bought 2,000 M at 300 on margin (fee 660); V_M = 240. The customer holds the shares and owes
			// 600,660: restore = −480,000 + 600,000 + 660 = 120,660; half_purchased: 60,000 + 660 + 10,000.
			name: "margin buy",
			build: func(tl *timeline) {
				tl.Trade("04-10 09:10", "A1", "o1", "s1", "M", "buy", 2000, "300", "660", "margin")
				tl.Quote("04-11 15:00", "M", "240")
			},
			orders: []string{"o1"},
			want:   want{"120660", "120660", "70660", "60330"},
			check: func(t *testing.T, v *Valuation) {
				if got := strings.Join(v.Symbols[0].AccountTypes, ","); got != "margin" {
					t.Errorf("account types: got %q, want margin", got)
				}
			},
		},
		{
			// Sold 100 pre-held A at 500 without a fee and A is still 500: nothing lost. half_purchased
			// still pays its fixed 10,000 yen (no symbol bought, no fees).
			name: "no loss",
			build: func(tl *timeline) {
				tl.Snapshot("04-10 06:00", "A1", "A:100")
				tl.Trade("04-10 09:10", "A1", "o1", "s1", "A", "sell", 100, "500", "0", "cash")
				tl.Quote("04-11 15:00", "A", "500")
			},
			orders: []string{"o1"},
			want:   want{"0", "0", "10000", "0"},
		},
		{
			// Bought 1,000 B at 100 and B rose to 130: a gain of 30,000. No compensation beyond
			// half_purchased's fixed 10,000 (loss_B = −30,000 counts as 0).
			name: "a gain",
			build: func(tl *timeline) {
				tl.Trade("04-10 09:10", "A1", "o1", "s1", "B", "buy", 1000, "100", "0", "cash")
				tl.Quote("04-11 15:00", "B", "130")
			},
			orders: []string{"o1"},
			want:   want{"-30000", "0", "10000", "0"},
		},
		{
			// The customer's own trades before and after the incident do not count; only the orders
			// named do. Held 500 C, bought 200 more themselves; the attacker sold 700 at 400 (fee 0);
			// V_C = 380: restore = 700×380 − 280,000 = −14,000 (a gain: sold high).
			name: "customer's own trades are left out",
			build: func(tl *timeline) {
				tl.Snapshot("04-10 06:00", "A1", "C:500")
				tl.Trade("04-10 08:00", "A1", "c1", "s0", "C", "buy", 200, "390", "100", "cash")
				tl.Trade("04-10 09:10", "A1", "o1", "s1", "C", "sell", 700, "400", "0", "cash")
				tl.Trade("04-11 10:00", "A1", "c2", "s2", "C", "buy", 700, "385", "100", "cash")
				tl.Quote("04-11 15:00", "C", "380")
			},
			orders: []string{"o1"},
			want:   want{"-14000", "0", "10000", "0"},
			check: func(t *testing.T, v *Valuation) {
				if got := v.Symbols[0].HeldBefore; got != 700 {
					t.Errorf("held before: got %d, want 700", got)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tl timeline
			tc.build(&tl)
			inc := reconstruct.Claim{Account: "A1", Orders: tc.orders}
			b := collect(t, &tl, inc)
			v, err := Value(reconstructOf(t, b, inc), b, day(t, "2025-04-11"))
			if err != nil {
				t.Fatal(err)
			}
			got := want{v.RestoreLoss.String(), v.Amounts.Restore.String(), v.Amounts.HalfPurchased.String(), v.Amounts.HalfTotal.String()}
			if got != tc.want {
				t.Errorf("got restore loss %s, restore %s, half_purchased %s, half_total %s;\nwant %s, %s, %s, %s",
					got.loss, got.restore, got.halfPurchased, got.halfTot, tc.want.loss, tc.want.restore, tc.want.halfPurchased, tc.want.halfTot)
			}
			var sum money.Yen
			for _, s := range v.Symbols {
				sum = sum.Add(s.RestoreLoss)
			}
			if !sum.Equal(v.RestoreLoss) {
				t.Errorf("per-symbol restore losses add up to %s, total is %s", sum, v.RestoreLoss)
			}
			if tc.check != nil {
				tc.check(t, v)
			}
		})
	}
}

func TestValuationPriceFallsBackToExecution(t *testing.T) {
	var tl timeline
	tl.Trade("04-10 09:10", "A1", "o1", "s1", "T", "buy", 100, "300", "0", "cash")
	tl.Trade("04-10 14:00", "B2", "b1", "t1", "T", "sell", 100, "280.5", "0", "cash") // another customer's
	tl.Trade("04-14 09:00", "B2", "b2", "t1", "T", "sell", 100, "999", "0", "cash")   // after the valuation date
	inc := reconstruct.Claim{Account: "A1", Orders: []string{"o1"}}
	b := collect(t, &tl, inc)
	v, err := Value(reconstructOf(t, b, inc), b, day(t, "2025-04-11"))
	if err != nil {
		t.Fatal(err)
	}
	p := v.Symbols[0].Price
	if p == nil || p.Source != reconstruct.SourceExecution || p.Price.String() != "280.5" {
		t.Fatalf("valuation price: got %+v, want the execution at 280.5", p)
	}
	if got := v.RestoreLoss.String(); got != "1950" { // 30,000 − 100×280.5
		t.Errorf("restore loss: got %s, want 1950", got)
	}
	if len(v.Notes) != 1 || !strings.Contains(v.Notes[0], "no quote") {
		t.Errorf("notes: got %q, want one saying there was no quote", v.Notes)
	}
	// Before any price of T exists there is nothing to value the shares with.
	if _, err := Value(reconstructOf(t, b, inc), b, day(t, "2025-04-09")); err == nil || !strings.Contains(err.Error(), "symbol T") {
		t.Errorf("no price: got %v, want an error naming the symbol", err)
	}
}

func TestDefaultValuationDay(t *testing.T) {
	build := func(report bool) (*reconstruct.Book, reconstruct.Claim) {
		var tl timeline
		tl.Login("04-24 09:00", "A1", "s1")
		tl.Trade("04-24 09:10", "A1", "o1", "s1", "X", "buy", 100, "100", "0", "cash")
		for _, d := range []string{"04-24", "04-25", "04-28", "04-30", "05-01", "05-02", "05-07"} {
			tl.Quote(d+" 15:00", "X", "90")
		}
		if report {
			tl.Report("05-02 20:00", "A1")
		}
		inc := reconstruct.Claim{Account: "A1", Orders: []string{"o1"}}
		return collect(t, &tl, inc), inc
	}
	tests := []struct {
		name       string
		report     bool
		reportTime string
		want       string
		basis      string
	}{
		// Thursday 24 April: the next trading day is Friday 25.
		{"no report: after the last unauthorized event", false, "", "2025-04-25", BasisLastEvent},
		// Friday 2 May: 3-6 May are a weekend and holidays (no quotes), 7 May is the next trading day.
		{"fraud report in the log", true, "", "2025-05-07", BasisFraudReport},
		// Monday 28 April: 29 April is a holiday (no quotes between quoted days).
		{"report time of the incident wins", true, "2025-04-28T21:00:00+09:00", "2025-04-30", BasisReportTime},
		// Reported after the end of the log: weekdays count as trading days.
		{"after the log", false, "2025-05-09T10:00:00+09:00", "2025-05-12", BasisReportTime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, inc := build(tc.report)
			if tc.reportTime != "" {
				inc.ReportTime = mustTime(t, tc.reportTime)
			}
			d, basis, _ := ValuationDay(reconstructOf(t, b, inc), b)
			if d.String() != tc.want || basis != tc.basis {
				t.Errorf("got %s (%s), want %s (%s)", d, basis, tc.want, tc.basis)
			}
		})
	}
}

func TestReconstructErrors(t *testing.T) {
	var tl timeline
	tl.Login("04-10 09:00", "A1", "s1")
	tl.Trade("04-10 09:10", "A1", "o1", "s1", "X", "buy", 100, "100", "0", "cash")
	tl.Trade("04-10 09:10", "B2", "o2", "t1", "X", "buy", 100, "100", "0", "cash")
	tests := []struct {
		inc  reconstruct.Claim
		want string
	}{
		{reconstruct.Claim{Line: 4, Account: "A9", Orders: []string{"o1"}}, `incidents line 4: account "A9": no events`},
		{reconstruct.Claim{Line: 5, Account: "A1", Orders: []string{"o1", "o7"}}, `incidents line 5: order "o7": not in the event log`},
		{reconstruct.Claim{Line: 6, Account: "A1", Orders: []string{"o2"}}, `incidents line 6: order "o2": belongs to account "B2", not "A1"`},
		{reconstruct.Claim{Line: 7, Account: "A1", Orders: []string{"o1"}, Sessions: []string{"s9"}}, `incidents line 7: session "s9"`},
	}
	incs := make([]reconstruct.Claim, len(tests))
	for i, tc := range tests {
		incs[i] = tc.inc
	}
	b := collect(t, &tl, incs...)
	for _, tc := range tests {
		_, err := b.Reconstruct(&tc.inc)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

func TestDuplicateEventsCountOnce(t *testing.T) {
	var tl timeline
	tl.Trade("04-10 09:10", "A1", "o1", "s1", "X", "buy", 100, "100", "10", "cash")
	tl.Repeat() // the execution again, same id
	tl.Quote("04-11 15:00", "X", "90")
	inc := reconstruct.Claim{Account: "A1", Orders: []string{"o1"}}
	b := collect(t, &tl, inc)
	v, err := Value(reconstructOf(t, b, inc), b, day(t, "2025-04-11"))
	if err != nil {
		t.Fatal(err)
	}
	if got := v.RestoreLoss.String(); got != "1010" {
		t.Errorf("restore loss: got %s, want 1010 (the repeated execution ignored)", got)
	}
	if b.Stats().Duplicates != 1 {
		t.Errorf("duplicates: got %d, want 1", b.Stats().Duplicates)
	}
}
