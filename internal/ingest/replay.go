package ingest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/profile"
	"github.com/brokerguard/brokerguard/internal/store"
)

// Appender is what a replay needs of the store. store.Store implements it.
type Appender interface {
	Append(ctx context.Context, b *store.Batch) error
}

// ReplayOptions configure a replay.
type ReplayOptions struct {
	Engine  *detect.Engine
	Store   Appender // nil: nothing is stored
	Timing  Timing
	Metrics *Metrics // nil: none
	// Decisions, Alerts and Shadow receive JSON Lines; nil writers are skipped.
	Decisions, Alerts, Shadow io.Writer
	// Progress, when set, is called about twice a second with the lines read so far.
	Progress func(lines int64)
	// ShadowVersion names the shadow rule set in stored shadow decisions.
	ShadowVersion string
	// Observe, when set, receives every processed event that Keep wants (all of them when Keep is nil)
	// or that raised an alert, with its outcome, in processing order, on the writer's goroutine once
	// its batch is stored and written. Keep runs on the engine's goroutine, the critical path.
	Observe func(ev *event.Event, out *detect.Outcome)
	Keep    func(ev *event.Event) bool
	// Held, when set, tells which of the ids the store holds from an earlier run: those events are
	// counted as duplicates and not processed again. Only events at or before HeldUntil (the store's
	// latest event) are looked up, a decoded batch at a time, on the decoding goroutines.
	Held      func(ctx context.Context, ids []string) ([]bool, error)
	HeldUntil time.Time
	// Limits bound the amounts and quantities of events (zero: the defaults).
	Limits event.Limits
}

