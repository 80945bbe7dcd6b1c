package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/fault"
	"github.com/brokerguard/brokerguard/internal/store"
)

// ErrStopped is returned by Ingest once the service is shutting down.
var ErrStopped = fault.Kind(fault.ErrUnavailable, "ingest: service stopping")

// Statuses of one event in a request.
const (
	StatusDecided   = "decided"   // accepted, and this is its decision
	StatusAccepted  = "accepted"  // accepted; the contract asks no decision of this type
	StatusDuplicate = "duplicate" // its id was accepted before; the stored decision, if any, is returned
	StatusRejected  = "rejected"  // not accepted; Error says why
)

// Result is the outcome of one event of a request.
type Result struct {
	Index    int
	ID       string
	Status   string
	Decision *event.Decision
	Error    *event.FieldError
}

// ServiceOptions configure a Service.
type ServiceOptions struct {
	Engine        *detect.Engine
	Store         Store
	Timing        Timing
	Metrics       *Metrics
	Log           *slog.Logger
	ShadowVersion string
	// MaxCommit bounds the records merged into one store transaction.
	MaxCommit int
	// CommitDelay is how long the committer waits for more requests to join a transaction once one is
	// waiting (0: commit at once). A short delay trades a little latency for far fewer writes under load.
	CommitDelay time.Duration
	// Limits bound the amounts and quantities of events (zero: the defaults).
	Limits event.Limits
	// MaxInflight bounds the events in flight: from the start of a request's processing until its
	// commit is answered (0: DefaultMaxInflight). A request beyond it gets ErrOverloaded.
	MaxInflight int
	// AdmissionWait is how long a request may wait for room among the events in flight before it gets
	// ErrOverloaded (0: not at all).
	AdmissionWait time.Duration
	// Committed, when set, is called with every batch once it is stored, on the committer's
	// goroutine: it must not block (customer notices are queued from it).
	Committed func(b *store.Batch)
}

// Store is what the service needs of the store: appending what it accepted, reading the log back at
// start, a stored decision of a repeated event, and a health check. store.Store implements it.
type Store interface {
	Append(ctx context.Context, b *store.Batch) error
	ScanEvents(ctx context.Context, after int64, fn func(seq int64, rec store.EventRecord) error) error
	Decision(ctx context.Context, eventID string) (store.StoredDecision, error)
	Ping(ctx context.Context) error
}

// DefaultMaxInflight is the default bound of the events in flight: two of the largest batches.
const DefaultMaxInflight = 2000

// Service ingests events one request at a time, concurrently across requests, and acknowledges them
// only after they are stored: concurrent requests are committed together in one transaction.
type Service struct {
	o    ServiceOptions
	seen *seenIDs
	// latest is the unix nanoseconds of the latest stored event: the lateness watermark. It moves only
	// once a request's events are committed, so that an event that is refused, or whose request fails
	// to be stored, never makes later events too late.
	latest atomic.Int64
	ready  atomic.Bool
	// halted is set once Run stops committing. failed counts failed commits; recovered is the count
	// that the last successful commit or store probe saw: the store is failing while they differ.
	halted            atomic.Bool
	failed, recovered atomic.Uint64
	reqs              chan *commit
	gate              *admission
	// place is held (shared) from an event's lateness check until the engine has placed it, and taken
	// alone to read the latest time from which account histories are forgotten: no event that passed
	// the check then finds its account's history gone.
	place sync.RWMutex

	mu       sync.RWMutex
	stopped  bool
	inflight sync.WaitGroup
}

type commit struct {
	b    *store.Batch
	done chan error
}

