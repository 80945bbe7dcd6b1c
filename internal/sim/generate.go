package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// Options adjust a run without editing the scenario.
type Options struct {
	Seed     int64
	Accounts int // 0 = the scenario's
	Days     int // trading days; 0 = the scenario's. Campaigns and waves after the last day are left out.
	// Vary draws the attack, market and surprise parameters from wide ranges, deterministically from
	// the seed (see doc.go); the truth records them as draws. The scenario key vary: true does the same.
	Vary bool
	// Progress, when set, is called about once a simulated minute with the simulated seconds done and
	// in total.
	Progress func(done, total int64)
}

// Stats summarises a run.
type Stats struct {
	Events        int64
	Bytes         int64
	ByType        map[string]int64
	Behaviours    map[string]int64
	Accounts      int
	Instruments   int
	TradingDays   int
	Takeovers     int
	Campaigns     int
	Beneficiaries int
	Start, End    time.Time // first event, end of the data
}

// Event types as written.
type evType uint8

const (
	evInstrument evType = iota
	evQuote
	evSnapshot
	evLogin
	evLogout
	evProfile
	evOrder
	evCancel
	evExecution
	evWithdrawal
	evFraud
	numEvTypes
)

var evNames = [numEvTypes]string{"instrument", "quote", "snapshot", "login", "logout", "profile_change", "order",
	"cancel", "execution", "withdrawal", "fraud_report"}

type task struct {
	t   int64
	seq uint64
	fn  func(t int64)
}

type outRec struct {
	t        int64
	seq      uint64
	off, end int
}

// gen is the state of one run.
type gen struct {
	ctx  context.Context
	sc   *Scenario
	opts Options
	seed int64

	r  *rng // customer behaviour
	rm *rng // market
	rp *rng // population
	ra *rng // attacks
	rv *rng // varied parameters
	rx *rng // habits that only varied runs or the newer surprise keys add

	vary     bool
	cv       map[string]*CampaignDraws // varied campaigns by id
	offices  int
	aggs     []AggregatorDraws
	aggAccts []*account

	nets *netTable
	pool [][]uint32 // carrier-grade NAT address pools by mobile range

	firstDay, lastDay int64
	start, end        int64
	tradingDays       []int64
	trading           map[int64]bool

	insts       []*instrument
	bySymbol    map[string]*instrument
	primes      []*instrument
	smalls      []*instrument
	cheapSmalls []*instrument
	funds       []*instrument

	accts []*account
	byID  map[string]*account

	tasks   []task   // heap of the tasks before the horizon
	buckets [][]task // later tasks by hour since start
	horizon int64
	tseq    uint64
	now     int64

	// output
	w         *bufio.Writer
	arena     []byte
	spare     []byte // the other buffer, swapped with arena at each flush
	recs      []outRec
	tw        timeWriter
	evSeq     uint64
	cur       outRec
	written   int64
	bytes     int64
	byType    [numEvTypes]int64
	nextFlush int64
	werr      error

	orderSeq, execSeq uint64

	truth *Truth
	beh   map[string]int64
	surp  map[string]*SurpriseCount

	uas        map[uaKey]string // User-Agent strings, shared by devices of the same software
	hot        [numHot]int64
	apiTraders int64
	devSlab    []device // devices and positions are allocated in blocks
	posSlab    []position
	ramping    []*instrument // symbols pumped today
	tradingAt  []bool        // by day - firstDay

	// surprises counted per login
	sCookies, sVPN, sIPPhone, sIPPC *SurpriseCount

	// attack planning
	pendingBuy map[*Takeover]int64
	nextCmp    *Campaign // tags the next order as a hijacked buy of the campaign's target
	nextBenef  *Campaign // tags the next order as a beneficiary's trade of the campaign's target
}