// Replay processes a time-ordered JSON Lines log (plain or gzip) and writes one decision per event that
// needs one, in event-time order. Bad lines are counted and reported in the summary; they never stop the
// run. The returned error is for the run itself: unreadable input, a store or output that fails.
func Replay(ctx context.Context, in io.Reader, o ReplayOptions) (Summary, error) {
	now := o.Timing.clock()
	start := now()
	sum := newSummary()
	rd, err := event.NewReader(in)
	if err != nil {
		return sum, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	inputs := make(chan []decoded, 8)
	readErr := make(chan error, 1)
	go func() { readErr <- decodeLoop(ctx, rd, o.Limits, inputs, o.held()) }()

	outputs := make(chan *outBatch, 4)
	// Written batches come back to be filled again, so that a long replay does not allocate them anew.
	free := make(chan *outBatch, 6)
	writeErr := make(chan error, 1)
	go func() { writeErr <- writeLoop(ctx, o, outputs, free) }()

	p := &replayer{o: o, now: now, sum: &sum, seen: newIDSet(1 << 16), r: reorder{lateness: o.Timing.Lateness}, free: free}
	p.out = p.newOutBatch()
	var lastProgress time.Time
	var runErr error
loop:
	for {
		select {
		case batch, ok := <-inputs:
			if !ok {
				break loop
			}
			for i := range batch {
				p.accept(&batch[i])
			}
			if p.out.n >= outBatchSize {
				if runErr = p.flush(ctx, outputs); runErr != nil {
					break loop
				}
			}
			if t := now(); o.Progress != nil && t.Sub(lastProgress) > 500*time.Millisecond {
				lastProgress = t
				o.Progress(sum.Lines)
			}
		case err := <-writeErr:
			runErr = err
			break loop
		}
	}
	if runErr == nil {
		for it := p.r.pop(true); it != nil; it = p.r.pop(true) {
			p.process(it)
		}
		runErr = p.flush(ctx, outputs)
	}
	close(outputs)
	if runErr != nil {
		cancel()
		<-writeErr
		return sum, runErr
	}
	if err := <-writeErr; err != nil {
		return sum, err
	}
	if err := <-readErr; err != nil {
		return sum, err
	}
	sum.Wall = now().Sub(start)
	if o.Progress != nil {
		o.Progress(sum.Lines)
	}
	return sum, nil
}

// decoded is one input line after decoding.
type decoded struct {
	ev   event.Event
	line int64
	err  error
	held bool // stored by an earlier run (ReplayOptions.Held)
	// idHash is profile.Hash of the event's id, computed on the decoding goroutines.
	idHash uint64
}

// held marks the events of a batch that the store holds already; nil without ReplayOptions.Held.
func (o *ReplayOptions) held() func(ctx context.Context, evs []decoded) error {
	if o.Held == nil {
		return nil
	}
	return func(ctx context.Context, evs []decoded) error {
		var ids []string
		var at []int
		for i := range evs {
			if evs[i].err == nil && !evs[i].ev.Time.After(o.HeldUntil) {
				ids, at = append(ids, evs[i].ev.ID), append(at, i)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		held, err := o.Held(ctx, ids)
		if err != nil {
			return fmt.Errorf("look up stored events: %w", err)
		}
		for k, i := range at {
			evs[i].held = held[k]
		}
		return nil
	}
}

const decodeBatch = 512

// rawBatch is a run of input lines in one arena that no later batch reuses, so that events can be
// stored after the batch is handed on.
type rawBatch struct {
	seq   int64
	lines [][]byte
	nums  []int64
	errs  map[int]error // line errors from the reader, by index
}

type decodedBatch struct {
	seq int64
	evs []decoded
	err error
}

// decodeLoop reads lines in batches and decodes them on every core (marking the events held, when
// held is set); the batches come out in input order.
func decodeLoop(ctx context.Context, rd *event.Reader, lim event.Limits, out chan<- []decoded, held func(context.Context, []decoded) error) error {
	defer close(out)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := max(1, runtime.GOMAXPROCS(0))
	jobs := make(chan *rawBatch, workers)
	results := make(chan decodedBatch, workers*2)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range jobs {
				r := decodedBatch{seq: b.seq, evs: decodeBatchLines(b, lim)}
				if held != nil {
					r.err = held(ctx, r.evs)
				}
				results <- r
			}
		}()
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(jobs)
		readErr <- readBatches(ctx, rd, jobs)
	}()
	go func() { wg.Wait(); close(results) }()

	pending := map[int64][]decoded{}
	next := int64(0)
	for r := range results {
		if r.err != nil {
			cancel()
			for range results {
			}
			<-readErr
			return r.err
		}
		pending[r.seq] = r.evs
		for {
			evs, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			select {
			case out <- evs:
			case <-ctx.Done():
				for range results {
				}
				return ctx.Err()
			}
		}
	}
	return <-readErr
}

func readBatches(ctx context.Context, rd *event.Reader, jobs chan<- *rawBatch) error {
	for seq := int64(0); ; seq++ {
		b := &rawBatch{seq: seq, lines: make([][]byte, 0, decodeBatch), nums: make([]int64, 0, decodeBatch)}
		arena := make([]byte, 0, 256*decodeBatch)
		eof := false
		for len(b.lines) < decodeBatch {
			line, n, err := rd.Next()
			if errors.Is(err, io.EOF) {
				eof = true
				break
			}
			if err != nil {
				var le *event.LineError
				if !errors.As(err, &le) {
					return err
				}
				if b.errs == nil {
					b.errs = map[int]error{}
				}
				b.errs[len(b.lines)] = le
				b.lines = append(b.lines, nil)
				b.nums = append(b.nums, n)
				continue
			}
			if len(arena)+len(line) > cap(arena) {
				arena = make([]byte, 0, max(256*decodeBatch, len(line)))
			}
			off := len(arena)
			arena = append(arena, line...)
			b.lines = append(b.lines, arena[off:len(arena):len(arena)])
			b.nums = append(b.nums, n)
		}
		if len(b.lines) > 0 {
			select {
			case jobs <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if eof {
			return nil
		}
	}
}

func decodeBatchLines(b *rawBatch, lim event.Limits) []decoded {
	out := make([]decoded, len(b.lines))
	for i, raw := range b.lines {
		n := b.nums[i]
		out[i].line = n
		if err := b.errs[i]; err != nil {
			out[i].err = err
			continue
		}
		ev, err := lim.Decode(raw)
		if err != nil {
			fe, _ := err.(*event.FieldError)
			out[i].err = &event.LineError{Line: n, ID: ev.ID, Err: fe}
			continue
		}
		out[i].ev = ev
		out[i].idHash = profile.Hash(ev.ID)
	}
	return out
}

// idSet is the set of the ids a replay has accepted, by their 64-bit hash (as seenIDs), in one
// open-addressing table: the engine's goroutine checks every event against it, and a Go map of millions
// of keys, sharded behind mutexes for the server's concurrent requests, cost it more than a cache miss
// per event.
type idSet struct {
	slots []uint64 // 0: empty; a hash of 0 is kept in zero
	n     int
	zero  bool
}

func newIDSet(size int) *idSet { return &idSet{slots: make([]uint64, size)} }

// add records h and reports whether it is new.
func (s *idSet) add(h uint64) bool {
	if h == 0 {
		had := s.zero
		s.zero = true
		return !had
	}
	if 4*(s.n+1) > 3*len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := mix(h) & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return false
		case 0:
			s.slots[i] = h
			s.n++
			return true
		}
	}
}

func (s *idSet) grow() {
	old := s.slots
	s.slots = make([]uint64, 2*len(old))
	mask := uint64(len(s.slots) - 1)
	for _, h := range old {
		if h == 0 {
			continue
		}
		i := mix(h) & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = h
	}
}

// mix spreads the bits of an FNV hash over the slots.
func mix(z uint64) uint64 {
	z ^= z >> 33
	z *= 0xff51afd7ed558ccd
	z ^= z >> 33
	return z
}

const outBatchSize = 4096

// outBatch is what the writer persists and writes in one go.
type outBatch struct {
	n         int
	decisions []byte
	alerts    []byte
	shadow    []byte
	store     store.Batch
	observed  []observed
}

// observed is an event kept for ReplayOptions.Observe.
type observed struct {
	ev  event.Event
	out detect.Outcome
}

func (p *replayer) newOutBatch() *outBatch {
	select {
	case b := <-p.free:
		return b
	default:
	}
	b := &outBatch{}
	if p.o.Decisions != nil {
		b.decisions = make([]byte, 0, 256*outBatchSize)
	}
	if p.o.Observe != nil {
		b.observed = make([]observed, 0, outBatchSize)
	}
	return b
}

// reset empties a written batch for reuse.
func (b *outBatch) reset() {
	b.n = 0
	b.decisions, b.alerts, b.shadow = b.decisions[:0], b.alerts[:0], b.shadow[:0]
	b.store.Reset()
	clear(b.observed)
	b.observed = b.observed[:0]
}

type replayer struct {
	o    ReplayOptions
	now  func() time.Time
	sum  *Summary
	seen *idSet
	r    reorder
	out  *outBatch
	free chan *outBatch
	seq  int64
}

func (p *replayer) reject(err error) {
	p.sum.addError(err)
	if p.o.Metrics != nil {
		p.o.Metrics.errorCode(event.CodeOf(err))
	}
}

func (p *replayer) accept(d *decoded) {
	p.sum.Lines++
	if d.err != nil {
		p.reject(d.err)
		return
	}
	ev := &d.ev
	if d.held {
		p.sum.Duplicates++
		if p.o.Metrics != nil {
			p.o.Metrics.duplicates.Inc()
		}
		return
	}
	if fe := p.o.Timing.checkFuture(ev); fe != nil {
		p.reject(&event.LineError{Line: d.line, ID: ev.ID, Err: fe})
		return
	}
	if p.r.late(ev) {
		p.reject(&event.LineError{Line: d.line, ID: ev.ID, Err: tooLate(ev, p.r.latest, p.o.Timing.Lateness)})
		return
	}
	if !p.seen.add(d.idHash) {
		p.sum.Duplicates++
		if p.o.Metrics != nil {
			p.o.Metrics.duplicates.Inc()
		}
		return
	}
	p.seq++
	p.r.push(&item{ev: *ev, line: d.line, seq: p.seq})
	for it := p.r.pop(false); it != nil; it = p.r.pop(false) {
		p.process(it)
	}
}

func (p *replayer) process(it *item) {
	ev := &it.ev
	m := p.o.Metrics
	var start time.Time
	if m != nil {
		start = p.now()
	}
	res := p.o.Engine.Process(ev)
	if m != nil {
		m.latency.Observe(p.now().Sub(start).Seconds())
		m.events[ev.Type].Inc()
	}
	p.sum.Accepted++
	p.sum.ByType[ev.Type.String()]++
	out := p.out
	out.n++
	if p.o.Store != nil {
		out.store.Events = append(out.store.Events, store.EventRecord{ID: ev.ID, Account: ev.Account,
			Type: ev.Type.String(), Time: ev.Time, Raw: ev.Raw})
	}
	if res.Decided {
		d := &res.Decision
		p.sum.Decisions[d.Action.String()]++
		if m != nil {
			m.decisions[d.Action].Inc()
		}
		if p.o.Decisions != nil {
			out.decisions = event.AppendDecision(out.decisions, d)
			out.decisions = append(out.decisions, '\n')
		}
		if p.o.Store != nil {
			out.store.Decisions = append(out.store.Decisions, *d)
		}
		if res.Shadow != nil {
			p.sum.Shadow[res.Shadow.Action.String()]++
			if p.o.Shadow != nil {
				out.shadow = event.AppendDecision(out.shadow, res.Shadow)
				out.shadow = append(out.shadow, '\n')
			}
			if p.o.Store != nil {
				out.store.ShadowDecisions = append(out.store.ShadowDecisions, store.ShadowDecision{RuleSet: p.o.ShadowVersion, Decision: *res.Shadow})
			}
		}
	}
	if p.o.Observe != nil && (p.o.Keep == nil || p.o.Keep(ev) || len(res.Alerts) > 0) {
		out.observed = append(out.observed, observed{ev: *ev, out: res})
	}
	for i := range res.Alerts {
		a := &res.Alerts[i]
		p.sum.Alerts[a.Kind]++
		if m != nil {
			if c, ok := m.alerts[a.Kind]; ok {
				c.Inc()
			}
		}
		if p.o.Alerts != nil {
			out.alerts = event.AppendAlert(out.alerts, a)
			out.alerts = append(out.alerts, '\n')
		}
		if p.o.Store != nil {
			out.store.Alerts = append(out.store.Alerts, *a)
		}
	}
}

func (p *replayer) flush(ctx context.Context, outputs chan<- *outBatch) error {
	if p.out.n == 0 && len(p.out.alerts) == 0 {
		return nil
	}
	select {
	case outputs <- p.out:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.out = p.newOutBatch()
	return nil
}

// writeLoop persists each batch, then writes its decisions and alerts: what a file shows is stored.
func writeLoop(ctx context.Context, o ReplayOptions, in <-chan *outBatch, free chan<- *outBatch) error {
	var dw, aw, sw *bufio.Writer
	if o.Decisions != nil {
		dw = bufio.NewWriterSize(o.Decisions, 1<<20)
	}
	if o.Alerts != nil {
		aw = bufio.NewWriterSize(o.Alerts, 1<<16)
	}
	if o.Shadow != nil {
		sw = bufio.NewWriterSize(o.Shadow, 1<<16)
	}
	var failed error
	for b := range in {
		if failed != nil {
			continue // drain so the producer never blocks
		}
		if o.Store != nil && b.store.Len() > 0 {
			if err := o.Store.Append(ctx, &b.store); err != nil {
				failed = fmt.Errorf("store: %w", err)
				continue
			}
		}
		for _, w := range []struct {
			w *bufio.Writer
			b []byte
		}{{dw, b.decisions}, {aw, b.alerts}, {sw, b.shadow}} {
			if w.w != nil && len(w.b) > 0 {
				if _, err := w.w.Write(w.b); err != nil {
					failed = fmt.Errorf("write output: %w", err)
				}
			}
		}
		if o.Observe != nil && failed == nil {
			for i := range b.observed {
				o.Observe(&b.observed[i].ev, &b.observed[i].out)
			}
		}
		b.reset()
		select {
		case free <- b:
		default:
		}
	}
	if failed != nil {
		return failed
	}
	for _, w := range []*bufio.Writer{dw, aw, sw} {
		if w != nil {
			if err := w.Flush(); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
		}
	}
	return nil
}
