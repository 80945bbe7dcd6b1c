package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/brokerguard/brokerguard/internal/fault"
)

// ErrOverloaded is returned by Ingest when the events in flight are at their bound and no room was
// made within the admission wait: nothing of the request was processed, and the client should retry
// it a little later.
var ErrOverloaded = fault.Kind(fault.ErrOverloaded, "ingest: overloaded: too many events in flight")

// admission bounds the events in flight in the service: from the start of a request's processing
// until its commit has been answered. A request takes one unit per event (a request of more events
// than the bound takes the whole bound, so it is admitted only when nothing else is in flight) and
// gives them back when it returns. Under overload the excess is refused at once rather than queued, so
// that the requests admitted keep their latency and the memory held for waiting requests stays bounded.
type admission struct {
	max  int
	wait time.Duration

	mu   sync.Mutex
	used int
	// freed is closed, and replaced, whenever units are given back: the requests waiting for room
	// look again.
	freed chan struct{}
}

func newAdmission(max int, wait time.Duration) *admission {
	return &admission{max: max, wait: wait, freed: make(chan struct{})}
}

// weight is what a request of n events takes.
func (a *admission) weight(n int) int { return max(1, min(n, a.max)) }

// full reports whether no event could be admitted now.
func (a *admission) full() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.used >= a.max
}

// acquire takes room for n events, waiting at most the admission wait for it. It returns the units
// taken, to be given back with release, or ErrOverloaded.
func (a *admission) acquire(ctx context.Context, n int) (int, error) {
	w := a.weight(n)
	var timer *time.Timer
	for {
		a.mu.Lock()
		if a.used+w <= a.max {
			a.used += w
			a.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return w, nil
		}
		freed := a.freed
		a.mu.Unlock()
		if a.wait <= 0 {
			return 0, ErrOverloaded
		}
		if timer == nil {
			timer = time.NewTimer(a.wait)
		}
		select {
		case <-freed:
		case <-timer.C:
			return 0, ErrOverloaded
		case <-ctx.Done():
			timer.Stop()
			return 0, ctx.Err()
		}
	}
}

// release gives back w units.
func (a *admission) release(w int) {
	a.mu.Lock()
	a.used -= w
	if a.wait > 0 {
		close(a.freed)
		a.freed = make(chan struct{})
	}
	a.mu.Unlock()
}

// inflight returns the units taken now.
func (a *admission) inflight() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.used
}