// NewService returns a service; call Rebuild, then Run.
func NewService(o ServiceOptions) *Service {
	if o.MaxCommit == 0 {
		o.MaxCommit = 20000
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxInflight <= 0 {
		o.MaxInflight = DefaultMaxInflight
	}
	// Every request waiting for its commit holds at least one unit of admission: no more requests than
	// the bound ever wait for the committer, queued or blocked sending.
	return &Service{o: o, seen: newSeenIDs(), reqs: make(chan *commit, min(o.MaxInflight, 4096)),
		gate: newAdmission(o.MaxInflight, o.AdmissionWait)}
}

// DataTime is the data's clock: the time of the latest event accepted (zero before the first). What
// brokerguard shows or does in the data's terms (a campaign under way, watchlist expiry, an incident's
// opening) runs on it, never on the wall clock.
func (s *Service) DataTime() time.Time {
	if ns := s.latest.Load(); ns != 0 {
		return time.Unix(0, ns).UTC()
	}
	return time.Time{}
}

// Ready reports whether events are taken: the state has been rebuilt, the committer has not stopped,
// and the store is committing (after a failed commit, not until the store answers again; see
// probeStore).
func (s *Service) Ready() bool {
	return s.ready.Load() && !s.halted.Load() && !s.failing()
}

// Full reports whether the events in flight are at their bound: a request now would be refused with
// ErrOverloaded unless room is made within the admission wait.
func (s *Service) Full() bool { return s.gate.full() }

// Inflight returns the events in flight now (a request of more events than the bound counts as the
// bound).
func (s *Service) Inflight() int { return s.gate.inflight() }

func (s *Service) failing() bool { return s.failed.Load() != s.recovered.Load() }

// recover marks the failed commits up to n as behind us.
func (s *Service) recover(n uint64) {
	for {
		cur := s.recovered.Load()
		if n <= cur || s.recovered.CompareAndSwap(cur, n) {
			return
		}
	}
}

// Rebuild restores the engine's state by processing every stored event again, in stored order. Stored
// decisions are not written again.
func (s *Service) Rebuild(ctx context.Context) (int64, error) {
	var n int64
	err := s.o.Store.ScanEvents(ctx, 0, func(seq int64, rec store.EventRecord) error {
		ev, err := event.DecodeStored(rec.Raw)
		if err != nil {
			return fmt.Errorf("stored event %q (seq %d) no longer decodes: %w", rec.ID, seq, err)
		}
		s.seen.add(ev.ID)
		s.advance(ev.Time)
		if s.o.Engine.Process(&ev).Unplaced {
			// Stored in another order than it was placed (two requests of the account committed the
			// other way round): it was accepted, so it is applied on the account's state as it stands.
			s.o.Log.Warn("rebuild: stored event applied out of time order", "id", ev.ID) // no account: personal data
			s.o.Engine.ForgetAccountHistory(ev.Account)
			s.o.Engine.Process(&ev)
		}
		n++
		if n%rebuildForgetEvery == 0 {
			s.forgetHistory() // keep only the histories that the next events may need
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("rebuild: %w", err)
	}
	s.forgetHistory()
	s.ready.Store(true)
	return n, nil
}

func (s *Service) advance(t time.Time) {
	ns := t.UnixNano()
	for {
		cur := s.latest.Load()
		if ns <= cur || s.latest.CompareAndSwap(cur, ns) {
			return
		}
	}
}

// Ingest decodes, checks, decides and stores a request's events and returns one result per event, in
// order. A returned error means nothing of the request was stored: the client should retry it.
func (s *Service) Ingest(ctx context.Context, raws [][]byte) ([]Result, error) {
	s.mu.RLock()
	if s.stopped {
		s.mu.RUnlock()
		return nil, ErrStopped
	}
	s.inflight.Add(1)
	s.mu.RUnlock()
	defer s.inflight.Done()
	units, err := s.gate.acquire(ctx, len(raws))
	if err != nil {
		return nil, err
	}
	defer s.gate.release(units)
	m := s.o.Metrics
	results := make([]Result, len(raws))
	var b store.Batch
	var accepted []string
	var dups []int
	// newest is the latest time of the request's accepted events: its later events are checked against
	// it as against the stored ones, and the watermark moves to it once the request is committed.
	var newest int64
	for i, raw := range raws {
		r := &results[i]
		r.Index = i
		ev, err := s.o.Limits.Decode(raw)
		r.ID = ev.ID
		if err != nil {
			s.reject(r, err.(*event.FieldError))
			continue
		}
		if fe := s.o.Timing.checkFuture(&ev); fe != nil {
			s.reject(r, fe)
			continue
		}
		out, took, fe, dup := s.admit(&ev, newest)
		if fe != nil {
			s.reject(r, fe)
			continue
		}
		if dup {
			r.Status = StatusDuplicate
			if m != nil {
				m.duplicates.Inc()
			}
			dups = append(dups, i)
			continue
		}
		accepted = append(accepted, ev.ID)
		newest = max(newest, ev.Time.UnixNano())
		if m != nil {
			m.latency.Observe(took.Seconds())
			m.events[ev.Type].Inc()
			if out.Late {
				m.late.Inc()
			}
		}
		b.Events = append(b.Events, store.EventRecord{ID: ev.ID, Account: ev.Account, Type: ev.Type.String(), Time: ev.Time, Raw: raw})
		r.Status = StatusAccepted
		if out.Decided {
			d := out.Decision
			r.Status, r.Decision = StatusDecided, &d
			b.Decisions = append(b.Decisions, d)
			if m != nil {
				m.decisions[d.Action].Inc()
			}
			if out.Shadow != nil {
				b.ShadowDecisions = append(b.ShadowDecisions, store.ShadowDecision{RuleSet: s.o.ShadowVersion, Decision: *out.Shadow})
			}
		}
		for _, a := range out.Alerts {
			b.Alerts = append(b.Alerts, a)
			if m != nil {
				if c, ok := m.alerts[a.Kind]; ok {
					c.Inc()
				}
			}
		}
	}
	for _, i := range dups {
		if d, err := s.o.Store.Decision(ctx, results[i].ID); err == nil {
			results[i].Decision = &d.Decision
		}
	}
	if b.Len() == 0 {
		return results, nil
	}
	c := &commit{b: &b, done: make(chan error, 1)}
	select {
	case s.reqs <- c:
	case <-ctx.Done():
		s.forget(accepted)
		return nil, ctx.Err()
	}
	if err := <-c.done; err != nil {
		s.forget(accepted)
		return nil, err
	}
	s.advance(time.Unix(0, newest))
	return results, nil
}

// forgetHistory drops what the engine keeps of each account for events arriving late, once no event
// that late is accepted.
func (s *Service) forgetHistory() {
	s.place.Lock()
	latest := s.latest.Load()
	s.place.Unlock()
	if latest != 0 {
		s.o.Engine.ForgetHistory(time.Unix(0, latest))
	}
}

// admit checks that ev is not too late (against the stored events and newest, the latest of its
// request's events so far) and not a repeat, and has the engine process it. It holds the place lock
// shared from the check until the engine has placed the event (see Service.place): the watermark that
// forgetHistory reads is never ahead of what the check used, since it moves only after a commit, and
// forwards. It returns how long the engine took.
func (s *Service) admit(ev *event.Event, newest int64) (out detect.Outcome, took time.Duration, fe *event.FieldError, dup bool) {
	s.place.RLock()
	defer s.place.RUnlock()
	if latest := max(s.latest.Load(), newest); latest != 0 && s.o.Timing.Lateness >= 0 && ev.Time.UnixNano() < latest-int64(s.o.Timing.Lateness) {
		return out, 0, tooLate(ev, time.Unix(0, latest).In(ev.Time.Location()), s.o.Timing.Lateness), false
	}
	if !s.seen.add(ev.ID) {
		return out, 0, nil, true
	}
	now := s.o.Timing.clock()
	start := now()
	out = s.o.Engine.Process(ev)
	took = now().Sub(start)
	if out.Unplaced {
		s.seen.remove(ev.ID)
		return out, took, unplaceable(ev), false
	}
	return out, took, nil, false
}

func (s *Service) forget(ids []string) {
	for _, id := range ids {
		s.seen.remove(id)
	}
}

func (s *Service) reject(r *Result, fe *event.FieldError) {
	r.Status, r.Error = StatusRejected, fe
	if s.o.Metrics != nil {
		s.o.Metrics.errorCode(fe.Code)
	}
}

// Run lets the engine forget the account histories kept for late events every historyTicks ticks;
// Rebuild does it every rebuildForgetEvery events. After a failed commit, the store is probed every
// tick (see probeStore).
const (
	tick               = time.Second
	historyTicks       = 10
	rebuildForgetEvery = 1 << 16
	maxProbeBackoff    = 32 // ticks
)

// Run commits requests until ctx is done, then refuses new requests and commits those already in.
func (s *Service) Run(ctx context.Context) error {
	// Forgetting histories walks every account: not on the committer's goroutine, which every
	// acknowledgement waits for; nor is probing the store.
	bgDone := make(chan struct{})
	defer func() { <-bgDone }()
	go func() {
		defer close(bgDone)
		t := time.NewTicker(tick)
		defer t.Stop()
		var p probe
		for n := 1; ; n++ {
			select {
			case <-t.C:
				if n%historyTicks == 0 {
					s.forgetHistory()
				}
				s.probeStore(ctx, &p)
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case c := <-s.reqs:
			s.commitGroup(c)
		case <-ctx.Done():
			s.halted.Store(true)
			s.mu.Lock()
			s.stopped = true
			s.mu.Unlock()
			// Requests already inside Ingest still get their answer.
			idle := make(chan struct{})
			go func() { s.inflight.Wait(); close(idle) }()
			for {
				select {
				case c := <-s.reqs:
					s.commitGroup(c)
				case <-idle:
					return nil
				}
			}
		}
	}
}

// commitGroup stores c together with every request already waiting, in one transaction.
func (s *Service) commitGroup(first *commit) {
	group := []*commit{first}
	n := first.b.Len()
	var linger <-chan time.Time
	if s.o.CommitDelay > 0 {
		t := time.NewTimer(s.o.CommitDelay)
		defer t.Stop()
		linger = t.C
	}
gather:
	for n < s.o.MaxCommit {
		select {
		case c := <-s.reqs:
			group = append(group, c)
			n += c.b.Len()
			continue
		default:
		}
		if linger == nil {
			break
		}
		select {
		case c := <-s.reqs:
			group = append(group, c)
			n += c.b.Len()
		case <-linger:
			break gather
		}
	}
	b := first.b
	if len(group) > 1 {
		b = &store.Batch{}
		for _, c := range group {
			b.Events = append(b.Events, c.b.Events...)
			b.Decisions = append(b.Decisions, c.b.Decisions...)
			b.ShadowDecisions = append(b.ShadowDecisions, c.b.ShadowDecisions...)
			b.Alerts = append(b.Alerts, c.b.Alerts...)
		}
	}
	err := s.o.Store.Append(context.Background(), b)
	if err != nil {
		s.o.Log.Error("store append failed", "events", len(b.Events), "err", err)
		s.failed.Add(1)
	} else {
		s.recover(s.failed.Load()) // only this goroutine adds to failed
		if s.o.Committed != nil {
			s.o.Committed(b)
		}
	}
	for _, c := range group {
		c.done <- err
	}
}

// probe is probeStore's state, on Run's background goroutine.
type probe struct {
	failed  uint64 // the failed commits at the last tick
	wait    int    // ticks before the store is asked again
	backoff int    // ticks of the last wait; 0 after a successful commit
}

// probeStore runs every tick. A failed commit makes the service not ready, so that a load balancer
// sends the events elsewhere; but then no request would come to show that the store has recovered. So
// once the store answers a ping again, after a wait that doubles (1 to 32 s) with each failure not
// followed by a successful commit, the service is ready again and the next request tries the store.
func (s *Service) probeStore(ctx context.Context, p *probe) {
	failed := s.failed.Load()
	if !s.failing() {
		if failed == p.failed {
			p.backoff = 0 // commits succeed
		}
		p.failed, p.wait = failed, 0
		return
	}
	if p.wait == 0 || failed != p.failed { // a new failure
		p.backoff = min(max(1, 2*p.backoff), maxProbeBackoff)
		p.wait = p.backoff
		p.failed = failed
	}
	if p.wait--; p.wait > 0 {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, tick)
	err := s.o.Store.Ping(pctx)
	cancel()
	if err != nil {
		p.wait = 1 // ask again at the next tick
		return
	}
	s.o.Log.Info("the store answers again after failed commits: taking events")
	s.recover(failed)
	p.wait = 0
}
