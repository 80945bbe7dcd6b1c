// Package ingest moves events from the outside into the engine and the engine's answers out: it decodes
// and validates, ignores repeated ids, puts slightly late events back in time order, rejects events too
// late or in the future, runs the engine, and hands events, decisions and alerts to the store and to the
// outputs. Replay (files) and Service (the HTTP API) share this path.
package ingest

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/profile"
)

// Summary counts what a run did.
type Summary struct {
	Lines      int64
	Accepted   int64
	ByType     map[string]int64
	Decisions  map[string]int64
	Shadow     map[string]int64
	Alerts     map[string]int64
	Errors     map[string]int64
	Duplicates int64
	Wall       time.Duration
	// FirstErrors keeps the first few error messages, with their line numbers.
	FirstErrors []string
}

func newSummary() Summary {
	return Summary{ByType: map[string]int64{}, Decisions: map[string]int64{}, Shadow: map[string]int64{},
		Alerts: map[string]int64{}, Errors: map[string]int64{}}
}

// EventsPerSecond is the accepted events over wall time.
func (s *Summary) EventsPerSecond() float64 {
	if s.Wall <= 0 {
		return 0
	}
	return float64(s.Lines) / s.Wall.Seconds()
}

// ErrorCount is the number of rejected lines.
func (s *Summary) ErrorCount() int64 {
	var n int64
	for _, v := range s.Errors {
		n += v
	}
	return n
}

// Write prints the summary as a few readable lines.
func (s *Summary) Write(w io.Writer) {
	fmt.Fprintf(w, "events: %d lines, %d accepted, %d duplicates, %d errors in %s (%.0f events/s)\n",
		s.Lines, s.Accepted, s.Duplicates, s.ErrorCount(), s.Wall.Round(time.Millisecond), s.EventsPerSecond())
	fmt.Fprintf(w, "by type: %s\n", counts(s.ByType, nil))
	var dec int64
	for _, v := range s.Decisions {
		dec += v
	}
	order := []string{"allow", "review", "challenge", "hold", "block"}
	fmt.Fprintf(w, "decisions: %d (%s)\n", dec, counts(s.Decisions, order))
	if len(s.Shadow) > 0 {
		fmt.Fprintf(w, "shadow decisions: %s\n", counts(s.Shadow, order))
	}
	fmt.Fprintf(w, "alerts: %s\n", counts(s.Alerts, nil))
	if len(s.Errors) > 0 {
		fmt.Fprintf(w, "errors by code: %s\n", counts(s.Errors, nil))
		for _, e := range s.FirstErrors {
			fmt.Fprintf(w, "  %s\n", e)
		}
		if n := s.ErrorCount(); n > int64(len(s.FirstErrors)) {
			fmt.Fprintf(w, "  … and %d more\n", n-int64(len(s.FirstErrors)))
		}
	}
}

