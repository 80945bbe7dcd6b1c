// Package campaign is brokerguard's cross-account layer: it sees what one account's profile cannot.
// Per symbol it follows the firm's customers' buys (herding of hijacked accounts into a thin stock,
// rush orders) against the symbol's market ramp (volume against its average, price against its
// previous close) and raises a campaign alert; it finds the beneficiaries who bought before the ramp
// and sell into it; it links accounts through shared infrastructure (devices, addresses, withdrawal
// destinations) with a union-find and raises shared-infrastructure alerts; and it keeps the watchlist
// of symbols and infrastructure that per-account decisions read at once. Fraud reports feed it: the
// reported account's recent infrastructure and symbols are watched and the accounts sharing them named.
//
// Every method takes event time, never the wall clock, and visits state in a fixed order, so replay
// stays deterministic. State is partitioned by symbol and guarded by its own locks; the engine calls
// it outside any account's lock.
package campaign

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/market"
)

// Config tunes the layer. Zero fields get defaults.
type Config struct {
	// HerdWindow is how long a hijack-like buy counts toward its symbol's evidence: it halves every
	// HerdWindow seconds of trading (nights and weekends do not count) and is forgotten after a whole
	// session (default 10800).
	HerdWindow uint32 `yaml:"herd_window_seconds" json:"herd_window_seconds"`
	// ThinValue is the average daily traded value in yen below which a symbol is thin (default 300M).
	ThinValue float64 `yaml:"thin_value_yen" json:"thin_value_yen"`
	// WatchTTL is how long automatic watchlist entries last, in seconds (default 3 days).
	WatchTTL uint32 `yaml:"watch_ttl_seconds" json:"watch_ttl_seconds"`
	// Lookback is how long before a campaign a beneficiary's position may have been opened (default 14 days).
	Lookback uint32 `yaml:"beneficiary_lookback_seconds" json:"beneficiary_lookback_seconds"`
	// NewAccount is the age below which an account counts as recently opened (default 120 days).
	NewAccount uint32 `yaml:"new_account_seconds" json:"new_account_seconds"`
	// LinkWindow is how long a shared resource links the accounts that used it (default 7 days).
	LinkWindow uint32 `yaml:"link_window_seconds" json:"link_window_seconds"`
	// UnderWay is how long after a campaign alert the firm counts as under attack (default 90 minutes): the
	// same crew is taking over more accounts, and sells from unfamiliar access are held.
	UnderWay uint32 `yaml:"under_way_seconds" json:"under_way_seconds"`
}

func (c *Config) defaults() {
	const day = 86400
	if c.HerdWindow == 0 {
		c.HerdWindow = 3 * 3600
	}
	if c.ThinValue == 0 {
		c.ThinValue = 300e6
	}
	if c.WatchTTL == 0 {
		c.WatchTTL = 3 * day
	}
	if c.Lookback == 0 {
		c.Lookback = 14 * day
	}
	if c.NewAccount == 0 {
		c.NewAccount = 120 * day
	}
	if c.LinkWindow == 0 {
		c.LinkWindow = 7 * day
	}
	if c.UnderWay == 0 {
		c.UnderWay = 90 * 60
	}
}

// Layer is the campaign layer. It is safe for concurrent use.
type Layer struct {
	cfg   Config
	watch *Watchlist

	symMu   sync.Mutex
	symbols map[string]*symbol

	graph graph

	// Each account's latest hijack-like first buys of thin symbols (guarded by symMu).
	firstBuys map[string][]firstBuy

	// The latest campaign alert, read by every decision (an atomic load, no lock).
	last atomic.Pointer[lastCampaign]
}

// lastCampaign is when the latest campaign alert was raised (unix seconds) and on which symbol.
type lastCampaign struct {
	t      uint32
	symbol string
}

// UnderWay reports whether a campaign alert was raised within the configured period before at: its
// symbol and how many seconds ago.
func (l *Layer) UnderWay(at uint32) (symbol string, age uint32, ok bool) {
	c := l.last.Load()
	if c == nil || at < c.t || at > c.t+l.cfg.UnderWay {
		return "", 0, false
	}
	return c.symbol, at - c.t, true
}

// New returns an empty layer.
func New(cfg Config) *Layer {
	cfg.defaults()
	return &Layer{cfg: cfg, watch: newWatchlist(), symbols: map[string]*symbol{}, graph: newGraph(), firstBuys: map[string][]firstBuy{}}
}

// Watchlist returns the layer's watchlist.
func (l *Layer) Watchlist() *Watchlist { return l.watch }

// Config returns the layer's configuration with defaults filled in.
func (l *Layer) Config() Config { return l.cfg }

