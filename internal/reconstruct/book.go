package reconstruct

import (
	"context"
	"errors"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/money"
)

// Order is one order with its executions, as the event log shows it.
type Order struct {
	ID          string    `json:"order_id"`
	Account     string    `json:"account"`
	EventID     string    `json:"event,omitempty"` // the order event ("" when only executions were seen)
	Time        time.Time `json:"time"`            // the order event's time, else the first execution's
	Symbol      string    `json:"symbol"`
	Side        string    `json:"side"`
	AccountType string    `json:"account_type"` // cash | margin | nisa; "" when the order event is not in the log
	Session     string    `json:"session,omitempty"`
	IP          string    `json:"ip,omitempty"`     // the address the order came from
	Device      string    `json:"device,omitempty"` // the device id it came from
	Fills       []Fill    `json:"executions"`

	filed bool // listed under its incident account
}

// Fill is one execution of an order.
type Fill struct {
	EventID  string    `json:"event"`
	ExecID   string    `json:"exec_id,omitempty"`
	OrderID  string    `json:"order_id"`
	Time     time.Time `json:"time"`
	Symbol   string    `json:"symbol"`
	Side     string    `json:"side"`
	Quantity int64     `json:"quantity"`
	Price    money.Yen `json:"price"`
	Fee      money.Yen `json:"fee"`
}

// Yen returns the execution's value, quantity × price.
func (f *Fill) Yen() money.Yen { return f.Price.MulInt(f.Quantity) }

// Access is one unauthorized access for the regulator's tally: an attacker's successful login, or the
// first use of a session the attacker did not log into (a stolen session, or one whose login is not in
// the data). See Reconstruction.Accesses for how they are found.
type Access struct {
	Session string    `json:"session"`
	EventID string    `json:"event"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"` // AccessLogin or AccessFirstUse
	// Match says why the session is the attacker's: MatchOrder, MatchNamed, MatchAddress or MatchDevice.
	Match string `json:"match,omitempty"`
	// What the firm's edge saw on that event.
	Type   string `json:"type,omitempty"`   // its event type (a login, or the first request)
	Method string `json:"method,omitempty"` // the login method
	IP     string `json:"ip,omitempty"`
	Device string `json:"device,omitempty"`
}

// Access kinds.
const (
	AccessLogin    = "login"
	AccessFirstUse = "first_use"
)

// Why a session is counted as the attacker's (Access.Match).
const (
	MatchOrder   = "order_session" // an unauthorized order was placed in it
	MatchNamed   = "named_session" // the incident names it
	MatchAddress = "address"       // in the incident window, from an address of the attacker's access
	MatchDevice  = "device"        // in the incident window, from a device of the attacker's logins
)

// Price sources of a valuation price.
const (
	SourceQuote     = "quote"
	SourceExecution = "execution"
)

// PricePoint is a valuation price and where it came from.
type PricePoint struct {
	Price   money.Yen `json:"price"`
	Source  string    `json:"source"` // SourceQuote, or SourceExecution when the symbol had no quote
	Time    time.Time `json:"time"`
	EventID string    `json:"event"`
}

// Market is what a valuation needs to know of the market: the last price of a symbol at or before the
// end of a day (JST), and which days are trading days. Book implements it from an event log.
type Market interface {
	PriceAt(symbol string, d Day) (PricePoint, bool)
	TradingDay(d Day) bool
}

var _ Market = (*Book)(nil)

// Stats counts what a pass over the events read.
type Stats struct {
	Lines      int64              // input lines, blank ones included
	Events     int64              // events decoded
	Bad        int64              // lines that are not valid events (skipped)
	Duplicates int64              // repeated event ids among the events kept (ignored)
	Errors     []*event.LineError // the first few bad lines
}

const maxStatErrors = 10

// Book is what one streaming pass over an event log keeps for a set of incidents: the orders and
// executions of the incidents' accounts and of the orders they name (whatever their account), those
// accounts' opening snapshots, sessions and fraud reports, and for every symbol the last quote and the
// last execution of each day. Its memory grows with the incidents' accounts and with symbols × days,
// not with the log.
type Book struct {
	accounts map[string]*accountBook
	orders   map[string]*Order
	quotes   map[string]*series
	trades   map[string]*series
	quoted   map[Day]struct{}
	kept     map[string]struct{}
	cal      Calendar
	stats    Stats
}