// Generate simulates the scenario and writes its events as JSON Lines to events, in time order, and the
// ground truth as one JSON document to truth (which may be nil). Output is identical for the same
// scenario and options.
func Generate(ctx context.Context, sc *Scenario, opts Options, events io.Writer, truth io.Writer) (Stats, error) {
	if sc == nil {
		return Stats{}, errors.New("simulate: no scenario")
	}
	s := *sc
	s.Campaigns = slices.Clone(sc.Campaigns)
	s.StuffingWaves = slices.Clone(sc.StuffingWaves)
	if opts.Accounts > 0 {
		s.Accounts = opts.Accounts
	}
	if opts.Days > 0 {
		s.TradingDays = opts.Days
	}
	if err := s.validate(nil); err != nil {
		return Stats{}, fmt.Errorf("simulate: %w", err)
	}
	g := &gen{
		ctx: ctx, sc: &s, opts: opts, seed: opts.Seed,
		r: newRNG(opts.Seed, 1), rm: newRNG(opts.Seed, 2), rp: newRNG(opts.Seed, 3), ra: newRNG(opts.Seed, 4),
		nets: newNetTable(), bySymbol: map[string]*instrument{}, byID: map[string]*account{},
		trading: map[int64]bool{}, w: bufio.NewWriterSize(events, 1<<20), arena: make([]byte, 0, 8<<20), spare: make([]byte, 0, 8<<20),
		beh: map[string]int64{}, surp: map[string]*SurpriseCount{}, pendingBuy: map[*Takeover]int64{}, uas: map[uaKey]string{},
	}
	g.sCookies, g.sVPN = g.surpriseEntry("cleared_cookies"), g.surpriseEntry("vpn_login")
	g.sIPPhone, g.sIPPC = g.surpriseEntry("session_ip_change"), g.surpriseEntry("session_ip_change_pc")
	g.truth = &Truth{Version: 1, Scenario: s.Name, Seed: opts.Seed, TradingDays: s.TradingDays, Accounts: s.Accounts}
	g.calendar()
	g.rv, g.rx = newRNG(opts.Seed, 5), newRNG(opts.Seed, 6)
	if opts.Vary || s.Vary {
		g.vary = true
		g.drawVariation()
	}
	g.buildMarket()
	g.buildPopulation()
	g.varyPopulation()
	// Nothing planned may happen before the reference data and snapshots: the first ten minutes.
	g.now = g.start + 10*msMinute
	g.planAttacks()
	g.begin()
	if err := g.loop(); err != nil {
		return Stats{}, err
	}
	g.finishTruth()
	if truth != nil {
		enc := json.NewEncoder(truth)
		enc.SetIndent("", " ")
		if err := enc.Encode(g.truth); err != nil {
			return Stats{}, fmt.Errorf("simulate: write truth: %w", err)
		}
	}
	st := Stats{
		Events: g.written, Bytes: g.bytes, ByType: map[string]int64{}, Behaviours: g.truth.Behaviours,
		Accounts: len(g.accts), Instruments: len(g.insts), TradingDays: len(g.tradingDays),
		Takeovers: len(g.truth.Takeovers), Campaigns: len(g.truth.Campaigns), Beneficiaries: len(g.truth.Beneficiaries),
		Start: time.UnixMilli(g.start), End: time.UnixMilli(g.end),
	}
	for i, n := range g.byType {
		st.ByType[evNames[i]] = n
	}
	return st, nil
}

// calendar fixes the days of the run: from the start day to the end of the last trading day.
func (g *gen) calendar() {
	g.firstDay = g.sc.startDay()
	d := g.firstDay
	for len(g.tradingDays) < g.sc.TradingDays {
		if isTradingDay(d) {
			g.tradingDays = append(g.tradingDays, d)
			g.trading[d] = true
		}
		d++
	}
	g.lastDay = g.tradingDays[len(g.tradingDays)-1]
	g.tradingAt = make([]bool, g.lastDay-g.firstDay+1)
	for _, d := range g.tradingDays {
		g.tradingAt[d-g.firstDay] = true
	}
	g.start = dayStart(g.firstDay) + 6*msHour
	g.end = dayStart(g.lastDay + 1)
	g.horizon = g.start
	g.buckets = make([][]task, (g.end-g.start)/msHour+1)
}

func (g *gen) isTrading(day int64) bool {
	if i := day - g.firstDay; i >= 0 && i < int64(len(g.tradingAt)) {
		return g.tradingAt[i]
	}
	return g.trading[day]
}

// inSession reports whether t is in TSE continuous trading.
func (g *gen) inSession(t int64) bool {
	if !g.isTrading(jstDay(t)) {
		return false
	}
	o := timeOfDay(t)
	return (o >= amOpen && o < amClose) || (o >= pmOpen && o < pmClose)
}

// tradingDay returns the day number of the n-th trading day (1-based), extending past the run if needed.
func (g *gen) tradingDay(n int) int64 {
	if n >= 1 && n <= len(g.tradingDays) {
		return g.tradingDays[n-1]
	}
	d := g.tradingDays[0]
	if n < 1 {
		for k := n; k < 1; {
			d--
			if isTradingDay(d) {
				k++
			}
		}
		return d
	}
	d = g.lastDay
	for k := len(g.tradingDays); k < n; {
		d++
		if isTradingDay(d) {
			k++
		}
	}
	return d
}

