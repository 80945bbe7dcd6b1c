// Package market keeps the state of every instrument: reference data (market, lot, shares outstanding,
// previous close, average daily volume) and today's trading from quotes (price, volume). It is reference
// data that every account partition reads; it is written only by instrument and quote events.
package market

import (
	"math"
	"sync"
	"time"
)

// Instrument is the known state of one symbol.
type Instrument struct {
	Symbol            string
	Name              string
	Market            string
	Lot               int64
	SharesOutstanding float64
	PrevClose         float64
	ADV               float64 // average daily volume, shares

	Price         float64 // last quoted price, 0 before the first quote
	Day           int32   // JST day number of DayVolume
	DayVolume     int64   // shares traded in the market today
	DayOpen       float64 // first quoted price today
	PrevDayVolume int64
	// AuctionVolume is the part of DayVolume quoted in the first 90 seconds of the morning and
	// afternoon sessions: the opening auctions, which clear the orders queued overnight or over lunch.
	AuctionVolume int64
	LastQuote     time.Time
	// DailyMove is the typical size of a day's price move, |ln(close/previous close)|, averaged
	// exponentially over the days seen (0 until two closes are known).
	DailyMove float64
}

// inAuction reports whether t (JST) is within 90 seconds after 09:00 or 12:30.
func inAuction(t time.Time) bool {
	s := (t.Unix() + 9*3600) % 86400
	return (s >= 9*3600 && s < 9*3600+90) || (s >= 12*3600+1800 && s < 12*3600+1800+90)
}

// RefPrice is the best known price: the last quote, else the previous close.
func (i *Instrument) RefPrice() float64 {
	if i.Price > 0 {
		return i.Price
	}
	return i.PrevClose
}

// MarketCap is the market value in yen (0 when shares outstanding are unknown).
func (i *Instrument) MarketCap() float64 { return i.SharesOutstanding * i.RefPrice() }

// ADValue is the average daily traded value in yen.
func (i *Instrument) ADValue() float64 { return i.ADV * i.RefPrice() }

var jst = time.FixedZone("JST", 9*3600)

// JST is Japan Standard Time, the market's clock.
func JST() *time.Location { return jst }

// DayNumber is the JST calendar day of t, counted from the Unix epoch.
func DayNumber(t time.Time) int32 { return int32((t.Unix() + 9*3600) / 86400) }

// Market is the set of instruments, safe for concurrent use, sharded by symbol.
type Market struct {
	shards [numShards]shard
}

const numShards = 64

type shard struct {
	mu sync.RWMutex
	m  map[string]*Instrument
	_  [32]byte
}

// New returns an empty market.
func New() *Market {
	mk := &Market{}
	for i := range mk.shards {
		mk.shards[i].m = make(map[string]*Instrument)
	}
	return mk
}

func (mk *Market) shard(symbol string) *shard {
	h := uint32(2166136261)
	for i := 0; i < len(symbol); i++ {
		h ^= uint32(symbol[i])
		h *= 16777619
	}
	return &mk.shards[h%numShards]
}

// ApplyInstrument records reference data for a symbol.
func (mk *Market) ApplyInstrument(symbol, name, market string, lot int64, shares, prevClose, adv float64) {
	sh := mk.shard(symbol)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	in := sh.m[symbol]
	if in == nil {
		in = &Instrument{Symbol: symbol}
		sh.m[symbol] = in
	}
	in.Name, in.Market, in.Lot, in.SharesOutstanding, in.PrevClose, in.ADV = name, market, lot, shares, prevClose, adv
}

// ApplyQuote records a quote: the last price and the volume since the previous quote.
func (mk *Market) ApplyQuote(symbol string, t time.Time, price float64, volume int64) {
	day := DayNumber(t)
	sh := mk.shard(symbol)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	in := sh.m[symbol]
	if in == nil {
		in = &Instrument{Symbol: symbol}
		sh.m[symbol] = in
	}
	if day != in.Day {
		if in.Day != 0 {
			in.PrevDayVolume = in.DayVolume
			if in.Price > 0 {
				if in.PrevClose > 0 {
					move := math.Abs(math.Log(in.Price / in.PrevClose))
					if in.DailyMove == 0 {
						in.DailyMove = move
					} else {
						in.DailyMove = 0.8*in.DailyMove + 0.2*move
					}
				}
				in.PrevClose = in.Price
			}
		}
		in.Day, in.DayVolume, in.DayOpen, in.AuctionVolume = day, 0, price, 0
	}
	in.Price = price
	in.DayVolume += volume
	if inAuction(t) {
		in.AuctionVolume += volume
	}
	in.LastQuote = t
}

// Get returns a copy of a symbol's state.
func (mk *Market) Get(symbol string) (Instrument, bool) {
	sh := mk.shard(symbol)
	sh.mu.RLock()
	in := sh.m[symbol]
	var out Instrument
	if in != nil {
		out = *in
	}
	sh.mu.RUnlock()
	return out, in != nil
}

// Price returns the best known price of symbol, 0 when unknown.
func (mk *Market) Price(symbol string) float64 {
	sh := mk.shard(symbol)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if in := sh.m[symbol]; in != nil {
		return in.RefPrice()
	}
	return 0
}

// Len returns the number of instruments.
func (mk *Market) Len() int {
	n := 0
	for i := range mk.shards {
		sh := &mk.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