// Order is what the layer learns of an order once the account's decision is made.
type Order struct {
	ID      string
	Account string
	Symbol  string
	Side    string
	Time    time.Time
	Qty     int64
	Value   float64 // yen
	Market  bool    // a market order
	Addr    netip.Addr
	Device  string
	// Anonymous is set when the address is a hosting or VPN network (watched by block, not address).
	Anonymous bool
	// ForeignAddr and ForeignDevice are set when the address's network, or the device, is not the
	// account's own: only those are the attacker's to watch (a stolen session carries the victim's
	// device id; a carrier's NAT address is shared by thousands).
	ForeignAddr   bool
	ForeignDevice bool
	// Ins is the symbol's market state when the order came; nil when the symbol is unknown.
	Ins *market.Instrument

	// What the account's decision saw.
	Takeover   bool   // signs that someone else is at the keyboard
	Signs      string // those signs, for alert details
	Liquidated bool   // the account sold most of its holdings just before
	// Intruder is set when the signs are those of someone else at the keyboard, not of the customer
	// on a new device or network: a session from a network and a client both new to the account, a
	// session that moved to another network or client mid-way, infrastructure shared with other
	// accounts or watched, or a login during a credential-stuffing wave.
	Intruder    bool
	FirstTime   bool // the account never held or traded the symbol
	FirstMargin bool // the account's first margin order
	Stopped     bool // the order was held or blocked
	Score       int

	// For sells: when the account opened its position in the symbol (0: before the data), and when the
	// account was opened (0: unknown).
	PositionSince   uint32
	PositionLastBuy uint32
	PositionBuyDays int
	PositionQty     int64
	AccountOpened   uint32

	// Set by the layer for limit sells: above the market, and above the account's previous limit.
	limitAbove, limitRising bool
}

// hijackLike reports whether a buy looks driven by someone else: a first buy of the symbol by an
// account showing takeover signs or just liquidated.
func (o *Order) hijackLike() bool {
	return (o.Takeover || o.Liquidated) && (o.FirstTime || o.FirstMargin)
}

// strong reports a hijack-like buy with the whole pattern: takeover signs and a liquidation just
// before. (Whether the buy was stopped does not count: a watched symbol stops buys itself.)
func (o *Order) strong() bool {
	return o.hijackLike() && o.Takeover && o.Liquidated
}

// thin reports whether a symbol trades little enough to be pumped.
func (l *Layer) thin(ins *market.Instrument) bool {
	if ins == nil {
		return false
	}
	v := ins.ADValue()
	return v > 0 && v < l.cfg.ThinValue
}

// Order records a decided order and returns the alerts it raises: campaign (herding into the symbol,
// with its market ramp) and beneficiary (a sell into a campaign by an account that bought before it).
func (l *Layer) Order(o *Order) []event.Alert {
	if o.Symbol == "" || !l.thin(o.Ins) {
		return nil
	}
	t := unix(o.Time)
	l.symMu.Lock()
	defer l.symMu.Unlock()
	s := l.symbols[o.Symbol]
	if s == nil {
		s = &symbol{name: o.Symbol}
		l.symbols[o.Symbol] = s
	}
	if d := market.DayNumber(o.Time); d != s.ordDay {
		s.ordDay, s.ordQty = d, 0
	}
	s.ordQty += o.Qty
	var out []event.Alert
	switch o.Side {
	case "buy":
		if a, ok := l.buy(s, o, t); ok {
			out = append(out, a)
			if b, ok := l.lookBack(s, o.ID, o.Time, t); ok {
				out = append(out, b)
			}
		}
	case "sell":
		if b, ok := l.sell(s, o, t); ok {
			out = append(out, b)
		}
	}
	return out
}

// Campaign returns the symbol's current campaign, if one was detected within the watch period.
func (l *Layer) Campaign(symbol string, at time.Time) (Campaign, bool) {
	t := unix(at)
	l.symMu.Lock()
	defer l.symMu.Unlock()
	s := l.symbols[symbol]
	if s == nil || s.since == 0 || t > s.since+l.cfg.WatchTTL {
		return Campaign{}, false
	}
	return s.campaign(), true
}

// Campaigns lists the campaigns detected within the watch period before at, most recent first.
func (l *Layer) Campaigns(at time.Time) []Campaign {
	t := unix(at)
	l.symMu.Lock()
	var out []Campaign
	for _, s := range l.symbols {
		if s.since != 0 && t <= s.since+l.cfg.WatchTTL {
			out = append(out, s.campaign())
		}
	}
	l.symMu.Unlock()
	slices.SortFunc(out, func(a, b Campaign) int { return b.Since.Compare(a.Since) })
	return out
}

