// Package profile holds what brokerguard knows of each customer account: devices, networks, countries,
// user agents, TLS fingerprints, hours, channels, authentication methods, live sessions, holdings and
// cash, instruments traded, order sizes, margin use, account changes, failed logins and dormancy.
//
// Profiles are kept in memory in Accounts, sharded by account id so that deciding on one account never
// waits on a lock that another account's decision holds. The detect package reads a profile to compute
// signals and then records the event into it; nothing outside one account's shard is reachable from here.
// Where events may arrive out of time order, a profile also keeps a History of its recent events, so that
// a late one can be put at its place.
package profile

import (
	"math"
	"sync"
	"time"
)

// Bounds of the remembered sets; they keep a profile well under a kilobyte.
const (
	MaxDevices      = 8
	MaxASNs         = 8
	MaxPrefixes     = 8
	MaxCountries    = 4
	MaxUAFamilies   = 4
	MaxTLS          = 6
	MaxSessions     = 4
	MaxSymbols      = 32
	MaxDestinations = 8
	MaxFails        = 8
	MaxFlows        = 32
)

// Change fields of a profile_change, as indexes into Profile.Changed.
const (
	ChangeEmail = iota
	ChangePhone
	ChangePassword
	ChangeAddress
	ChangeBankAccount
	ChangeMFA
	ChangeNotifications
	ChangeTradingPIN
	NumChanges
)

var changeNames = [NumChanges]string{"email", "phone", "password", "address", "bank_account", "mfa", "notifications", "trading_pin"}

// ChangeIndex returns the index of a profile_change field name, or -1.
func ChangeIndex(field string) int {
	for i, n := range changeNames {
		if n == field {
			return i
		}
	}
	return -1
}

// ChangeName returns the contract's name of a change index.
func ChangeName(i int) string { return changeNames[i] }

// Method strengths, weakest first; the contract's login methods map onto them.
const (
	MethodUnknown uint8 = iota
	MethodRefresh
	MethodPassword
	MethodOTP
	MethodBiometric
	MethodPasskey
)

// MethodStrength ranks a login method by how well it resists phishing.
func MethodStrength(m string) uint8 {
	switch m {
	case "session_refresh":
		return MethodRefresh
	case "password":
		return MethodPassword
	case "password_otp":
		return MethodOTP
	case "app_biometric":
		return MethodBiometric
	case "passkey":
		return MethodPasskey
	}
	return MethodUnknown
}

// Position is one holding.
type Position struct {
	Symbol string
	Qty    int64
	Cost   float64 // average acquisition price per share
	Since  uint32  // when the position was opened (0: before the data)
	// LastBuy is the time of the last buy into the position (0: none seen); BuyDays counts the JST days
	// with buys into it, a holding from before the data counting as one.
	LastBuy uint32
	BuyDays uint16
}

// Flow is a timed amount: a sell or buy order's value.
type Flow struct {
	T     uint32
	Value float64
}

// Session is a live login session as it started.
type Session struct {
	Key        uint64 // hash of the session id
	Device     uint64
	Prefix     uint64
	UA         uint64 // hash of the user-agent family
	TLS        uint64
	Net        uint64 // the network: ASN, or an address block without IP data
	Start      uint32
	Country    [2]byte
	LoginScore uint16
	Verified   bool   // the customer passed a phishing-resistant step-up in this session
	Signals    uint64 // bit set of the login's signals (detect's numbering)
}

// Profile is one account's state. The zero value is an account brokerguard has not seen yet.
type Profile struct {
	Snapshot      bool
	Margin        bool // margin trading enabled
	MarginUsed    bool
	Notifications bool
	Locked        bool
	LockedAt      uint32 // when the last fraud report locked the account
	Lifted        uint32 // LockedAt of the last lock an analyst lifted: reports up to then lock no more
	MFA           string
	Opened        uint32 // unix seconds of the opening date, 0 = unknown
	Cash          float64

	Holdings []Position
	Symbols  SeenSet // instruments held or traded

	Devices      SeenSet
	ASNs         SeenSet
	Prefixes     SeenSet
	Countries    SeenSet
	UAFamilies   SeenSet
	TLS          SeenSet
	Destinations SeenSet
	Sessions     []Session

	LoginHours   [24]uint16 // successful logins by hour of day (JST)
	Channels     [4]uint16  // web, app, api, phone
	Methods      [6]uint16  // successful logins by method strength
	Logins       uint32     // successful logins
	Fails        []uint32   // times of recent failed logins
	FirstSeen    uint32
	LastActivity uint32
	LastLogin    uint32
	LastCountry  [2]byte
	LastAlert    uint32
	Changed      [NumChanges]uint32 // last time of each kind of change

	// Order values: running mean and variance of log10(yen) (Welford).
	Orders    uint32
	OrderMean float64
	OrderM2   float64
	OrderMax  float64
	// IlliquidBuys counts the customer's own buys of thinly traded symbols.
	IlliquidBuys uint16

	Sells    []Flow
	SellBase float64 // holdings value before the first sell of the current run of sells

	// History is the account's recent past where events may arrive late (nil elsewhere).
	History *History
}

