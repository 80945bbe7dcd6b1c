package profile

import (
	"math"
	"testing"
)

func TestSeenSetForgetsLeastRecent(t *testing.T) {
	var s SeenSet
	for i := uint64(1); i <= 3; i++ {
		s.Add(i, uint32(i*10), 3)
	}
	s.Add(1, 100, 3) // 1 is now the most recent
	s.Add(4, 110, 3) // evicts 2, the least recently seen
	if s.Has(2) || !s.Has(1) || !s.Has(3) || !s.Has(4) || len(s) != 3 {
		t.Errorf("got %+v, want 1, 3, 4", s)
	}
	if e := s.Find(1); e.N != 2 || e.Last != 100 {
		t.Errorf("got %+v, want seen twice, last at 100", e)
	}
}

func TestExecutionsMoveSharesAndCash(t *testing.T) {
	p := &Profile{}
	p.ApplySnapshot(1_000_000, []Position{{Symbol: "7203", Qty: 100, Cost: 2000}}, false, true, "sms_otp", 0)
	p.ApplyExecution("7203", "buy", 100, 2200, 100, 50)
	pos := p.Position("7203")
	if pos.Qty != 200 || pos.Cost != 2100 || p.Cash != 1_000_000-220_000-100 {
		t.Fatalf("after buy: %+v cash %v", pos, p.Cash)
	}
	p.ApplyExecution("7203", "sell", 200, 2300, 0, 60)
	if p.Position("7203") != nil || p.Cash != 1_000_000-220_100+460_000 {
		t.Fatalf("after selling all: %+v cash %v", p.Holdings, p.Cash)
	}
	p.ApplyExecution("9984", "buy", 10, 7000, 0, 70)
	if pos := p.Position("9984"); pos == nil || pos.Since != 70 {
		t.Errorf("new position %+v, want opened at 70", pos)
	}
}

func TestOrderStatistics(t *testing.T) {
	p := &Profile{}
	for _, v := range []float64{1e5, 1e6, 1e7} {
		p.ObserveOrderValue(v)
	}
	if p.Orders != 3 || math.Abs(p.OrderMean-6) > 1e-9 || math.Abs(p.OrderStd()-1) > 1e-9 || p.OrderMax != 1e7 {
		t.Errorf("got n %d mean %v std %v max %v, want 3, 6, 1, 1e7", p.Orders, p.OrderMean, p.OrderStd(), p.OrderMax)
	}
}

func TestAccountsShardsByAccount(t *testing.T) {
	a := NewAccounts()
	a.With("A1", func(p *Profile) { p.Cash = 5 })
	a.With("A2", func(p *Profile) {})
	a.Peek("A1", func(p *Profile) {
		if p == nil || p.Cash != 5 {
			t.Errorf("got %+v", p)
		}
	})
	a.Peek("nobody", func(p *Profile) {
		if p != nil {
			t.Error("Peek created a profile")
		}
	})
	if a.Len() != 2 {
		t.Errorf("got %d profiles, want 2", a.Len())
	}
}
