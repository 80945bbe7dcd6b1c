package report

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/brokerguard/brokerguard/internal/compensation"
	"github.com/brokerguard/brokerguard/internal/reconstruct"
)

// BenchmarkValue values one incident of a typical size: six holdings sold, a small cap bought in 40
// steps, quotes every minute of a day.
func BenchmarkValue(b *testing.B) {
	var tl timeline
	syms := []string{"1301", "2579", "3291", "6302", "7803", "0497486A"}
	var hs []string
	for _, s := range syms {
		hs = append(hs, s+":1000")
	}
	tl.Snapshot("04-10 06:00", "A1", hs...)
	var orders []string
	for i, s := range syms {
		id := fmt.Sprintf("s%d", i)
		tl.Trade(fmt.Sprintf("04-10 09:%02d", i), "A1", id, "s1", s, "sell", 1000, "1234.5", "550", "nisa")
		orders = append(orders, id)
	}
	for i := range 40 {
		id := fmt.Sprintf("b%d", i)
		tl.Trade(fmt.Sprintf("04-10 10:%02d", i), "A1", id, "s1", "8012", "buy", 300, fmt.Sprintf("%d.%d", 250+i, i%10), "110", "margin")
		orders = append(orders, id)
	}
	for m := range 330 {
		for _, s := range append(syms, "8012") {
			tl.Quote(fmt.Sprintf("04-11 %02d:%02d", 9+m/60, m%60), s, fmt.Sprintf("%d.5", 200+m%50))
		}
	}
	inc := reconstruct.Claim{Account: "A1", Orders: orders}
	bk := collect(b, &tl, inc)
	rec := reconstructOf(b, bk, inc)
	d := day(b, "2025-04-11")
	p, _ := compensation.Builtin(compensation.BaseHalfPurchased)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		v, err := compensation.Value(rec, bk, d)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Decide(v, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCollect reads the small simulated scenario's log for all its takeovers.
func BenchmarkCollect(b *testing.B) {
	events, tr := simulated(b)
	incs := incidentsFromTruth(tr)
	b.SetBytes(int64(len(events)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := reconstruct.Collect(context.Background(), bytes.NewReader(events), incs); err != nil {
			b.Fatal(err)
		}
	}
}