// Unix converts t to the profile's time unit.
func Unix(t time.Time) uint32 {
	s := t.Unix()
	if s < 0 {
		return 0
	}
	if s > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(s)
}

// Lock locks the account after a fraud report at t, unless an analyst has lifted a lock as late.
func (p *Profile) Lock(t uint32) {
	if t > p.Lifted {
		p.Locked, p.LockedAt = true, t
	}
}

// Lift is an analyst's unlock of the lock a report at lock put on the account: it lifts it, unless a
// later report locked the account again, and with it every report up to that time.
func (p *Profile) Lift(lock uint32) {
	if p.Locked && p.LockedAt <= lock {
		p.Locked = false
	}
	p.Lifted = max(p.Lifted, lock)
}

// AppliedUpTo returns the time (unix nanoseconds) up to which the account's events have been applied:
// its newest kept event, or else the end of the second of its last activity or lock.
func (p *Profile) AppliedUpTo() int64 {
	if p.History != nil && len(p.History.Entries) > 0 {
		return p.History.Newest()
	}
	return int64(max(p.LastActivity, p.LockedAt))*1e9 + 999_999_999
}

// Touch records activity at t.
func (p *Profile) Touch(t uint32) {
	if p.FirstSeen == 0 {
		p.FirstSeen = t
	}
	if t > p.LastActivity {
		p.LastActivity = t
	}
}

// Position returns the holding of symbol, or nil.
func (p *Profile) Position(symbol string) *Position {
	for i := range p.Holdings {
		if p.Holdings[i].Symbol == symbol {
			return &p.Holdings[i]
		}
	}
	return nil
}

// ApplySnapshot replaces the account state with a snapshot's.
func (p *Profile) ApplySnapshot(cash float64, holdings []Position, margin, notifications bool, mfa string, opened uint32) {
	p.Snapshot = true
	p.Cash = cash
	p.Holdings = append(p.Holdings[:0:0], holdings...)
	for i := range p.Holdings {
		p.Holdings[i].BuyDays = 1
	}
	p.Margin, p.Notifications, p.MFA, p.Opened = margin, notifications, mfa, opened
	for _, h := range holdings {
		p.Symbols.Add(Hash(h.Symbol), 0, MaxSymbols)
	}
}

// ApplyExecution moves shares and cash for one execution.
func (p *Profile) ApplyExecution(symbol, side string, qty int64, price, fee float64, t uint32) {
	value := float64(qty) * price
	if side == "buy" {
		pos := p.Position(symbol)
		p.Cash -= value + fee
		if pos == nil {
			p.Holdings = append(p.Holdings, Position{Symbol: symbol, Since: t})
			pos = &p.Holdings[len(p.Holdings)-1]
		}
		if pos.LastBuy == 0 || (int64(pos.LastBuy)+9*3600)/86400 != (int64(t)+9*3600)/86400 {
			pos.BuyDays++
		}
		pos.LastBuy = t
		total := float64(pos.Qty)*pos.Cost + value
		pos.Qty += qty
		if pos.Qty > 0 {
			pos.Cost = total / float64(pos.Qty)
		}
		return
	}
	p.Cash += value - fee
	for i := range p.Holdings {
		if p.Holdings[i].Symbol != symbol {
			continue
		}
		p.Holdings[i].Qty -= qty
		if p.Holdings[i].Qty <= 0 {
			p.Holdings = append(p.Holdings[:i], p.Holdings[i+1:]...)
		}
		return
	}
	// A sell of a position brokerguard never saw (opened before the data, or a short sale): nothing to reduce.
}