// Campaign is a detected campaign on one symbol.
type Campaign struct {
	Symbol        string    `json:"symbol"`
	Since         time.Time `json:"since"`
	Alert         string    `json:"alert"`
	Victims       []string  `json:"victims"`
	Beneficiaries []string  `json:"beneficiaries"`
}

func unix(t time.Time) uint32 {
	s := t.Unix()
	if s < 0 {
		return 0
	}
	return uint32(s)
}

// Ramp is a symbol's market move today.
type Ramp struct {
	// VolumeRatio is today's continuous-session volume beyond the firm's own customers over what an
	// average day trades by this time of day.
	VolumeRatio float64
	// Excess is today's volume beyond that expectation, in average days.
	Excess float64
	// PrevDayRatio is today's volume over the whole previous day's.
	PrevDayRatio float64
	// Rise is the price change from the previous close; RiseSigma is its log in units of the symbol's
	// typical daily move (0 when that is not known yet).
	Rise      float64
	RiseSigma float64
}

// tradingMinutes is the length of the Tokyo session: 09:00-11:30 and 12:30-15:30.
const tradingMinutes = 300

// elapsedMinutes returns the trading minutes of the JST day elapsed at t.
func elapsedMinutes(t uint32) float64 {
	m := float64((int64(t)+9*3600)%86400) / 60
	switch {
	case m < 540:
		return 0
	case m < 690:
		return m - 540
	case m < 750:
		return 150
	case m < 930:
		return m - 600
	}
	return tradingMinutes
}

// RampOf measures a symbol's move today at t from its quotes.
func RampOf(ins *market.Instrument, t uint32) Ramp { return rampOf(ins, t, 0) }

// Ramp measures a symbol's move today at t, leaving out the firm's own customers' buys today: what
// remains is the market beyond the firm.
func (l *Layer) Ramp(ins *market.Instrument, t uint32) Ramp {
	if ins == nil {
		return Ramp{}
	}
	l.symMu.Lock()
	defer l.symMu.Unlock()
	if s := l.symbols[ins.Symbol]; s != nil {
		return l.rampFor(s, ins, t)
	}
	return rampOf(ins, t, 0)
}

func rampOf(ins *market.Instrument, t uint32, ours int64) Ramp {
	var r Ramp
	if ins == nil || ins.Day != market.DayNumber(time.Unix(int64(t), 0)) {
		return r
	}
	if ins.ADV > 0 {
		// Volume early in the day is noisy; expect at least half an hour's worth.
		exp := ins.ADV * max(elapsedMinutes(t), 30) / tradingMinutes
		// The opening auctions clear orders queued for hours, and our own customers' trades are not the
		// market beyond the firm: neither is a ramp.
		v := float64(max(0, ins.DayVolume-ins.AuctionVolume-ours))
		r.VolumeRatio = v / exp
		r.Excess = (v - exp) / ins.ADV
	}
	if ins.PrevDayVolume > 0 {
		r.PrevDayRatio = float64(ins.DayVolume) / float64(ins.PrevDayVolume)
	}
	if ins.PrevClose > 0 && ins.Price > 0 {
		r.Rise = ins.Price/ins.PrevClose - 1
		if ins.DailyMove > 0 {
			r.RiseSigma = math.Log(ins.Price/ins.PrevClose) / max(ins.DailyMove, 0.005)
		}
	}
	return r
}

// significant reports a volume ratio of at least x that is also more than a whole average day's
// volume beyond the expectation: a thin symbol's odd block trade is not a ramp.
func (r Ramp) significant(x float64) bool { return r.VolumeRatio >= x && r.Excess >= 1 }

// Significant reports whether the ramp's volume is at least x times the expectation and beyond it by
// more than an average day's volume.
func (r Ramp) Significant(x float64) bool { return r.significant(x) }

// describe renders a ramp for an alert.
func (r Ramp) describe(at time.Time) string {
	d := fmt.Sprintf("market volume %.0fx an average day's by %s JST, price %+.1f%% on the previous close",
		r.VolumeRatio, at.In(market.JST()).Format("15:04"), 100*r.Rise)
	if r.RiseSigma != 0 {
		d += fmt.Sprintf(" (%.1f times its typical daily move)", r.RiseSigma)
	}
	if r.PrevDayRatio > 0 {
		d += fmt.Sprintf("; %.1fx the whole previous day's volume already", r.PrevDayRatio)
	}
	return d
}

func joinSorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func listAccounts(accts []string, n int) string {
	if len(accts) <= n {
		return strings.Join(accts, ", ")
	}
	return strings.Join(accts[:n], ", ") + fmt.Sprintf(" and %d more", len(accts)-n)
}

// Thin reports whether a symbol trades little enough to be pumped: its average daily value is below
// the configured threshold.
func (l *Layer) Thin(ins *market.Instrument) bool { return l.thin(ins) }
