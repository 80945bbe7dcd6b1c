package market

import (
	"math"
	"testing"
	"time"
)

func TestQuotesKeepTheDayAndTheTypicalMove(t *testing.T) {
	mk := New()
	mk.ApplyInstrument("8012", "Thin", "growth", 100, 9e6, 200, 30000)
	at := func(day, hh, mm, ss int) time.Time { return time.Date(2025, 4, day, hh, mm, ss, 0, JST()) }
	// Day 1: the opening auction at 09:00:30, then continuous trading; close 210.
	mk.ApplyQuote("8012", at(7, 9, 0, 30), 205, 5000)
	mk.ApplyQuote("8012", at(7, 10, 0, 0), 210, 1000)
	in, _ := mk.Get("8012")
	if in.DayVolume != 6000 || in.AuctionVolume != 5000 || in.DayOpen != 205 {
		t.Fatalf("day 1: %+v", in)
	}
	// Day 2: the previous close and volume roll; the typical move is |ln(210/200)|.
	mk.ApplyQuote("8012", at(8, 12, 30, 40), 189, 700)
	in, _ = mk.Get("8012")
	if in.PrevClose != 210 || in.PrevDayVolume != 6000 || in.DayVolume != 700 || in.AuctionVolume != 700 {
		t.Fatalf("day 2: %+v", in)
	}
	if want := math.Log(210.0 / 200); math.Abs(in.DailyMove-want) > 1e-12 {
		t.Errorf("daily move %v, want %v", in.DailyMove, want)
	}
	// Day 3: averaged with |ln(189/210)|.
	mk.ApplyQuote("8012", at(9, 9, 30, 0), 190, 100)
	in, _ = mk.Get("8012")
	if want := 0.8*math.Log(210.0/200) + 0.2*math.Abs(math.Log(189.0/210)); math.Abs(in.DailyMove-want) > 1e-12 {
		t.Errorf("daily move %v, want %v", in.DailyMove, want)
	}
	if in.AuctionVolume != 0 {
		t.Errorf("a 09:30 quote counted as auction volume: %+v", in)
	}
}