type accountBook struct {
	seen     bool
	snapshot *snapshot
	orders   []*Order
	sessions map[string]*sessionBook
	reports  []ReportRef // fraud reports
}

// sessionBook is what the events of one session id of an incident account show.
type sessionBook struct {
	login    eventRef            // the first successful login that opened it (id "" when none)
	first    eventRef            // its first event other than a login
	byIP     map[string]eventRef // its first event other than a login from each address
	byDevice map[string]eventRef // and from each device id
}

func (a *accountBook) session(id string) *sessionBook {
	s := a.sessions[id]
	if s == nil {
		s = &sessionBook{byIP: map[string]eventRef{}, byDevice: map[string]eventRef{}}
		a.sessions[id] = s
	}
	return s
}

type snapshot struct {
	time     time.Time
	holdings map[string]int64
}

type eventRef struct {
	id     string
	time   time.Time
	typ    string
	method string
	ip     string
	device string
}

func refOf(ev *event.Event) eventRef {
	return eventRef{id: ev.ID, time: ev.Time, typ: ev.Type.String(), method: ev.Method, ip: ev.IP, device: ev.Device}
}

func (r eventRef) before(t time.Time) bool { return r.id == "" || t.Before(r.time) }

// Collect reads an event log (JSON Lines, plain or gzip) once and keeps what the incidents need. Bad
// lines are counted and skipped, as in replay. The error is for the run: unreadable input, a cancelled
// context.
func Collect(ctx context.Context, r io.Reader, incs []Claim) (*Book, error) {
	b := NewBook(incs)
	rd, err := event.NewReader(r)
	if err != nil {
		return nil, err
	}
	for {
		line, n, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		var le *event.LineError
		if errors.As(err, &le) {
			b.bad(le)
			continue
		}
		if err != nil {
			return nil, err
		}
		ev, err := event.Decode(line)
		if err != nil {
			var fe *event.FieldError
			errors.As(err, &fe)
			b.bad(&event.LineError{Line: n, ID: ev.ID, Err: fe})
			continue
		}
		if fe := b.add(&ev); fe != nil {
			b.bad(&event.LineError{Line: n, ID: ev.ID, Err: fe})
			continue
		}
		b.stats.Events++
	}
	b.stats.Lines = rd.Line()
	b.Done()
	return b, nil
}

// NewBook returns an empty book for the claims, to be fed stored events one at a time (Add) and
// finished with Done: what Collect does with a log file, a server does with its store.
func NewBook(incs []Claim) *Book {
	b := &Book{
		accounts: map[string]*accountBook{},
		orders:   map[string]*Order{},
		quotes:   map[string]*series{},
		trades:   map[string]*series{},
		quoted:   map[Day]struct{}{},
		kept:     map[string]struct{}{},
	}
	for i := range incs {
		if b.accounts[incs[i].Account] == nil {
			b.accounts[incs[i].Account] = &accountBook{sessions: map[string]*sessionBook{}}
		}
		for _, id := range incs[i].Orders {
			if b.orders[id] == nil {
				b.orders[id] = &Order{ID: id}
			}
		}
	}
	return b
}

// Add keeps what one stored event (its JSON object, as accepted) tells the claims; n numbers it in
// the book's errors. Events must come in the order they were accepted.
func (b *Book) Add(raw []byte, n int64) {
	b.stats.Lines++
	ev, err := event.Decode(raw)
	if err != nil {
		var fe *event.FieldError
		errors.As(err, &fe)
		b.bad(&event.LineError{Line: n, ID: ev.ID, Err: fe})
		return
	}
	if fe := b.add(&ev); fe != nil {
		b.bad(&event.LineError{Line: n, ID: ev.ID, Err: fe})
		return
	}
	b.stats.Events++
}

// Done finishes the book once every event was added: the trading calendar, the fills in order.
func (b *Book) Done() {
	days := make([]Day, 0, len(b.quoted))
	for d := range b.quoted {
		days = append(days, d)
	}
	b.cal = NewCalendar(days)
	for _, o := range b.orders {
		sortFills(o.Fills)
	}
}