// ObserveOrderValue adds one order's yen value to the running order-size statistics.
func (p *Profile) ObserveOrderValue(v float64) {
	if v <= 0 {
		return
	}
	x := math.Log10(v)
	p.Orders++
	d := x - p.OrderMean
	p.OrderMean += d / float64(p.Orders)
	p.OrderM2 += d * (x - p.OrderMean)
	if v > p.OrderMax {
		p.OrderMax = v
	}
}

// OrderStd is the standard deviation of log10 order values (0 with fewer than two orders).
func (p *Profile) OrderStd() float64 {
	if p.Orders < 2 {
		return 0
	}
	return math.Sqrt(p.OrderM2 / float64(p.Orders-1))
}

// AddFlow appends a timed value to flows, forgetting those older than window seconds before t.
func AddFlow(flows []Flow, t uint32, v float64, window uint32) []Flow {
	flows = TrimFlows(flows, t, window)
	if len(flows) == MaxFlows {
		flows = append(flows[:0], flows[1:]...)
	}
	return append(flows, Flow{T: t, Value: v})
}

// TrimFlows drops flows older than window seconds before t.
func TrimFlows(flows []Flow, t uint32, window uint32) []Flow {
	i := 0
	for i < len(flows) && flows[i].T+window < t {
		i++
	}
	if i == 0 {
		return flows
	}
	return append(flows[:0], flows[i:]...)
}

// SumFlows adds the values of flows within window seconds before t.
func SumFlows(flows []Flow, t uint32, window uint32) float64 {
	s := 0.0
	for _, f := range flows {
		if f.T+window >= t {
			s += f.Value
		}
	}
	return s
}

// Session returns the live session with key, or nil.
func (p *Profile) Session(key uint64) *Session {
	for i := range p.Sessions {
		if p.Sessions[i].Key == key {
			return &p.Sessions[i]
		}
	}
	return nil
}

// StartSession records a new session, forgetting the oldest when MaxSessions are live.
func (p *Profile) StartSession(s Session) {
	if old := p.Session(s.Key); old != nil {
		*old = s
		return
	}
	if len(p.Sessions) < MaxSessions {
		p.Sessions = append(p.Sessions, s)
		return
	}
	oldest := 0
	for i := range p.Sessions {
		if p.Sessions[i].Start < p.Sessions[oldest].Start {
			oldest = i
		}
	}
	p.Sessions[oldest] = s
}

// EndSession forgets a session.
func (p *Profile) EndSession(key uint64) {
	for i := range p.Sessions {
		if p.Sessions[i].Key == key {
			p.Sessions = append(p.Sessions[:i], p.Sessions[i+1:]...)
			return
		}
	}
}

// AddFail records a failed login at t.
func (p *Profile) AddFail(t uint32) {
	if len(p.Fails) == MaxFails {
		p.Fails = append(p.Fails[:0], p.Fails[1:]...)
	}
	p.Fails = append(p.Fails, t)
}

// FailsSince counts failed logins at or after t.
func (p *Profile) FailsSince(t uint32) int {
	n := 0
	for _, f := range p.Fails {
		if f >= t {
			n++
		}
	}
	return n
}

// Accounts is the set of all profiles, sharded by account id.
type Accounts struct {
	shards [numShards]shard
}

const numShards = 256

type shard struct {
	mu sync.Mutex
	m  map[string]*Profile
	_  [40]byte // keep shards on separate cache lines
}

// NewAccounts returns an empty set of profiles.
func NewAccounts() *Accounts {
	a := &Accounts{}
	for i := range a.shards {
		a.shards[i].m = make(map[string]*Profile)
	}
	return a
}

// With runs fn on the profile of account, creating it when new, under the account's shard lock only.
// fn must not call back into Accounts.
func (a *Accounts) With(account string, fn func(p *Profile)) {
	s := &a.shards[Hash(account)%numShards]
	s.mu.Lock()
	p := s.m[account]
	if p == nil {
		p = &Profile{Notifications: true}
		s.m[account] = p
	}
	fn(p)
	s.mu.Unlock()
}

// Peek runs fn on a copy-safe view of an existing profile (nil when unknown), under its shard lock.
func (a *Accounts) Peek(account string, fn func(p *Profile)) {
	s := &a.shards[Hash(account)%numShards]
	s.mu.Lock()
	fn(s.m[account])
	s.mu.Unlock()
}

// Len returns the number of profiles.
func (a *Accounts) Len() int {
	n := 0
	for i := range a.shards {
		s := &a.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