// begin writes the reference data and the opening snapshots, and queues the days.
func (g *gen) begin() {
	g.now = g.start
	defer func() { g.now = g.start + 10*msMinute }()
	for _, in := range g.insts {
		g.emitInstrument(g.start, in)
	}
	for i, a := range g.accts {
		t := g.start + msSecond + int64(i)/50
		if i%4096 == 0 {
			g.flush(t) // keep the buffer small: fresh memory is costly
		}
		g.emitSnapshot(t, a)
	}
	for d := g.firstDay; d <= g.lastDay; d++ {
		d := d
		t := dayStart(d)
		if d == g.firstDay {
			t = g.start + 10*msMinute
		}
		g.at(t, func(t int64) { g.planDay(t, d) })
		if g.trading[d] {
			g.scheduleMarketDay(d)
		}
	}
	g.nextFlush = g.start
}

// at queues fn to run at time t. Tasks beyond the current hour wait in hourly buckets, so that the
// heap holds only the next hour's tasks.
func (g *gen) at(t int64, fn func(t int64)) {
	if t < g.now {
		t = g.now
	}
	g.tseq++
	if t >= g.horizon {
		if t >= g.end {
			return // after the data: never runs
		}
		h := (t - g.start) / msHour
		g.buckets[h] = append(g.buckets[h], task{t: t, seq: g.tseq, fn: fn})
		return
	}
	g.push(task{t: t, seq: g.tseq, fn: fn})
}

// advance moves the horizon one hour on and the tasks of that hour into the heap. It reports false
// when the data has ended.
func (g *gen) advance() bool {
	if g.horizon >= g.end {
		return false
	}
	h := (g.horizon - g.start) / msHour
	g.horizon += msHour
	for _, tk := range g.buckets[h] {
		g.push(tk)
	}
	g.buckets[h] = nil
	return true
}