func (b *Book) bad(le *event.LineError) {
	b.stats.Bad++
	if len(b.stats.Errors) < maxStatErrors {
		b.stats.Errors = append(b.stats.Errors, le)
	}
}

// Stats returns the counts of the pass.
func (b *Book) Stats() Stats { return b.stats }

// add keeps what the event tells the incidents.
func (b *Book) add(ev *event.Event) *event.FieldError {
	switch ev.Type {
	case event.TypeQuote:
		price, fe := YenField(ev, "price", ev.Price)
		if fe != nil {
			return fe
		}
		day := DayOf(ev.Time)
		b.quoted[day] = struct{}{}
		seriesOf(b.quotes, ev.Symbol).observe(day, ev.Time, ev.ID, price)
		return nil
	case event.TypeExecution:
		price, fe := YenField(ev, "price", ev.Price)
		if fe != nil {
			return fe
		}
		seriesOf(b.trades, ev.Symbol).observe(DayOf(ev.Time), ev.Time, ev.ID, price)
		a := b.accounts[ev.Account]
		o := b.orders[ev.OrderID]
		if a == nil && o == nil {
			return nil
		}
		fee, fe := YenField(ev, "fee", ev.Fee)
		if fe != nil {
			return fe
		}
		if b.repeated(ev) {
			return nil
		}
		o = b.orderOf(ev.OrderID, ev.Account)
		if o.Time.IsZero() || (o.EventID == "" && ev.Time.Before(o.Time)) {
			o.Time = ev.Time
		}
		if o.Symbol == "" {
			o.Symbol, o.Side = ev.Symbol, ev.Side
		}
		o.Fills = append(o.Fills, Fill{EventID: ev.ID, ExecID: ev.ExecID, OrderID: ev.OrderID, Time: ev.Time,
			Symbol: ev.Symbol, Side: ev.Side, Quantity: ev.Quantity, Price: price, Fee: fee})
	case event.TypeOrder:
		if b.accounts[ev.Account] == nil && b.orders[ev.OrderID] == nil {
			return nil
		}
		if b.repeated(ev) {
			return nil
		}
		o := b.orderOf(ev.OrderID, ev.Account)
		if o.EventID != "" {
			return nil // the order id again in another event: the first order event stands
		}
		o.EventID, o.Time, o.Account = ev.ID, ev.Time, ev.Account
		o.Symbol, o.Side, o.AccountType, o.Session = ev.Symbol, ev.Side, ev.AccountType, ev.Session
		o.IP, o.Device = ev.IP, ev.Device
	}
	a := b.accounts[ev.Account]
	if a == nil {
		return nil
	}
	a.seen = true
	switch ev.Type {
	case event.TypeSnapshot:
		if a.snapshot == nil || ev.Time.Before(a.snapshot.time) {
			s := &snapshot{time: ev.Time, holdings: map[string]int64{}}
			for _, h := range ev.Holdings {
				s.holdings[h.Symbol] += h.Quantity
			}
			a.snapshot = s
		}
	case event.TypeLogin:
		if ev.Result == "success" && ev.Session != "" {
			if s := a.session(ev.Session); s.login.before(ev.Time) {
				s.login = refOf(ev)
			}
		}
	case event.TypeFraudReport:
		a.reports = append(a.reports, ReportRef{Event: ev.ID, Time: ev.Time, Channel: ev.Channel, Note: ev.Note})
	}
	if ev.Type != event.TypeLogin && ev.Session != "" {
		s := a.session(ev.Session)
		if s.first.before(ev.Time) {
			s.first = refOf(ev)
		}
		if ev.IP != "" && s.byIP[ev.IP].before(ev.Time) {
			s.byIP[ev.IP] = refOf(ev)
		}
		if ev.Device != "" && s.byDevice[ev.Device].before(ev.Time) {
			s.byDevice[ev.Device] = refOf(ev)
		}
	}
	return nil
}

// repeated reports whether an event to be kept was seen before (the contract: a repeated id is a
// duplicate and is ignored).
func (b *Book) repeated(ev *event.Event) bool {
	if _, ok := b.kept[ev.ID]; ok {
		b.stats.Duplicates++
		return true
	}
	b.kept[ev.ID] = struct{}{}
	return false
}