func counts(m map[string]int64, order []string) string {
	if len(m) == 0 && order == nil {
		return "none"
	}
	keys := order
	if keys == nil {
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
	}
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

const maxFirstErrors = 20

func (s *Summary) addError(err error) {
	code := event.CodeOf(err)
	if code == "" {
		code = "other"
	}
	s.Errors[code]++
	if len(s.FirstErrors) < maxFirstErrors {
		s.FirstErrors = append(s.FirstErrors, err.Error())
	}
}

// seenIDs remembers accepted event ids (as 64-bit hashes), sharded so that concurrent requests for
// different events do not wait on each other.
type seenIDs struct {
	shards [64]struct {
		mu sync.Mutex
		m  map[uint64]struct{}
	}
}

func newSeenIDs() *seenIDs {
	s := &seenIDs{}
	for i := range s.shards {
		s.shards[i].m = make(map[uint64]struct{})
	}
	return s
}

// add records id and reports whether it is new.
func (s *seenIDs) add(id string) bool {
	h := profile.Hash(id)
	sh := &s.shards[h%64]
	sh.mu.Lock()
	_, dup := sh.m[h]
	if !dup {
		sh.m[h] = struct{}{}
	}
	sh.mu.Unlock()
	return !dup
}

// remove forgets id (when what was accepted could not be stored).
func (s *seenIDs) remove(id string) {
	h := profile.Hash(id)
	sh := &s.shards[h%64]
	sh.mu.Lock()
	delete(sh.m, h)
	sh.mu.Unlock()
}

// Timing rejects events too far in the past or the future.
type Timing struct {
	// Lateness is how far behind the latest event an event may arrive and still be processed in time order.
	Lateness time.Duration
	// Future is how far ahead of the wall clock an event time may be.
	Future time.Duration
	// Now is the wall clock. It checks Future and times the run (the summary's wall time and rate, the
	// progress calls, the decision latency metric); nil leaves all of that unmeasured. Decisions never
	// read it: they run on the events' own times.
	Now func() time.Time
}

// clock is tm.Now, or a stopped clock when there is none.
func (tm *Timing) clock() func() time.Time {
	if tm.Now == nil {
		return func() time.Time { return time.Time{} }
	}
	return tm.Now
}

func (tm *Timing) checkFuture(ev *event.Event) *event.FieldError {
	if tm.Now == nil || tm.Future <= 0 {
		return nil
	}
	if now := tm.Now(); ev.Time.After(now.Add(tm.Future)) {
		return &event.FieldError{Field: "time", Code: event.CodeInFuture,
			Msg: fmt.Sprintf("%s is more than %s ahead of the clock (%s)", ev.Time.Format(time.RFC3339), tm.Future, now.UTC().Format(time.RFC3339))}
	}
	return nil
}

func tooLate(ev *event.Event, watermark time.Time, lateness time.Duration) *event.FieldError {
	return &event.FieldError{Field: "time", Code: event.CodeTooLate,
		Msg: fmt.Sprintf("%s is more than %s before the latest event (%s); events may be late by at most %s",
			ev.Time.Format(time.RFC3339Nano), lateness, watermark.Format(time.RFC3339Nano), lateness)}
}

func unplaceable(ev *event.Event) *event.FieldError {
	return &event.FieldError{Field: "time", Code: event.CodeTooLate,
		Msg: fmt.Sprintf("%s is before events of account %s that can no longer be put back in time order (over %d of its events, or the lateness, arrived after it)",
			ev.Time.Format(time.RFC3339Nano), ev.Account, profile.MaxHistory)}
}

// reorder holds events for up to the lateness and releases them in time order (ties in arrival order).
// Input that is already in order costs an append and a pop.
type reorder struct {
	lateness time.Duration
	q        []*item
	head     int
	latest   time.Time // the latest event time seen
	released time.Time // the time of the last released event
}

type item struct {
	ev   event.Event
	line int64
	seq  int64
}

// push adds it; the caller has checked it is not too late.
func (r *reorder) push(it *item) {
	if it.ev.Time.After(r.latest) {
		r.latest = it.ev.Time
	}
	q := r.q
	n := len(q)
	if n == r.head || !it.ev.Time.Before(q[n-1].ev.Time) {
		r.q = append(q, it)
		return
	}
	// Out of order: insert after the last event at or before its time.
	i := sort.Search(n-r.head, func(i int) bool { return q[r.head+i].ev.Time.After(it.ev.Time) }) + r.head
	r.q = append(q, nil)
	copy(r.q[i+1:], r.q[i:])
	r.q[i] = it
}

// late reports whether ev arrives after events later than it were already released.
func (r *reorder) late(ev *event.Event) bool {
	return !r.released.IsZero() && ev.Time.Before(r.released)
}

// pop returns the next event that can be released (all when flush), or nil.
func (r *reorder) pop(flush bool) *item {
	if r.head == len(r.q) {
		r.q, r.head = r.q[:0], 0
		return nil
	}
	it := r.q[r.head]
	if !flush && !it.ev.Time.Before(r.latest.Add(-r.lateness)) {
		return nil
	}
	r.q[r.head] = nil
	r.head++
	if r.head > 4096 && r.head*2 > len(r.q) {
		n := copy(r.q, r.q[r.head:])
		r.q, r.head = r.q[:n], 0
	}
	r.released = it.ev.Time
	return it
}