func (g *gen) push(tk task) {
	g.tasks = append(g.tasks, tk)
	// sift up
	h := g.tasks
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !taskLess(&h[i], &h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func taskLess(a, b *task) bool {
	if a.t != b.t {
		return a.t < b.t
	}
	return a.seq < b.seq
}

func (g *gen) pop() task {
	h := g.tasks
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = task{}
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && taskLess(&h[r], &h[l]) {
			m = r
		}
		if !taskLess(&h[m], &h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	g.tasks = h
	return top
}

func (g *gen) loop() error {
	total := (g.end - g.start) / msSecond
	for {
		for len(g.tasks) == 0 || g.tasks[0].t >= g.horizon {
			if !g.advance() {
				break
			}
		}
		if len(g.tasks) == 0 {
			break
		}
		tk := g.pop()
		if tk.t >= g.end {
			break
		}
		if tk.t >= g.nextFlush {
			if err := g.flush(tk.t); err != nil {
				return err
			}
			if err := g.ctx.Err(); err != nil {
				return err
			}
			if g.opts.Progress != nil {
				g.opts.Progress((tk.t-g.start)/msSecond, total)
			}
			g.nextFlush = tk.t - tk.t%msMinute + msMinute
		}
		g.now = tk.t
		tk.fn(tk.t)
	}
	g.now = g.end
	if err := g.flush(1 << 62); err != nil {
		return err
	}
	if g.opts.Progress != nil {
		g.opts.Progress(total, total)
	}
	if err := g.w.Flush(); err != nil {
		return fmt.Errorf("simulate: write events: %w", err)
	}
	return nil
}

// flush writes, in time order, every buffered event stamped before watermark.
func (g *gen) flush(watermark int64) error {
	if g.werr != nil {
		return g.werr
	}
	recs := g.recs
	if !slices.IsSortedFunc(recs, cmpRec) {
		slices.SortFunc(recs, cmpRec)
	}
	n := 0
	// Records that lie back to back in the arena are written with one call.
	for n < len(recs) && recs[n].t < watermark {
		off, end := recs[n].off, recs[n].end
		n++
		for n < len(recs) && recs[n].t < watermark && recs[n].off == end {
			end = recs[n].end
			n++
		}
		if _, err := g.w.Write(g.arena[off:end]); err != nil {
			g.werr = fmt.Errorf("simulate: write events: %w", err)
			return g.werr
		}
		g.bytes += int64(end - off)
	}
	g.written += int64(n)
	if n == len(recs) {
		g.recs = recs[:0]
		g.arena = g.arena[:0]
		return nil
	}
	// Keep the later events; move their bytes to the front of the arena.
	rest := recs[n:]
	arena := g.spare[:0]
	for i := range rest {
		off := len(arena)
		arena = append(arena, g.arena[rest[i].off:rest[i].end]...)
		rest[i].end = len(arena)
		rest[i].off = off
	}
	g.spare = g.arena[:0]
	g.arena = arena
	g.recs = append(recs[:0], rest...)
	return nil
}

func cmpRec(a, b outRec) int {
	if a.t != b.t {
		if a.t < b.t {
			return -1
		}
		return 1
	}
	if a.seq < b.seq {
		return -1
	}
	if a.seq > b.seq {
		return 1
	}
	return 0
}

// ---- event writing ----

// open starts an event; it returns the event's number (its id is "e" + number).
func (g *gen) open(t int64, typ evType, account string) uint64 {
	if t < g.now {
		t = g.now
	}
	g.evSeq++
	g.cur = outRec{t: t, seq: g.evSeq, off: len(g.arena)}
	b := append(g.arena, `{"id":"e`...)
	b = strconv.AppendUint(b, g.evSeq, 10)
	b = append(b, `","type":"`...)
	b = append(b, evNames[typ]...)
	b = append(b, `","time":"`...)
	b = g.tw.append(b, t)
	b = append(b, '"')
	if account != "" {
		b = append(b, `,"account":"`...)
		b = append(b, account...)
		b = append(b, '"')
	}
	g.arena = b
	g.byType[typ]++
	return g.evSeq
}

func (g *gen) close() {
	g.arena = append(g.arena, '}', '\n')
	g.cur.end = len(g.arena)
	g.recs = append(g.recs, g.cur)
}

// str writes a string field; key is the JSON name. v must not need JSON escaping: every value the
// simulator makes is plain text without quotes, backslashes or control characters (free text goes
// through text).
func (g *gen) str(key, v string) {
	b := append(g.arena, ',', '"')
	b = append(b, key...)
	b = append(b, `":"`...)
	b = append(b, v...)
	g.arena = append(b, '"')
}

// text writes a string field, escaping it as JSON requires.
func (g *gen) text(key, v string) {
	b := append(g.arena, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	g.arena = appendStr(b, v)
}

// optStr writes a string field unless v is empty.
func (g *gen) optStr(key, v string) {
	if v != "" {
		g.str(key, v)
	}
}

func (g *gen) num(key string, v float64) {
	b := append(g.arena, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	g.arena = appendNum(b, v)
}

func (g *gen) int(key string, v int64) {
	b := append(g.arena, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	g.arena = strconv.AppendInt(b, v, 10)
}

func (g *gen) boolean(key string, v bool) {
	b := append(g.arena, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	g.arena = strconv.AppendBool(b, v)
}

func (g *gen) ip(key string, ip uint32) {
	b := append(g.arena, ',', '"')
	b = append(b, key...)
	b = append(b, `":"`...)
	b = appendIP(b, ip)
	g.arena = append(b, '"')
}

func (g *gen) raw(s string) { g.arena = append(g.arena, s...) }

// appendNum writes a number: integers without a fraction, others in the shortest form.
func appendNum(b []byte, v float64) []byte {
	if v == float64(int64(v)) && v < 1e15 && v > -1e15 {
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// appendStr writes a JSON string, escaping only when the value needs it.
func appendStr(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Behaviours counted on every event, kept in an array rather than the map.
type hotCounter uint8

const (
	cLoginSuccess hotCounter = iota
	cLoginBadPassword
	cLoginUnknownAccount
	cLoginMFAFailed
	cLoginLocked
	cOrderBuy
	cOrderSell
	cCancel
	cWithdrawal
	cOrderExpired
	numHot
)

var hotNames = [numHot]string{"login.success", "login.failure.bad_password", "login.failure.unknown_account",
	"login.failure.mfa_failed", "login.failure.locked", "order.buy", "order.sell", "cancel", "withdrawal", "order.expired"}

func loginFailureCounter(f string) hotCounter {
	switch f {
	case "bad_password":
		return cLoginBadPassword
	case "unknown_account":
		return cLoginUnknownAccount
	case "mfa_failed":
		return cLoginMFAFailed
	}
	return cLoginLocked
}

// count adds to a behaviour counter.
func (g *gen) count(name string) { g.beh[name]++ }

func (g *gen) countN(name string, n int64) { g.beh[name] += n }