// orderOf returns the order with the id, creating it, and files it under its account when that is an
// incident account.
func (b *Book) orderOf(id, account string) *Order {
	o := b.orders[id]
	if o == nil {
		o = &Order{ID: id}
		b.orders[id] = o
	}
	if o.Account == "" {
		o.Account = account
	}
	if a := b.accounts[o.Account]; a != nil && !o.filed {
		o.filed = true
		a.orders = append(a.orders, o)
	}
	return o
}

// money reads a price or fee exactly from the event's raw JSON; the decoder has already checked that
// the member is a number ≥ 0. When the raw text cannot be scanned with certainty (a key written with
// escapes or in other letter case), or its literal does not parse to the decoded float, the decoded
// float is used through its shortest decimal form: that is the literal itself whenever the literal has
// at most 15 significant digits, which every price and fee of the contract has.
// YenField reads a yen amount of an event (price, fee, amount) exactly, from its JSON literal.
func YenField(ev *event.Event, key string, decoded float64) (money.Yen, *event.FieldError) {
	lit, found, sure := rawNumber(ev.Raw, key)
	s := string(lit)
	switch {
	case sure && !found && decoded == 0:
		return money.Yen{}, nil // an optional fee left out
	case !sure || !found:
		s = strconv.FormatFloat(decoded, 'f', -1, 64)
	default:
		if f, err := strconv.ParseFloat(s, 64); err != nil || f != decoded {
			s = strconv.FormatFloat(decoded, 'f', -1, 64)
		}
	}
	y, err := money.ParseYen(s)
	if err != nil {
		return money.Yen{}, &event.FieldError{Field: key, Code: event.CodeBadValue, Msg: err.Error()}
	}
	return y, nil
}

func sortFills(fs []Fill) {
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Time.Before(fs[j].Time) })
}

// series holds the last price of each day of one symbol, days ascending.
type series struct {
	days []dayPrice
}

type dayPrice struct {
	day   Day
	time  time.Time
	id    string
	price money.Yen
}

func seriesOf(m map[string]*series, symbol string) *series {
	s := m[symbol]
	if s == nil {
		s = &series{}
		m[symbol] = s
	}
	return s
}

// observe records a price; the latest event of a day wins (the later line on equal times).
func (s *series) observe(day Day, t time.Time, id string, price money.Yen) {
	n := len(s.days)
	i := n
	if n > 0 && s.days[n-1].day >= day {
		i = sort.Search(n, func(k int) bool { return s.days[k].day >= day })
	}
	if i < n && s.days[i].day == day {
		if !t.Before(s.days[i].time) {
			s.days[i] = dayPrice{day: day, time: t, id: id, price: price}
		}
		return
	}
	s.days = append(s.days, dayPrice{})
	copy(s.days[i+1:], s.days[i:])
	s.days[i] = dayPrice{day: day, time: t, id: id, price: price}
}

// at returns the last price at or before the end of day d.
func (s *series) at(d Day) (dayPrice, bool) {
	if s == nil {
		return dayPrice{}, false
	}
	i := sort.Search(len(s.days), func(k int) bool { return s.days[k].day > d })
	if i == 0 {
		return dayPrice{}, false
	}
	return s.days[i-1], true
}

// PriceAt returns the symbol's last quote at or before the end of day d (JST), or, when it has none, its
// last execution price (any account's) at or before then.
func (b *Book) PriceAt(symbol string, d Day) (PricePoint, bool) {
	if p, ok := b.quotes[symbol].at(d); ok {
		return PricePoint{Price: p.price, Source: SourceQuote, Time: p.time, EventID: p.id}, true
	}
	if p, ok := b.trades[symbol].at(d); ok {
		return PricePoint{Price: p.price, Source: SourceExecution, Time: p.time, EventID: p.id}, true
	}
	return PricePoint{}, false
}

// TradingDay reports whether d is a trading day: a weekday, and a day with quotes when it lies within
// the days the log has quotes for (see Calendar).
func (b *Book) TradingDay(d Day) bool { return b.cal.TradingDay(d) }

// ReportRef is a fraud_report of an account.
type ReportRef struct {
	Event   string    `json:"event"`
	Time    time.Time `json:"time"`
	Channel string    `json:"channel,omitempty"`
	Note    string    `json:"note,omitempty"`
}
